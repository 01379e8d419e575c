"""Rule plot_stages: the stage box plot and the first-layer line plot of one model."""

import pandas as pd

from multihop.figures import first_layer_lines, save, stage_boxplot
from multihop.io import read_json
from multihop.scripting import run
from multihop.tables import by_split, first_layer_shares, stage_layers


def main(snakemake):
    model = read_json(snakemake.input.model)
    layers = by_split(snakemake.input.layers, pd.read_csv)
    counts = {split: len(table) for split, table in layers.items()}
    name = model["name"]
    out = snakemake.output
    figure = stage_boxplot(stage_layers(layers), counts, model["layers"], f"{name}: layer of each stage")
    save(figure, out.stages, out.stages_pdf)
    shares = first_layer_shares(layers, model["layers"])
    figure = first_layer_lines(shares, counts, model["layers"], f"{name}: first layer decoding the entity")
    save(figure, out.first_layers, out.first_layers_pdf)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
