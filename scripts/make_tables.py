"""Rule make_tables: back-patching, projection and findings tables of one model."""

import logging

import pandas as pd

from multihop.findings import findings
from multihop.io import read_json, write_csv, write_html_table
from multihop.scripting import run
from multihop.tables import backpatching, by_split, projection


def main(snakemake):
    model = read_json(snakemake.input.model)
    layers = by_split(snakemake.input.layers, pd.read_csv)
    claims = findings(layers, model["layers"])
    logging.info("findings:\n%s", claims[["claim", "n", "value", "ci_low", "ci_high", "holds"]].to_string(index=False))
    tables = {
        "backpatching": (backpatching(layers), "back-patching: fixable share of cases"),
        "projection": (projection(by_split(snakemake.input.projection)), "sublayer projection at t2"),
        "findings": (claims, "the study's claims on this run"),
    }
    for name, (table, title) in tables.items():
        write_csv(table, getattr(snakemake.output, name))
        write_html_table(table, getattr(snakemake.output, f"{name}_html"), f"{model['name']}: {title}")


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
