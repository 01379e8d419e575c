"""Rule make_findings: the findings table (the study's claims on this run, and the controls'
verdicts) and the settings where the run and the study differ (choices), of one model."""

import logging

import pandas as pd

from multihop.files import read_json, write_csv
from multihop.report.choices import choices, summary
from multihop.report.controls import compared
from multihop.report.findings import findings
from multihop.report.pages import write_html_table
from multihop.scripting import by_split, run


def main(snakemake):
    model = read_json(snakemake.input.model)
    stages = by_split(snakemake.input, "stages", pd.read_csv)
    used = choices(snakemake.params.config)
    against = compared(
        by_split(snakemake.input, "backpatching", pd.read_parquet),
        by_split(snakemake.input, "controls", pd.read_parquet),
        model["layers"],
        snakemake.params.seed,
    )
    ran = read_json(snakemake.input.runtime)  # the precision the run used: bf16 changes answers
    # cases that share an answer (e3) are resampled together
    studied = by_split(snakemake.input, "studied", pd.read_csv)
    groups = {split: dict(zip(table["id"], table["e3"], strict=True)) for split, table in studied.items()}
    claims = findings(stages, model["layers"], against, groups).assign(settings=summary(used), dtype=ran["dtype"])
    shown = ["claim", "split", "studied", "reached", "groups", "value", "ci_low", "ci_high", "holds"]
    logging.info("findings:\n%s", claims[shown].to_string(index=False))
    tables = {
        "findings": (claims, "the study's claims on this run, and the controls' verdicts"),
        "choices": (used, "settings where the study and this project differ, as this run used them"),
    }
    for name, (table, title) in tables.items():
        write_csv(table, getattr(snakemake.output, name))
        write_html_table(table, getattr(snakemake.output, f"{name}_html"), f"{model['name']}: {title}")


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
