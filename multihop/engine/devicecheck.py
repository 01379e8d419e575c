"""The engine against transformers' `generate` on a device: `make gpu-check` on CUDA, and the same
check on the CPU in the test suite (so that it cannot rot where no GPU is at hand).

    python -m multihop.engine.devicecheck [--device cuda] [--families llama gemma3] [--no-benchmark]

For every tiny family (random weights built from a config, no downloads), in float32 and
bfloat16, under eager and SDPA attention, on one device, and spread over two where there are two
GPUs, it compares:
- greedy variants (patches, knockouts, both) from the engine with `generate`, one variant at a time;
- the same variants sampled, one seed each;
- prompts: the evaluation's engine path (shared prefix) with left-padded `generate`;
- the head the device takes (`head.ExactHead`: screened on a CPU in float32, every logit
  elsewhere): its greedy token and its 50 best against the model's own logits.

It prints one table row per model. It exits 1 on an error, or on a difference where the engine
promises identity (`selfcheck.promised`: float32 on a CPU); elsewhere differences are counted, as
in every job's self-check. Then, on CUDA, it runs `benchmarks/engine_speed.py --device cuda` on the
embedded default model (converted first if no run has).
"""

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from multihop.engine.decoding import generate_prompts, generate_variants, reference_generate
from multihop.engine.edits import Knockout, Patch
from multihop.engine.head import BLOCK, exact_head
from multihop.engine.sampling import sampling_settings, variant_seed
from multihop.engine.selfcheck import promised
from multihop.engine.states import read_states
from multihop.models import tiny
from multihop.models.adapter import Adapter

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "the spouse of the performer of Imagine is"
PROMPTS = [
    "the capital of Japan is",
    "the capital of the country of citizenship of John Lennon is",
    "the director of Titanic is",
    "the author of Hamlet is William",
    "the spouse of the performer of Imagine is",
]
NEW_TOKENS = 6


@dataclass
class Row:
    """One model's comparisons: (identical, compared) per check, or the error that stopped it."""

    family: str
    attention: str
    dtype: str
    devices: str
    head: str = ""
    counts: dict = field(default_factory=dict)
    promised: bool = False
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or (self.promised and any(same != of for same, of in self.counts.values()))


CHECKS = ("greedy", "sampled", "prompts", "head")


def variants_of(adapter, ids):
    """Patches of later layers' states into earlier ones, knockouts, and one of each together."""
    states = read_states(adapter, ids)
    last, layers = len(ids) - 1, adapter.num_layers
    variants = [(Patch(t, last, states[s, last]),) for s in range(layers) for t in range(s)]
    variants += [(Knockout((lo, lo + 1), last, (2, 3)),) for lo in range(layers - 1)]
    return variants + [(Patch(0, 3, states[3, 3]), Knockout((1, 2), last, (3, 4)))]


