"""Rule summarize_stages: one row per studied case with the layer of each stage of the study,
under the run's judge (stages.csv) and under whole-word matching (stages_word.csv)."""

import logging

import pandas as pd

from multihop.analyses.catalog import STAGE_ANALYSES
from multihop.files import read_table, write_csv
from multihop.report.judges import JUDGED, rejudged
from multihop.report.stages import split_stages
from multihop.scripting import run


def main(snakemake):
    tables = {
        name: pd.concat([pd.read_parquet(p) for p in snakemake.input[name]], ignore_index=True)
        for name in STAGE_ANALYSES
    }
    studied = read_table(snakemake.input.studied)
    counts, params = snakemake.params.cases, snakemake.params
    settings = params.settings

    def summarized(tables):
        # beside each case's stages: how early Patchscopes "decodes" another case's names
        return split_stages(studied, counts, tables, settings, params.seed)

    stages = summarized(tables)
    logging.info("%d studied cases (%s)", len(stages), ", ".join(f"{n} {name}" for name, n in counts.items()))
    write_csv(stages, snakemake.output.stages)
    word = {
        name: rejudged(table, studied, "word", settings["one_character"]) if name in JUDGED else table
        for name, table in tables.items()
    }
    write_csv(summarized(word), snakemake.output.stages_word)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
