"""Benchmark: the intervention engine's batched path against its reference path (one variant at a time).

    python benchmarks/engine_speed.py [--device cuda] [--layers 18] [--variants 128]

A random-weight Llama-shaped model (no download) is patched at the last prompt position for
(source, target) layer pairs, Patchscopes-style with sampling; both paths must give the same
generations. Prints the time of each, their ratio, whether they agree, and the machine.
"""

import argparse
import platform
import time

import torch
from comparison import print_comparison  # beside this file

from multihop.engine.decoding import generate_variants, reference_generate
from multihop.engine.edits import Patch
from multihop.engine.sampling import variant_seed
from multihop.engine.states import read_states
from multihop.models import tiny
from multihop.models.adapter import Adapter

PROMPT = "the capital of Japan is Tokyo. the author of Hamlet is William Shakespeare. the spouse of the performer of"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--hidden", type=int, default=640)
    parser.add_argument("--variants", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    tokenizer = tiny.tokenizer()
    config = tiny.config("llama", len(tokenizer), args.layers)
    config.hidden_size, config.intermediate_size = args.hidden, 4 * args.hidden
    torch.manual_seed(0)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").to(args.device).eval()
    adapter = Adapter(model)
    ids = tokenizer(PROMPT)["input_ids"]
    states = read_states(adapter, ids)
    last = len(ids) - 1
    pairs = [(s, t) for s in range(args.layers) for t in range(args.layers)][: args.variants]
    variants = [(Patch(t, last, states[s, last]),) for s, t in pairs]
    seeds = [variant_seed(0, f"{s}|{t}") for s, t in pairs]

    timings, outputs = {}, {}
    for name, run in (
        ("reference", lambda: reference_generate(adapter, tokenizer, ids, variants, 10, seeds)),
        ("batched", lambda: generate_variants(adapter, tokenizer, ids, variants, 10, seeds, args.batch_size)),
    ):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        outputs[name] = run()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        timings[name] = time.perf_counter() - start

    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"machine: {device}, torch {torch.__version__}; model: {args.layers} layers, hidden {args.hidden}")
    print_comparison(timings, outputs, len(variants), "variants")


if __name__ == "__main__":
    main()
