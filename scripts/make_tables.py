"""Rule make_tables: back-patching, projection and findings tables of one model."""

import json
import logging

import pandas as pd

from multihop.findings import findings
from multihop.io import write_csv
from multihop.scripting import run
from multihop.tables import backpatching, by_split, projection


def main(snakemake):
    model = json.loads(open(snakemake.input.model).read())
    layers = by_split(snakemake.input.layers, pd.read_csv)
    out = snakemake.output
    write_csv(backpatching(layers), out.backpatching)
    write_csv(projection(by_split(snakemake.input.projection)), out.projection)
    claims = findings(layers, model["layers"])
    logging.info("findings:\n%s", claims[["claim", "n", "value", "ci_low", "ci_high", "holds"]].to_string(index=False))
    write_csv(claims, out.findings)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
