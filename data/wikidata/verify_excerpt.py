"""Check excerpt.nt against a live SPARQL endpoint: labels, study classes and facts it lacks.

    python data/wikidata/verify_excerpt.py [--endpoint https://query.wikidata.org/sparql] [--excerpt FILE]

Prints every difference (an item's English label, a study class the endpoint does not give the
item, a fact the endpoint does not hold) and a count of each. Answers are cached under
resources/sparql like the workflow's, so a rerun asks nothing.
"""

import argparse
from pathlib import Path

import yaml

from multihop.dataset.sparql import SparqlClient, verify_tables
from multihop.dataset.wikidata import extract_from_dump

ROOT = Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="https://query.wikidata.org/sparql")
    parser.add_argument("--excerpt", default=str(ROOT / "data" / "wikidata" / "excerpt.nt"))
    parser.add_argument("--cache", default=str(ROOT / "resources" / "sparql"))
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    entities, facts = extract_from_dump(args.excerpt, config["entity_types"], list(config["relations"]))
    client = SparqlClient(args.endpoint, args.cache)
    found = verify_tables(client, entities, facts, config["entity_types"])
    for kind, rows in found.items():
        for row in rows:
            print(kind, *row, sep="\t")
    print(
        f"checked {len(entities)} items and {len(facts)} facts against {args.endpoint}: "
        + ", ".join(f"{len(rows)} {kind} differences" for kind, rows in found.items())
    )


if __name__ == "__main__":
    main()