def spread(model, devices):
    """The model's blocks split between the devices in order, as `device_map: sequential` does
    (accelerate's hooks move the activations): the embeddings on the first, the final norm and an
    untied head on the last (a head tied to the embeddings stays with them)."""
    from accelerate import dispatch_model

    adapter = Adapter(model)
    blocks, names = adapter.layers, {id(module): name for name, module in model.named_modules()}
    where = {names[id(block)]: devices[i * len(devices) // len(blocks)] for i, block in enumerate(blocks)}
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    last = [adapter.final_norm] + ([] if tied else [model.get_output_embeddings()])
    where |= {names[id(module)]: devices[-1] for module in last}
    inside = tuple(f"{name}." for name in where)
    for name, module in model.named_modules():
        own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        if own and name not in where and not name.startswith(inside):
            where[name] = devices[0]
    skip = getattr(model, "_skip_keys_device_placement", None)
    return dispatch_model(model, device_map=where, main_device=devices[0], skip_keys=skip, force_hooks=True)


def check_model(family, attention, dtype, devices) -> Row:
    row = Row(family, attention, str(dtype).removeprefix("torch."), " + ".join(devices))
    try:
        tokenizer = tiny.tokenizer()
        model = tiny.model(family, vocab_size=len(tokenizer), attn_implementation=attention).to(dtype)
        model = spread(model, devices) if len(devices) > 1 else model.to(devices[0])
        adapter, ids = Adapter(model), tokenizer(PROMPT)["input_ids"]
        head = exact_head(model)
        row.head = f"screened ({str(head.dtype).removeprefix('torch.')})" if head.screened else "every logit"
        row.promised = promised(model)
        variants = variants_of(adapter, ids)
        engine = generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=NEW_TOKENS, batch_size=8)
        reference = reference_generate(adapter, tokenizer, ids, variants, max_new_tokens=NEW_TOKENS)
        row.counts["greedy"] = _same(engine, reference)
        seeds = [variant_seed(0, str(i)) for i in range(len(variants))]
        sampling = sampling_settings(model.generation_config, {})  # as Patchscopes samples by default
        sampled = dict(max_new_tokens=NEW_TOKENS, seeds=seeds, sampling=sampling)
        engine = generate_variants(adapter, tokenizer, ids, variants, batch_size=8, **sampled)
        reference = reference_generate(adapter, tokenizer, ids, variants, **sampled)
        row.counts["sampled"] = _same(engine, reference)
        prompts = [PROMPT + " and " + p for p in PROMPTS]  # a shared prefix, as the evaluation's
        engine = generate_prompts(
            adapter, tokenizer, prompts, max_new_tokens=NEW_TOKENS, batch_size=4, desc="engine", share_prefix=True
        )
        reference = generate_prompts(
            adapter, tokenizer, prompts, max_new_tokens=NEW_TOKENS, batch_size=4, desc="generate", share_prefix=False
        )
        row.counts["prompts"] = _same(engine, reference)
        row.counts["head"] = _head_agrees(model, head, tokenizer)
    except Exception as error:  # noqa: BLE001 (reported in the table: the check goes on with the next model)
        row.error = f"{type(error).__name__}: {error}".splitlines()[0][:200]
    return row


def _same(engine, reference) -> tuple[int, int]:
    return sum(a == b for a, b in zip(engine, reference, strict=True)), len(reference)


def _head_agrees(model, head, tokenizer) -> tuple[int, int]:
    """Positions (pads left out) whose greedy token and k best (with their logits) the head gives
    as the model's own logits do: k as large as the head still screens for (on a CPU), else 50."""
    batch = tokenizer(PROMPTS, return_tensors="pt", padding=True).to(model.device)
    real = batch["attention_mask"].flatten().bool().to(head.weight.device)
    with torch.inference_mode():  # the head's buffers were made in inference mode
        out = model(**batch, output_hidden_states=True)
        hidden = out.hidden_states[-1].flatten(0, 1).to(head.weight.device)[real]
        logits = out.logits.flatten(0, 1).float().to(head.weight.device)[real]
        k = min(len(head.weight) // BLOCK if head.screened else 50, logits.shape[-1])
        values, tokens = head.candidates(hidden, k)
        best, top = values.topk(k, dim=-1), logits.topk(k, dim=-1)
        greedy = head.argmax(hidden) == logits.argmax(dim=-1)
    chosen = tokens.gather(1, best.indices).sort().values
    same = greedy & (best.values == top.values).all(dim=-1) & (chosen == top.indices.sort().values).all(dim=-1)
    return int(same.sum()), len(same)


def attentions(family):
    """Eager, and SDPA where transformers has it for the family."""
    model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(tiny.config(family, vocab_size=300))]
    return ["eager", "sdpa"] if model_class._supports_sdpa else ["eager"]


def layouts(device: str) -> list[tuple[str, ...]]:
    """One device, and two where there are two GPUs."""
    if device == "cpu":
        return [("cpu",)]
    count = torch.cuda.device_count()
    return [("cuda:0",), ("cuda:0", "cuda:1")] if count > 1 else [("cuda:0",)]


def table(rows) -> str:
    head = f"{'family':8} {'attention':9} {'dtype':8} {'devices':15} {'head':17} "
    head += " ".join(f"{c:>9}" for c in CHECKS) + f" {'promised':>8}  result"
    lines = [head]
    for r in rows:
        counts = " ".join(f"{'{}/{}'.format(*r.counts[c]) if c in r.counts else '-':>9}" for c in CHECKS)
        result = f"error: {r.error}" if r.error else "DIFFERS" if r.failed else "ok"
        lines.append(f"{r.family:8} {r.attention:9} {r.dtype:8} {r.devices:15} {r.head:17} {counts} "
                     f"{'yes' if r.promised else 'no':>8}  {result}")  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--families", nargs="+", default=tiny.FAMILIES, choices=tiny.FAMILIES)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    parser.add_argument("--no-benchmark", action="store_true", help="leave out the default model's benchmark")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        why = "this torch is a CPU build (make gpu-check installs a CUDA one)" if torch.version.cuda is None else (
            "no CUDA device here")  # fmt: skip
        print(f"{why}: run with --device cpu for the same check on the CPU", file=sys.stderr)
        return 2
    start, rows = time.perf_counter(), []
    for devices in layouts(args.device):
        for family in args.families:
            for attention in attentions(family):
                for dtype in args.dtypes:
                    rows.append(check_model(family, attention, getattr(torch, dtype), devices))
                    print(table(rows[-1:]).splitlines()[1], flush=True)
    print(f"\n{table(rows)}\n")
    failed = [r for r in rows if r.failed]
    print(f"{len(rows)} models in {time.perf_counter() - start:.0f} s; " + (
        f"{len(failed)} failed (an error, or a difference where identity is promised)" if failed else
        "no error, and no difference where identity is promised"))  # fmt: skip
    if args.device == "cuda" and not args.no_benchmark:
        benchmark = [sys.executable, str(ROOT / "benchmarks" / "engine_speed.py"), "--device", "cuda"]
        if subprocess.run(benchmark, cwd=ROOT).returncode:
            return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
