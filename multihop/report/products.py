"""Each analysis's figure and table, as the catalog names them (multihop.analyses.catalog): every
one is a function of `Inputs` that returns a matplotlib figure or a table."""

import importlib
from dataclasses import dataclass, field

import pandas as pd

from multihop.report import figures, nulls, tables


@dataclass
class Inputs:
    """What a figure or table is drawn from."""

    tables: dict[str, dict[str, pd.DataFrame]]  # analysis -> split (or any label) -> its rows
    model: str
    layers: int
    settings: dict = field(default_factory=dict)  # the settings its analysis reads
    stages: dict[str, pd.DataFrame] = field(default_factory=dict)  # split -> stages.csv
    groups: dict[str, dict] = field(default_factory=dict)  # split -> {case id: its group (shared e2 or e3)}
    sizes: dict[str, int] = field(default_factory=dict)  # split -> the model's cases in it (cases/{split}.csv)


def make(function: str, inputs: Inputs):
    """The figure or table of a catalog product ("module:name")."""
    module, name = function.split(":")
    return getattr(importlib.import_module(module), name)(inputs)


def patchscopes_figure(inputs: Inputs):
    dedupe = inputs.settings.get("patchscopes_dedupe", True)
    panels = tables.patchscopes_panels(inputs.tables["patchscopes"], inputs.layers, dedupe)
    quantity = "share of generations naming the entity"
    return figures.heatmaps(panels, inputs.layers, f"{inputs.model}: Patchscopes, {quantity}", quantity, stretch=True)


def backpatching_figure(inputs: Inputs):
    panels = tables.backpatching_panels(inputs.tables["backpatching"], inputs.layers)
    quantity = "share of runs answering e3"  # one name, in the title and on the colour bar; a linear scale
    return figures.heatmaps(panels, inputs.layers, f"{inputs.model}: back-patching, {quantity}", quantity)


def projection_figure(inputs: Inputs):
    return figures.projection_lines(
        inputs.tables["projection"], inputs.layers, f"{inputs.model}: sublayer projection at t2"
    )


def knockout_figure(inputs: Inputs):
    title = f"{inputs.model}: attention knockout from t2"
    return figures.knockout_lines(inputs.tables["knockout"], inputs.layers, title)


def controls_figure(inputs: Inputs):
    title = f"{inputs.model}: is back-patching more than chance?"
    return figures.nulls_bars(controls_table(inputs), title)


def forwardpatching_figure(inputs: Inputs):
    panels, marks = {}, {}
    forward = inputs.tables["forwardpatching"]
    for split, back in inputs.tables["backpatching"].items():
        cells = nulls.cell_differences(tables.without_drift(split, back), tables.without_drift(split, forward[split]))
        for position, own in cells.groupby("position"):
            key = (split, f"at {position}")
            panels[key] = tables.rate_grid(own, own["value"], inputs.layers)
            marks[key] = own[own["survives"]][["source_layer", "target_layer"]].itertuples(index=False, name=None)
    title = f"{inputs.model}: back-patching s → t minus forward patching t → s (• q < 0.05, FDR)"
    return figures.heatmaps(
        panels, inputs.layers, title, "difference in share answering e3", marks=marks, difference=True
    )


def backpatching_table(inputs: Inputs) -> pd.DataFrame:
    return tables.backpatching(inputs.stages, inputs.groups)


def projection_table(inputs: Inputs) -> pd.DataFrame:
    return tables.projection(inputs.tables["projection"], inputs.settings.get("projection_mean", "every"))


def controls_table(inputs: Inputs) -> pd.DataFrame:
    """Back-patching against its nulls, and the held-out test (multihop.report.nulls)."""
    by = inputs.tables
    return nulls.compared(
        by["backpatching"],
        by["forwardpatching"],
        by["controls"],
        groups=inputs.groups,
        num_layers=inputs.layers,
        seed=inputs.settings["seed"],
        sizes=inputs.sizes or None,
    )
