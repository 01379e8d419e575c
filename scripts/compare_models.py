"""Rule compare_models: every configured model side by side, one figure and one table."""

import pandas as pd

from multihop.comparison import model_rows, relative_stages
from multihop.figures import comparison, save
from multihop.io import read_json, write_csv, write_html_table
from multihop.scripting import run
from multihop.tables import by_split


def main(snakemake):
    stages, fixable, rows = [], [], []
    for name, model_file, backpatching_file in zip(
        snakemake.params.models, snakemake.input.models, snakemake.input.backpatching, strict=True
    ):
        num_layers = read_json(model_file)["layers"]
        layers = by_split([p for p in snakemake.input.layers if p.split("/")[1] == name], pd.read_csv)
        backpatching = pd.read_csv(backpatching_file)
        stages.append(relative_stages(name, layers, num_layers))
        fixable.append(backpatching.assign(model=name))
        rows.append(model_rows(name, layers, num_layers, backpatching))
    out = snakemake.output
    table = pd.concat(rows, ignore_index=True)
    write_csv(table, out.table)
    write_html_table(table, out.table_html, "models compared")
    figure = comparison(pd.concat(stages, ignore_index=True), pd.concat(fixable, ignore_index=True), "models compared")
    save(figure, out.figure, out.figure_pdf)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
