"""Rule gather_checks: the engine's self-check of every job of one model in one table."""

import logging
from pathlib import Path

from multihop.files import read_json, write_csv
from multihop.report.checks import check_line, check_table
from multihop.report.pages import write_html_table
from multihop.scripting import run


def main(snakemake):
    model = f"{Path(snakemake.output.table).parents[1]}/"  # results/{run}/{model}/, above tables/
    # a job by its record's path: evaluate, or {split}/{analysis}_{shard}
    records = {
        path.removeprefix(model).removesuffix(".check.json").replace("/shards/", "/"): read_json(path)
        for path in snakemake.input
    }
    table = check_table(records)
    line = check_line(snakemake.wildcards.model, table)
    logging.info(line)
    write_csv(table, snakemake.output.table)
    write_html_table(table, snakemake.output.html, line)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
