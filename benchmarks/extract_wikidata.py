"""Benchmark: how fast the dump extraction streams a synthetic truthy dump, against bare parsing.

    python benchmarks/extract_wikidata.py [--lines 3000000]

Prints lines per second of (a) parsing every line (`ntriples.read_triples`) and (b) the whole
extraction (`wikidata.extract_from_dump`), their ratio, and the machine that ran them.
"""

import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import yaml

from multihop.dataset.ntriples import read_triples
from multihop.dataset.wikidata import extract_from_dump

ROOT = Path(__file__).resolve().parents[1]
E, P = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ALIAS = "http://www.w3.org/2004/02/skos/core#altLabel"


def write_synthetic_dump(path, lines, classes, relations, seed=0):
    """Items in blocks like the real dump: types, labels in several languages, aliases, statements."""
    rng = random.Random(seed)
    classes, relations = list(classes), list(relations)
    other_props = [f"P{n}" for n in range(2000, 2050)]
    written, qid = 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < lines:
            qid += 1
            s = f"<{E}Q{qid}>"
            block = [f"{s} <{P}P31> <{E}{rng.choice(classes) if rng.random() < 0.5 else 'Q13442814'}> ."]
            block += [f'{s} <{LABEL}> "Item {qid} \\u00E9"@{lang} .' for lang in ("en", "de", "fr", "es")]
            block += [f'{s} <{ALIAS}> "alias {qid}-{k}"@en .' for k in range(rng.randint(0, 3))]
            for _ in range(rng.randint(2, 12)):
                prop = rng.choice(relations) if rng.random() < 0.3 else rng.choice(other_props)
                block.append(f"{s} <{P}{prop}> <{E}Q{rng.randint(1, max(qid, 2))}> .")
            block.append(f"<https://en.wikipedia.org/wiki/Item_{qid}> <http://schema.org/about> {s} .")
            out.write("\n".join(block) + "\n")
            written += len(block)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3_000_000)
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    classes, relations = config["entity_types"], list(config["relations"])
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "synthetic.nt"
        lines = write_synthetic_dump(dump, args.lines, classes, relations)
        size_mb = dump.stat().st_size / 1e6

        start = time.perf_counter()
        parsed = sum(1 for _ in read_triples(dump))
        parse_s = time.perf_counter() - start

        start = time.perf_counter()
        entities, facts = extract_from_dump(dump, classes, relations)
        extract_s = time.perf_counter() - start

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'unknown cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(f"synthetic dump: {lines:,} lines ({size_mb:.0f} MB), {parsed:,} triples")
    print(f"(a) parse only:      {parse_s:6.1f} s  {lines / parse_s:>10,.0f} lines/s")
    print(
        f"(b) full extraction: {extract_s:6.1f} s  {lines / extract_s:>10,.0f} lines/s "
        f"-> {len(entities):,} entities, {len(facts):,} facts"
    )
    print(f"extraction / parse time: {extract_s / parse_s:.2f}x")


if __name__ == "__main__":
    main()
