"""Benchmark: evaluation throughput of the embedded default model, plain batches vs prefix sharing.

    python benchmarks/evaluation_throughput.py [--prompts 256] [--batch-size 64]

Run from the repository root after `make reproduce` (or any run that converted the model).
Prints prompts per second of greedy generation (10 new tokens, the config's demonstration
prefix) on the plain left-padded path and on the prefix-sharing path the workflow uses, their
ratio, whether their generations agree, and the machine.
"""

import argparse
import os
import platform
import time
from pathlib import Path

import torch
import yaml
from comparison import print_comparison  # beside this file

from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.engine.decoding import generate_prompts
from multihop.models.adapter import Adapter
from multihop.models.loading import load

DEFAULT = "bundled:gemma3-270m"

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.chdir(ROOT)
    config = yaml.safe_load(Path("config.yaml").read_text())
    spec = next(m for m in config["models"] if m["source"] == DEFAULT)
    entities, facts = extract_from_dump(config["wikidata"]["dump"], config["entity_types"], list(config["relations"]))
    chains = build_chains(entities, facts, config["relations"])
    texts = [spec["prompt_prefix"] + p for p in sorted(set(chains["first_hop_prompt"]))[: args.prompts]]
    model, tokenizer = load(DEFAULT, "float32", "cpu")
    adapter = Adapter(model)

    timings, outputs = {}, {}
    for name, share in (("plain", False), ("shared prefix", True)):
        start = time.perf_counter()
        outputs[name] = generate_prompts(adapter, tokenizer, texts, 10, args.batch_size, desc=name, share_prefix=share)
        timings[name] = time.perf_counter() - start

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print_comparison(timings, outputs, len(texts), "prompts", f", batch {args.batch_size}")


if __name__ == "__main__":
    main()
