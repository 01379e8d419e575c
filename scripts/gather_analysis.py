"""Rule gather_analysis: the shards of one analysis joined, one part (position, sublayer, target)."""

import pandas as pd

from multihop import analyses
from multihop.io import write_parquet
from multihop.scripting import run


def main(snakemake):
    analysis = snakemake.wildcards.analysis
    tables = [pd.read_parquet(path) for path in snakemake.input]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=analyses.COLUMNS[analysis])
    table = table.sort_values(["id"], kind="stable").reset_index(drop=True)
    write_parquet(analyses.part(analysis, table, snakemake.wildcards.part), snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
