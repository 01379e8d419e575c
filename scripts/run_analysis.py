"""Rule analysis_shard: one analysis of the catalog on one shard of a split's studied cases."""

import logging
import time

from multihop.analyses.cases import load_cases
from multihop.analyses.catalog import CATALOG
from multihop.analyses.finished import FinishedCases, fingerprint
from multihop.files import read_json, read_table, write_json, write_parquet
from multihop.models.gpus import job_gpus
from multihop.scripting import batch_size, run


def main(snakemake):
    analysis, count = snakemake.wildcards.analysis, snakemake.params.cases
    located = read_table(snakemake.input.cases)
    located = located[located["order"] < count]
    if located.empty:  # an analysis turned off (0 cases), or more shards than cases: no model needed
        logging.info("%s: no cases in this shard", analysis)
        write_parquet(CATALOG[analysis].empty(), snakemake.output.table)
        write_json({"checked": 0, "identical": 0, "reason": "no cases in this shard"}, snakemake.output.check)
        return
    with job_gpus(snakemake.params.model["device"], snakemake.resources.gpu) as gpus:
        run_shard(snakemake, located, count, gpus)


def run_shard(snakemake, located, cases_per_split, gpus):
    # imported here, not above: torch and transformers take seconds to import, which a shard
    # without cases (many, where shards outnumber cases) need not wait for
    import torch

    from multihop.analyses import runner
    from multihop.engine.selfcheck import SelfCheck
    from multihop.models.adapter import Adapter
    from multihop.models.loading import check_runtime, load, weights_stamp

    torch.set_num_threads(snakemake.threads)
    spec, analysis = snakemake.params.model, snakemake.wildcards.analysis
    # every case of the split that the analysis studies, whichever shard runs it (the controls' donors)
    everyone = read_table(snakemake.input.studied)
    everyone = everyone[everyone["order"] < cases_per_split]
    model, tokenizer = load(spec["source"], spec["dtype"], spec["device"], gpus=gpus)
    ran = check_runtime(model, read_json(snakemake.input.runtime))
    one_character = snakemake.params.one_character  # which names an entity has
    cases = load_cases(tokenizer, located, spec["prompt_prefix"], one_character)
    # the cases it may draw on: the whole split's for analyses that draw on others (None: its own)
    draws = CATALOG[analysis].draws_on_others
    pool = load_cases(tokenizer, everyone, spec["prompt_prefix"], one_character) if draws else None
    logging.info(
        "%s on %d cases with %s as %s on %s, %d threads",
        analysis,
        len(cases),
        spec["name"],
        ran["dtype"],
        model.device,
        snakemake.threads,
    )
    # the cases this shard finishes are kept beside its output until it is written (a rerun
    # resumes); kept only while everything its rows depend on is the same, code by its meaning
    digest = fingerprint(
        analysis=analysis,
        model=spec,
        weights=weights_stamp(spec["source"], model),
        runtime=ran,
        settings=snakemake.params.settings,
        one_character=one_character,  # which names the cases' entities have
        cases=located.to_csv(index=False),
        pool=everyone.to_csv(index=False) if draws else None,
        code=snakemake.params.code,
        # and every other param its rows depend on: its catalog entry, the batch (where it can
        # change outputs), the engine's path and check
        entry=snakemake.params.entry,
        batch=snakemake.params.batch,
        check=snakemake.params.check,
    )
    finished = FinishedCases(f"{snakemake.output.table}.unfinished", digest)
    settings, batch = snakemake.params.settings, batch_size(snakemake)
    # the engine's path and its self-check's sample are params (the check record holds what they
    # decide); warn_below only words a warning
    engine = snakemake.params.check
    seed = f"{engine['seed']}|{analysis}|{located['id'].iloc[0]}"
    check = SelfCheck(engine["self_check"], seed, model, snakemake.config["engine"]["warn_below"])
    start = time.perf_counter()
    adapter = Adapter(model)
    table = runner.run(
        analysis,
        adapter,
        tokenizer,
        cases,
        settings,
        batch_size=batch,
        finished=finished,
        pool=pool,
        path=engine["path"],
        self_check=check,
    )
    write_parquet(table, snakemake.output.table)
    write_json(check.record(start, engine["path"]), snakemake.output.check)
    finished.remove()


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
