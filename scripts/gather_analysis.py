"""Rule gather_analysis: the shards of one analysis joined, one part (position, sublayer, target)."""

import pandas as pd

from multihop.analyses.catalog import CATALOG
from multihop.files import write_parquet
from multihop.scripting import run


def main(snakemake):
    analysis = CATALOG[snakemake.wildcards.analysis]
    shards = [pd.read_parquet(path) for path in snakemake.input.shards]
    # a shard without cases has untyped columns, which would change the others' types: the
    # gathered file must not depend on how many shards there were
    table = pd.concat([shard for shard in shards if len(shard)] or shards[:1], ignore_index=True)
    table = table.sort_values(["id"], kind="stable").reset_index(drop=True)
    write_parquet(analysis.cut(table, snakemake.wildcards.part, snakemake.params.settings), snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
