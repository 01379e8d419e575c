"""Rule gather_analysis: the shards of one analysis joined, one part (position, sublayer, target)."""

import pandas as pd

from multihop.io import write_parquet
from multihop.parts import part
from multihop.scripting import run


def main(snakemake):
    analysis = snakemake.wildcards.analysis
    table = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
    table = table.sort_values(["id"], kind="stable").reset_index(drop=True)
    write_parquet(part(analysis, table, snakemake.wildcards.part), snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
