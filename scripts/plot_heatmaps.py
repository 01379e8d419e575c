"""Rule plot_heatmaps: source x target layer heatmaps of Patchscopes and back-patching, one model."""

from functools import partial

import pandas as pd

from multihop.files import read_json
from multihop.report.figures import analysis_figure, save
from multihop.scripting import by_split, run


def main(snakemake):
    model = read_json(snakemake.input.model)
    name, num_layers = model["name"], model["layers"]
    cells = ["position", "source_layer", "target_layer"]  # the generated texts are not needed here
    for analysis, columns in (("patchscopes", ["classification"]), ("backpatching", ["correct", "unedited_correct"])):
        tables = by_split(snakemake.input, analysis, partial(pd.read_parquet, columns=[*cells, *columns]))
        figure = analysis_figure(analysis, tables, num_layers, name)
        save(figure, snakemake.output[analysis], snakemake.output[f"{analysis}_pdf"])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
