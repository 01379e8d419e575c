"""Rule summarize_layers: one row per studied case with the layer of each stage of the study."""

import logging

import pandas as pd

from multihop.io import read_table, write_csv
from multihop.layers import case_layers
from multihop.scripting import run


def main(snakemake):
    tables = {
        name: pd.concat([pd.read_parquet(p) for p in snakemake.input[name]], ignore_index=True)
        for name in ("patchscopes", "projection", "knockout", "backpatch")
    }
    positions = read_table(snakemake.input.cases)
    studied = sorted(set(tables["projection"]["id"]))
    layers = case_layers(studied, **tables)
    logging.info("%d studied cases (%d located of %d)", len(layers), (positions["skipped"] == "").sum(), len(positions))
    write_csv(layers, snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
