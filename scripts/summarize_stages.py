"""Rule summarize_stages: one row per studied case with the layer of each stage of the study."""

import logging

import pandas as pd

from multihop.analyses.catalog import STAGE_ANALYSES
from multihop.files import read_table, write_csv
from multihop.report.stages import case_stages, with_chance_baseline
from multihop.scripting import run


def main(snakemake):
    tables = {
        name: pd.concat([pd.read_parquet(p) for p in snakemake.input[name]], ignore_index=True)
        for name in STAGE_ANALYSES
    }
    studied = read_table(snakemake.input.studied)
    counts = snakemake.params.cases
    stages = case_stages(studied, counts, **tables, propagation=snakemake.params.propagation)
    # beside each case's stages: how early Patchscopes "decodes" another case's names
    stages = with_chance_baseline(stages, studied, tables["patchscopes"], snakemake.params.seed)
    logging.info("%d studied cases (%s)", len(stages), ", ".join(f"{n} {name}" for name, n in counts.items()))
    write_csv(stages, snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
