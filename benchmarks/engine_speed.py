"""Benchmark: the engine on the embedded default model against its reference path and this machine's limit.

    python benchmarks/engine_speed.py [--cases 1] [--prompts 256] [--reference-variants 48] [--device cuda]
                                      [--only patchscopes backpatching knockout projection evaluation]

Run from the repository root; converts the bundled model first if no run has. For evaluation
and each analysis it prints:
- the engine's rate: cases (or prompts) per second, seconds per case (the median case, and the
  fastest and slowest) against the performance issue's target, token steps per second, and
  GFLOPS; the evaluation runs every distinct prompt of the default dataset, as the workflow does
  (sorted by length, batches of 256);
- this machine's matrix-multiply peak, fp32 and bf16, measured just before and just after each
  row's engine run and averaged (on a shared machine it drifts from minute to minute, and every
  time with it);
- how near the engine gets to that limit (see `limit_time`), and the time per case (or the
  rate) at 100% of it: where that misses the target, this work cannot meet it on this machine,
  however well the engine runs it;
- the speedup over the reference path (one transformers `generate` per variant, a full forward
  each), timed on a seeded sample of the same variants, and whether their outputs are identical.

FLOPs are the dense matrix multiplies a plain fp32 forward needs: the layers' linear maps for
every position run, and a full vocabulary projection for every token chosen (attention scores
left out). The engine's head does less (a screen, fp32 for a few tokens): its "dense
GFLOPS" can pass the fp32 peak.
"""

import argparse
import os
import platform
import random
import statistics
import time
from pathlib import Path

import torch
import yaml

from multihop.analyses import runner
from multihop.analyses.cases import load_cases, locate_all
from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.engine import decoding
from multihop.engine.head import exact_head
from multihop.engine.sampling import sampling_settings
from multihop.models import bundled
from multihop.models.adapter import Adapter
from multihop.models.loading import load

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bundled:gemma3-270m"


def synchronized(device):
    """Wait for the device's queued work (a GPU runs asynchronously), then read the clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def peaks(device) -> tuple[float, float]:
    """This machine's matrix-multiply peak now, fp32 and bf16 (GFLOPS)."""
    return peak(torch.float32, FP32_SHAPES, device), peak(torch.bfloat16, BF16_SHAPES, device)


def around(device, sweep):
    """Run `sweep()`; returns its result and the peaks measured just before and after it, averaged
    (a shared machine's speed drifts from minute to minute: the limit is that of the sweep's time)."""
    before = peaks(device)
    result = sweep()
    after = peaks(device)
    return result, tuple((a + b) / 2 for a, b in zip(before, after, strict=True))


def peak(dtype, shapes, device, repeats=3) -> float:
    """Best GFLOPS of `a @ b` over the (m, k, n) shapes, in `dtype` on `device`."""
    best = 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k, device=device).to(dtype), torch.randn(k, n, device=device).to(dtype)
        a @ b
        start = synchronized(device)
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * m * k * n * repeats / (synchronized(device) - start) / 1e9)
    return best


class Counter:
    """Positions through the decoder, and vocabulary projections: rows that get a token while
    decoding (`steps`: the engine's head), and rows through the model's own output layer (`full`:
    full fp32 logits, the projection's)."""

    def __init__(self, model):
        self.positions = self.steps = self.full = 0
        self.vocab = model.get_output_embeddings().weight.shape[0]
        self.handles = [
            model.get_decoder().register_forward_pre_hook(self.count, with_kwargs=True),
            model.get_output_embeddings().register_forward_hook(self.count_head),
        ]

    def count(self, module, args, kwargs):
        ids = args[0] if args else kwargs["input_ids"]
        self.positions += ids.numel()
        if kwargs.get("use_cache"):  # a decoding step (the engine's head is not a module call)
            self.steps += ids.shape[0]

    def count_head(self, module, args, output):
        self.full += output.numel() // self.vocab

    def remove(self):
        for handle in self.handles:
            handle.remove()


def dense_flops(model, positions, steps):
    layers = sum(m.weight.numel() for m in model.get_decoder().layers.modules() if isinstance(m, torch.nn.Linear))
    head = model.get_output_embeddings().weight.numel()
    return 2 * (layers * positions + head * steps)


def limit_time(model, *, positions, steps, full, fp32, bf16):
    """Seconds the same work takes with every multiply at the measured peak of the dtype the
    engine runs it in: the layers and full projections in fp32, the head's screen in its dtype
    (bf16 where this CPU multiplies bf16 faster, `head.screen_dtype`; its exact fp32 part left
    out), else in fp32."""
    head = exact_head(model)
    head = bf16 if head.screened and head.dtype == torch.bfloat16 else fp32
    return dense_flops(model, positions, full) / (fp32 * 1e9) + dense_flops(model, 0, steps) / (head * 1e9)


