"""Rule make_findings: the findings table (the study's claims on this run, and back-patching
against its nulls) and the settings where the run and the study differ (choices), of one model."""

import logging

import pandas as pd

from multihop.analyses.catalog import NULLS_COMPARED
from multihop.files import read_json, read_table, write_csv
from multihop.report.choices import choices, summary
from multihop.report.findings import findings
from multihop.report.judges import rejudged, with_other_judge
from multihop.report.nulls import compared
from multihop.report.pages import write_html_table
from multihop.scripting import by_split, groups_by_split, run, split_sizes


def main(snakemake):
    model = read_json(snakemake.input.model)
    ran = read_json(snakemake.input.runtime)  # the precision the run used: bf16 changes answers
    sizes = split_sizes(snakemake.input.cases)
    used = choices(snakemake.params.config, ran["dtype"], sizes)
    # cases joined by a shared e2 or e3, across both splits, are resampled together
    studied = by_split(snakemake.input, "studied", read_table)
    groups = groups_by_split(studied)
    reading = snakemake.params.config["analyses"]["stage_reading"]
    names = NULLS_COMPARED  # back-patching and its nulls
    parts = {name: by_split(snakemake.input, name, pd.read_parquet) for name in names}

    def claims(stages, parts):
        against = compared(
            *(parts[name] for name in names),
            groups=groups,
            num_layers=model["layers"],
            seed=snakemake.params.seed,
            sizes=sizes,  # the held-out net effect weighs the splits as the model's cases do
        )
        return findings(stages, model["layers"], against, groups, reading=reading)

    one_character = snakemake.params.config["evaluation"]["one_character"]
    run_judge = claims(by_split(snakemake.input, "stages", pd.read_csv), parts)
    # every verdict again under whole-word matching, from the stored generations
    word = {
        name: {split: rejudged(table, studied[split], "word", one_character) for split, table in by.items()}
        for name, by in parts.items()
    }
    both = with_other_judge(run_judge, claims(by_split(snakemake.input, "stages_word", pd.read_csv), word), "word")
    both = both.assign(settings=summary(used), dtype=ran["dtype"])
    shown = ["claim", "split", "studied", "reached", "groups", "value", "ci_low", "ci_high", "holds", "holds_word"]
    logging.info("findings:\n%s", both[shown].to_string(index=False))
    tables = {
        "findings": (both, "the study's claims on this run, and back-patching against its nulls"),
        "choices": (used, "settings where the study and this project differ, as this run used them"),
    }
    # the findings' page opens on what a reader needs; the statistician's columns follow
    readers = ["claim", "split", "statement", "holds", "value", "ci_low", "ci_high", "reached", "studied", "why"]
    for name, (table, title) in tables.items():
        write_csv(table, getattr(snakemake.output, name))
        page = getattr(snakemake.output, f"{name}_html")
        write_html_table(table, page, f"{model['name']}: {title}", first=readers if name == "findings" else None)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
