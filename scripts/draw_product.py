"""Rules plot_{analysis} and table_{analysis}: one analysis's figure or table (its catalog entry
names the function), from the tables of the analyses it reads, split by split."""

import pandas as pd

from multihop.files import read_json, read_table, write_csv
from multihop.report.products import Inputs, make
from multihop.scripting import by_split, groups_by_split, run, split_sizes


def main(snakemake):
    model, params = read_json(snakemake.input.model), snakemake.params
    tables = {name: by_split(snakemake.input, name, pd.read_parquet) for name in params.uses}
    stages = by_split(snakemake.input, "stages", pd.read_csv) if params.stages else {}
    groups, sizes = {}, {}
    if params.groups:  # cases joined by a shared e2 or e3; the model's cases per split (cases/{split}.csv)
        groups = groups_by_split(by_split(snakemake.input, "studied", read_table))
        sizes = split_sizes(snakemake.input.cases)
    inputs = Inputs(
        tables, model["name"], model["layers"], settings=params.settings, stages=stages, groups=groups, sizes=sizes
    )
    made = make(params.function, inputs)
    if params.kind == "figure":
        from multihop.report.figures import save

        save(made, snakemake.output.png, snakemake.output.pdf)
    else:
        from multihop.report.pages import write_html_table

        write_csv(made, snakemake.output.csv)
        write_html_table(made, snakemake.output.html, f"{model['name']}: {params.title}")


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
