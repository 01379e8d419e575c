"""Rule gather_analysis: the shards of one analysis joined, one part (position, sublayer, target)."""

import pandas as pd

from multihop.analyses.registry import ANALYSES
from multihop.files import write_parquet
from multihop.scripting import run


def main(snakemake):
    analysis = ANALYSES[snakemake.wildcards.analysis]
    table = pd.concat([pd.read_parquet(path) for path in snakemake.input.shards], ignore_index=True)
    table = table.sort_values(["id"], kind="stable").reset_index(drop=True)
    write_parquet(analysis.cut(table, snakemake.wildcards.part, snakemake.params.settings), snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
