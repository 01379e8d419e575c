"""Rule plot_heatmaps: source x target layer heatmaps of Patchscopes and back-patching, one model."""

from functools import partial

import pandas as pd

from multihop.analyses.registry import POSITIONS
from multihop.files import read_json
from multihop.report.figures import heatmaps, save
from multihop.report.tables import rate_grid, without_drift
from multihop.scripting import by_split, run

PATCHSCOPES = [("t1", "e2"), ("t2", "e2"), ("t2", "e3")]  # (source position, entity decoded)


def main(snakemake):
    model = read_json(snakemake.input.model)
    name, num_layers = model["name"], model["layers"]
    cells = ["position", "source_layer", "target_layer"]  # the generated texts are not needed here
    patchscopes = by_split(snakemake.input, "patchscopes", partial(pd.read_parquet, columns=[*cells, "classification"]))
    panels = {}
    for split, table in patchscopes.items():
        for position, entity in PATCHSCOPES:
            rows = table[table["position"] == position]
            panels[split, f"{position} → {entity}"] = rate_grid(rows, rows["classification"] == entity, num_layers)
    figure = heatmaps(panels, num_layers, f"{name}: Patchscopes, share of generations naming the entity", "share")
    save(figure, snakemake.output.patchscopes, snakemake.output.patchscopes_pdf)
    backpatching = by_split(
        snakemake.input, "backpatching", partial(pd.read_parquet, columns=[*cells, "correct", "unedited_correct"])
    )
    panels = {}
    for split, table in backpatching.items():
        table = without_drift(split, table)  # the cases the back-patching table counts
        for position in POSITIONS:
            rows = table[table["position"] == position]
            panels[split, f"at {position}"] = rate_grid(rows, rows["correct"], num_layers)
    figure = heatmaps(panels, num_layers, f"{name}: back-patching, share of runs answering e3", "success rate")
    save(figure, snakemake.output.backpatching, snakemake.output.backpatching_pdf)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
