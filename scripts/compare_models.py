"""Rule compare_models: every configured model side by side, one figure and one table."""

import pandas as pd

from multihop.files import read_json, write_csv
from multihop.report.comparison import model_rows, relative_stages
from multihop.report.figures import comparison, save
from multihop.report.pages import write_html_table
from multihop.scripting import run


def main(snakemake):
    models, splits = snakemake.params.models, snakemake.params.splits
    stage_files = iter(snakemake.input.stages)  # model by model, split by split
    relative, fixable, rows = [], [], []
    for name, model_file, backpatching_file, controls_file in zip(
        models, snakemake.input.models, snakemake.input.backpatching, snakemake.input.controls, strict=True
    ):
        num_layers = read_json(model_file)["layers"]
        stages = {split: pd.read_csv(next(stage_files)) for split in splits}
        backpatching = pd.read_csv(backpatching_file)
        relative.append(relative_stages(name, stages, num_layers))
        fixable.append(backpatching.assign(model=name))
        rows.append(model_rows(name, stages, num_layers, backpatching, pd.read_csv(controls_file)))
    out = snakemake.output
    table = pd.concat(rows, ignore_index=True)
    write_csv(table, out.table)
    write_html_table(table, out.table_html, "models compared")
    figure = comparison(
        pd.concat(relative, ignore_index=True), pd.concat(fixable, ignore_index=True), "models compared"
    )
    save(figure, out.figure, out.figure_pdf)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
