"""Rules render_funnel, render_dataset_stats: a CSV table as a web page for the report."""

import pandas as pd

from multihop.report.pages import write_html_table
from multihop.scripting import run


def main(snakemake):
    write_html_table(pd.read_csv(snakemake.input.table), snakemake.output[0], snakemake.params.title)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