CASES_TOGETHER = 32  # cases of an analysis that takes cases together (knockout, projection)
ANALYSES = ("patchscopes", "backpatching", "knockout", "projection")
# the default model's layer shapes and a part of its vocabulary projection, at a large batch
FP32_SHAPES = [(512, 640, 2048), (512, 2048, 640), (512, 640, 65536)]
BF16_SHAPES = [(512, 640, 2048), (512, 640, 65536)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", type=int, default=1, help=f"cases per analysis (at least {CASES_TOGETHER} for knockout, projection)"
    )
    parser.add_argument("--prompts", type=int, default=256, help="evaluation prompts compared with the reference")
    parser.add_argument("--reference-variants", type=int, default=48, help="variants the reference path runs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="+", choices=[*ANALYSES, "evaluation"], help="some of the rows (default: all)")
    args = parser.parse_args()
    os.chdir(ROOT)
    if not Path(bundled.bundled_dir(MODEL)).exists():
        bundled.prepare("gemma3-270m", bundled.bundled_dir(MODEL))
    config = yaml.safe_load(Path("config.yaml").read_text())
    prefix = next(m for m in config["models"] if m["source"] == MODEL)["prompt_prefix"]
    settings = {**config["analyses"], "match": config["evaluation"]["match"]}
    model, tokenizer = load(MODEL, "float32", args.device)
    adapter = Adapter(model)

    fp32, bf16 = peaks(model.device)  # the header's; each row measures its own
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    if model.device.type == "cuda":
        machine = torch.cuda.get_device_name(model.device)
    head = exact_head(model)
    print(
        f"machine: {machine}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"matrix-multiply peak at the start: fp32 {fp32:.0f} GFLOPS, bf16 {bf16:.0f} GFLOPS; "
        f"head screen: {str(head.dtype).removeprefix('torch.') if head.screened else 'none (full logits)'}"
    )

    entities, facts = extract_from_dump(config["wikidata"]["dump"], config["entity_types"], list(config["relations"]))
    chains = build_chains(entities, facts, config["relations"])
    rows = chains.sample(max(args.cases, CASES_TOGETHER), random_state=0)
    cases = load_cases(tokenizer, rows.merge(locate_all(tokenizer, rows, prefix), on="id"), prefix)

    print(f"{'':14} {'per second':>16} {'seconds each':>12} {'range':>9} {'target':>9} {'token steps/s':>13} "
          f"{'dense GFLOPS':>12} {'peak fp32/bf16':>14} {'of fp32 peak':>12} {'at limit':>8} {'at 100%':>9} "
          f"{'vs reference':>12} {'identical':>9}")  # fmt: skip
    only = args.only or [*ANALYSES, "evaluation"]
    for name in [a for a in ANALYSES if a in only]:
        report_analysis(
            name, adapter, tokenizer, cases, count=args.cases, settings=settings, sample=args.reference_variants
        )
    if "evaluation" in only:
        report_evaluation(adapter, tokenizer, chains, prefix, args.prompts)


# the performance issue's targets on the 2-core project machine: seconds per case, prompts per second
TARGETS = {"patchscopes": "<= 40 s", "backpatching": "<= 5 s", "evaluation": ">= 40/s"}


def report(label, *, count, unit, seconds, counter, model, limits, speedup="", identical="", each=None):
    """One line: rates over the whole run; with `each` (seconds per case), "seconds each" is the
    median case, beside the fastest and slowest (cases differ in length, the machine in speed).
    `limits`: the fp32 and bf16 peaks around the run (`around`)."""
    fp32, bf16 = limits
    middle, spread = seconds / count, ""
    if each:
        middle, spread = statistics.median(each), f"{min(each):.1f}-{max(each):.1f}" if len(each) > 1 else ""
    flops = dense_flops(model, counter.positions, counter.steps + counter.full)
    limit = limit_time(model, positions=counter.positions, steps=counter.steps, full=counter.full, fp32=fp32, bf16=bf16)
    best = f"{count / limit:.0f}/s" if unit == "prompt" else f"{limit / count:.1f}s"
    print(
        f"{label:14} {count / seconds:9.2f} {unit + '/s':>6} {middle:11.2f}s {spread:>9} "
        f"{TARGETS.get(label, ''):>9} "
        f"{counter.positions / seconds:13.0f} {flops / seconds / 1e9:12.0f} {f'{fp32:.0f}/{bf16:.0f}':>14} "
        f"{flops / seconds / 1e9 / fp32:11.0%} "
        f"{limit / seconds:8.0%} {best:>9} {speedup:>12} {identical:>9}"
    )


def report_analysis(name, adapter, tokenizer, cases, *, count, settings, sample):
    """`count` cases, at least `CASES_TOGETHER` where the analysis takes cases together (then
    "seconds each" is each group's time over its cases)."""
    calls = []  # (ids, variants, seeds, texts) of every generate call, to replay on the reference path
    context = runner.Context(
        adapter, tokenizer, settings, decoding.PrefixCaches(adapter), batch_size=settings["batch_size"]
    )
    engine = context.generate_cases

    def recorded(engine_calls):
        texts = engine(engine_calls)
        calls.extend(
            (ids, variants, seeds, t) for (_, ids, variants, seeds), t in zip(engine_calls, texts, strict=True)
        )
        return texts

    context.generate_cases = recorded
    run_cases, groups = runner.cases_runner(name, context)
    if len(groups(cases)) < len(cases):  # it takes cases together: as many as a job's (the default's 12-60)
        count = max(count, CASES_TOGETHER)
    cases = cases[:count]
    counter = Counter(adapter.model)
    each = []  # seconds per case: this shared machine's speed drifts from minute to minute

    def sweep():
        for group in groups(cases):
            began = synchronized(adapter.model.device)
            run_cases([cases[i] for i in group])
            each.extend([(synchronized(adapter.model.device) - began) / len(group)] * len(group))

    _, limits = around(adapter.model.device, sweep)
    counter.remove()
    measured = dict(count=len(each), unit="case", seconds=sum(each), counter=counter, model=adapter.model)
    if not calls:  # projection: one forward per case, nothing generated
        report(name, **measured, limits=limits, each=each)
        return
    speedup, identical = reference(adapter, tokenizer, settings, calls, sample=sample, engine_seconds=sum(each))
    report(name, **measured, limits=limits, speedup=speedup, identical=identical, each=each)


def reference(adapter, tokenizer, settings, calls, *, sample, engine_seconds):
    """Replay a seeded sample of the recorded variants one by one on the reference path."""
    picks = [(c, i) for c, call in enumerate(calls) for i in range(len(call[1]))]
    picks = random.Random(0).sample(picks, min(sample, len(picks)))
    sampling = sampling_settings(adapter.model.generation_config, settings["sampling"])
    same, start = 0, time.perf_counter()
    for c, i in picks:
        ids, variants, seeds, texts = calls[c]
        seed = None if seeds is None else [seeds[i]]
        text = decoding.reference_generate(
            adapter,
            tokenizer,
            ids,
            [variants[i]],
            max_new_tokens=settings["max_new_tokens"],
            seeds=seed,
            sampling=sampling,
        )[0]
        same += text == texts[i]
    per_variant = (time.perf_counter() - start) / len(picks)
    engine_per_variant = engine_seconds / sum(len(call[1]) for call in calls)
    return f"{per_variant / engine_per_variant:.1f}x", f"{same}/{len(picks)}"


def report_evaluation(adapter, tokenizer, chains, prefix, sample):
    """The evaluation as the workflow runs it: every distinct prompt, sorted by length into batches
    of 256. The speedup and the identity check are taken on a seeded sample of `sample` prompts
    in one batch, run both ways."""
    prompts = [prefix + p for p in sorted(set(chains["first_hop_prompt"]) | set(chains["source_prompt"]))]
    counter = Counter(adapter.model)

    def sweep():
        start = synchronized(adapter.model.device)
        decoding.generate_prompts(
            adapter, tokenizer, prompts, max_new_tokens=10, batch_size=256, desc="engine, all prompts"
        )
        return synchronized(adapter.model.device) - start

    seconds, limits = around(adapter.model.device, sweep)
    counter.remove()
    picked = random.Random(0).sample(prompts, min(sample, len(prompts)))
    outputs, taken = {}, {}
    for way, share in (("reference", False), ("engine", True)):
        start = synchronized(adapter.model.device)
        outputs[way] = decoding.generate_prompts(
            adapter, tokenizer, picked, max_new_tokens=10, batch_size=256, desc=way, share_prefix=share
        )
        taken[way] = synchronized(adapter.model.device) - start
    same = sum(a == b for a, b in zip(outputs["reference"], outputs["engine"], strict=True))
    speedup = f"{taken['reference'] / taken['engine']:.1f}x"
    report(
        "evaluation",
        count=len(prompts),
        unit="prompt",
        seconds=seconds,
        counter=counter,
        model=adapter.model,
        limits=limits,
        speedup=speedup,
        identical=f"{same}/{len(picked)}",
    )
    print(
        f"(evaluation: {len(prompts)} distinct prompts; the sample of {len(picked)} as one batch, "
        f"{len(picked) / taken['engine']:.0f} prompts/s on the engine against left-padded transformers' generate)"
    )


if __name__ == "__main__":
    main()
