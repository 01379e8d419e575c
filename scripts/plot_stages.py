"""Rule plot_stages: the stage box plot and the first-layer line plot of one model."""

import pandas as pd

from multihop.files import read_json
from multihop.report.figures import first_layer_lines, save, stage_boxplot
from multihop.report.stages import studied_for
from multihop.report.tables import chance_medians, first_layer_shares, pooled, stage_rows, studied_counts
from multihop.scripting import by_split, run


def main(snakemake):
    model = read_json(snakemake.input.model)
    stages = by_split(snakemake.input, "stages", pd.read_csv)
    counts = {split: len(table) for split, table in stages.items()}
    name = model["name"]
    out = snakemake.output
    title = f"{name}: layer of each stage"
    never = model["layers"]  # a stage never reached: one row above the last layer
    chance = chance_medians(stages, never)
    figure = stage_boxplot(
        stage_rows(stages, never), counts, model["layers"], title, studied=studied_counts(stages), chance=chance
    )
    save(figure, out.stages, out.stages_pdf)
    # the study pools the splits' cases in this plot (analyses.first_layers: pooled); per_split draws a line each
    lines = pooled(stages) if snakemake.params.first_layers == "pooled" else stages
    shares = first_layer_shares(lines, model["layers"])
    decoded = {label: len(studied_for(table, "first_hop_resolved")) for label, table in lines.items()}  # Patchscopes'
    figure = first_layer_lines(shares, decoded, model["layers"], f"{name}: first layer decoding the entity")
    save(figure, out.first_layers, out.first_layers_pdf)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
