"""Rule evaluate: greedy answers of one model to the five prompts of every case, judged."""

import logging
import time

import torch

from multihop.engine.decoding import generate_prompts
from multihop.engine.selfcheck import Sample, SelfCheck
from multihop.evaluation.evaluate import check_prefix, evaluate
from multihop.files import read_table, write_csv, write_json
from multihop.models.adapter import Adapter
from multihop.models.gpus import job_gpus
from multihop.models.loading import load, runtime
from multihop.scripting import batch_size, run


def main(snakemake):
    with job_gpus(snakemake.params.model["device"], snakemake.resources.gpu) as gpus:
        evaluate_model(snakemake, gpus)


def evaluate_model(snakemake, gpus):
    torch.set_num_threads(snakemake.threads)
    spec = snakemake.params.model
    dataset = read_table(snakemake.input.dataset)
    check_prefix(spec["prompt_prefix"], dataset)
    model, tokenizer = load(spec["source"], spec["dtype"], spec["device"], gpus=gpus)
    adapter = Adapter(model)
    ran = runtime(model)
    logging.info("loaded %s as %s on %s, %d threads", spec["source"], ran["dtype"], model.device, snakemake.threads)

    # the engine's path and its self-check are params (they decide what the check record holds);
    # warn_below only words a warning
    engine, n = snakemake.params.check, snakemake.params.max_new_tokens
    fast = engine["path"] == "fast"
    check = SelfCheck(engine["self_check"], "evaluate", model, snakemake.config["engine"]["warn_below"])

    def reference(prompts):  # the sampled prompts, of every stage, as one padded batch
        return generate_prompts(
            adapter,
            tokenizer,
            prompts,
            max_new_tokens=n,
            batch_size=len(prompts),
            desc="self-check",
            share_prefix=False,
        )

    def generate(texts):
        logging.info("%d distinct prompts for %d cases", len(texts), len(dataset))
        size = batch_size(snakemake, spec["name"])
        # the reference path: transformers' generate over padded batches (equal to one at a time, tested)
        out = generate_prompts(
            adapter, tokenizer, texts, max_new_tokens=n, batch_size=size, desc=spec["name"], share_prefix=fast
        )
        check.offer(reference, (Sample(f"prompt {p!r}", text, p) for p, text in zip(texts, out, strict=True)))
        return out

    start = time.perf_counter()
    params = snakemake.params
    table = evaluate(
        dataset,
        generate,
        prefix=spec["prompt_prefix"],
        staged=params.staged,
        match=params.match,
        one_character=params.one_character,
    )
    logging.info("evaluated in %.0f s", time.perf_counter() - start)
    write_json(check.record(start, engine["path"]), snakemake.output.check)
    for column in [c for c in table.columns if c.endswith("_correct")]:
        asked = table[column].notna()
        logging.info("%s: %d of %d asked", column, int(table[column].sum()), int(asked.sum()))
    write_csv(table, snakemake.output.evaluation)
    write_json(ran, snakemake.output.runtime)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
