"""The study's tables and the data behind its figures, from per-split results (light: no torch).

A split's `stages` is its stages.csv: one row per studied case, the layer of each stage."""

import numpy as np
import pandas as pd

from multihop.analyses.catalog import POSITIONS, drawn_stages
from multihop.report.stages import CHANCE, studied_for, with_donor
from multihop.report.stats import clustered_share, group_of

# stages.csv column -> the stage's name in the stage figure, left to right (the catalog's labels and places)
STAGES = drawn_stages()
# stages.csv column -> the first-layer event of the study's line plot
FIRST_LAYERS = {"first_hop_resolved": "e2 decoded from t1", "e3_decoded_t2": "e3 decoded from t2"}
POOLED = "both splits"  # the label of the splits' cases together


def relative_depth(layers, num_layers: int):
    """layer / (layers - 1): 0 = the first block, 1 = the last, so models of any depth compare."""
    return layers / max(num_layers - 1, 1)


def without_drift(split: str, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a split that back-patching results count.

    In the incorrect split a case whose unedited run, in the analyses' batch, already answers
    correctly (numerical drift from the evaluation) is left out: no back-patch is needed to fix it.
    Its `unedited_correct` column says so (per case in stages.csv, per row in the sweep).
    """
    if split != "incorrect":
        return table
    return table[~table["unedited_correct"].astype(bool)]


def studied_counts(stages: dict[str, pd.DataFrame]) -> dict[tuple[str, str], int]:
    """{(stage name, split): cases of the split that the stage's analyses studied}."""
    return {
        (name, split): len(studied_for(table, column))
        for split, table in stages.items()
        for column, name in STAGES.items()
    }


def chance_medians(stages: dict[str, pd.DataFrame], never: int) -> dict[tuple[str, str], float]:
    """{(stage name, split): median layer at which another case's names are "decoded" (never:
    layer `never`)} over the cases with a chance baseline."""
    out = {}
    for split, table in stages.items():
        for column, baseline in CHANCE.items():
            if baseline in table:
                layers = with_donor(studied_for(table, column))[baseline]
                if len(layers):
                    out[(STAGES[column], split)] = float(layers.astype(float).fillna(never).median())
    return out


def stage_rows(stages: dict[str, pd.DataFrame], never: int | None = None) -> pd.DataFrame:
    """Long table [split, id, stage, layer] of every stage a case reaches; a stage never reached
    has no row, or with `never` a row at that layer (for the cases the stage's analyses studied)."""
    frames = []
    for split, table in stages.items():
        long = table.melt(id_vars="id", value_vars=list(STAGES), var_name="stage", value_name="layer")
        if never is not None:
            studied = {column: set(studied_for(table, column)["id"]) for column in STAGES}
            mask = [case in studied[stage] for case, stage in zip(long["id"], long["stage"], strict=True)]
            long = long[pd.Series(mask, index=long.index, dtype=bool)]
            long = long.fillna({"layer": never})
        frames.append(long.dropna(subset=["layer"]).assign(split=split))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out = out.reindex(columns=["split", "id", "stage", "layer"])
    out["stage"] = out["stage"].map(STAGES)
    return out


def pooled(stages: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The splits' stage tables as one, labelled POOLED: the study's first-layer line plot pools
    the correct and incorrect cases (analyze_results.py, plot_min_entity_description_layers)."""
    return {POOLED: pd.concat(stages.values(), ignore_index=True)} if stages else {}


def first_layer_shares(stages: dict[str, pd.DataFrame], num_layers: int) -> pd.DataFrame:
    """[split, event, layer, percent]: percent of a split's cases whose first such layer is `layer`.

    Cases where the event never happens count in the denominator (cases the event's analysis
    studied), so a split's percents sum to the share of cases where it happens at all.
    """
    rows = []
    for split, table in stages.items():
        for column, event in FIRST_LAYERS.items():
            studied = studied_for(table, column)
            counts = studied[column].dropna().astype(int).value_counts()
            for layer in range(num_layers):
                percent = 100 * counts.get(layer, 0) / len(studied) if len(studied) else np.nan
                rows.append((split, event, layer, percent))
    return pd.DataFrame(rows, columns=["split", "event", "layer", "percent"])


def rate_grid(table: pd.DataFrame, hit: pd.Series, num_layers: int) -> pd.DataFrame:
    """Share of rows where `hit` holds, per (target layer, source layer); NaN where no row exists.

    Rows are indexed by target layer and columns by source layer, both 0..num_layers-1. Where every
    case has the same rows per cell (every generation), the share over rows is the mean of the
    cases' shares; where a case's rows are its distinct readings (the authors' dedupe), a case
    with more readings in a cell weighs more there.
    """
    if len(table) and max(table["source_layer"].max(), table["target_layer"].max()) >= num_layers:
        raise ValueError(f"a layer beyond the model's {num_layers} layers: is model.json from another model?")
    layers = range(num_layers)
    grid = hit.astype(float).groupby([table["target_layer"], table["source_layer"]]).mean().unstack()
    return grid.reindex(index=layers, columns=layers).rename_axis(index="target_layer", columns="source_layer")


def backpatched_cases(split: str, table: pd.DataFrame) -> pd.DataFrame:
    """Per case of a split's stages.csv that back-patching studied (drift left out), whether it is
    fixable at t1, t2, and "t1 or t2"."""
    table = without_drift(split, studied_for(table, "fixable_t1"))
    fixable = pd.DataFrame({position: table[f"fixable_{position}"].astype(bool) for position in POSITIONS})
    fixable["t1 or t2"] = fixable["t1"] | fixable["t2"]
    return fixable


def backpatching(stages: dict[str, pd.DataFrame], groups: dict | None = None) -> pd.DataFrame:
    """Fixable share per split and position (and t1 or t2), with its clustered exact 95% interval
    over the groups of cases sharing e2 or e3 (`groups`: split -> {case: its group},
    multihop.report.stats.connected_groups; without it, each case alone).

    In the correct split, "fixable" means some back-patch keeps the right answer. `unedited_correct`
    counts the cases whose unedited run answers correctly: all of the correct split; in the
    incorrect split these are drift, left out of n.
    """
    rows = []
    for split, table in stages.items():
        unedited = studied_for(table, "unedited_correct")
        own = (groups or {}).get(split, {})
        for position, cases in backpatched_cases(split, table).items():
            share = clustered_share(cases.astype(float), group_of(own, table.loc[cases.index, "id"]))
            rows.append(
                {
                    "split": split,
                    "position": position,
                    "n": share["n"],
                    "groups": share["groups"],
                    "fixable": int(cases.sum()),
                    "share": share["value"],
                    "ci_low": share["ci_low"],
                    "ci_high": share["ci_high"],
                    "unedited_correct": int(unedited["unedited_correct"].astype(bool).sum()),
                }
            )
    return pd.DataFrame(rows)


PROJECTED = {"e2_rank": "e2", "e3_rank": "e3", "prediction_rank": "prediction"}


def projection(projections: dict[str, pd.DataFrame], mean: str = "every") -> pd.DataFrame:
    """Per split, sublayer and token: share of cases where the token ranks first at some layer at
    t2, and the mean layer at which it does: over every such layer of those cases, as the study
    (`every`: analyze_results.py, get_sublayer_counts, `explode().mean()`), or over each case's
    first such layer (`first`, ours)."""
    rows = []
    for split, table in projections.items():
        n = table["id"].nunique()
        for sublayer in ("attention", "mlp"):
            own = table[table["sublayer"] == sublayer]
            for column, token in PROJECTED.items():
                top = own[own[column] == 1]
                first = top.groupby("id")["layer"].min()
                layers = top["layer"] if mean == "every" else first
                rows.append(
                    {
                        "split": split,
                        "sublayer": sublayer,
                        "token": token,
                        "n": n,
                        "cases": len(first),
                        "share": len(first) / n if n else np.nan,
                        "mean_layer": layers.mean() if len(layers) else np.nan,
                    }
                )
    return pd.DataFrame(rows)


PATCHSCOPES_PANELS = [("t1", "e2"), ("t2", "e2"), ("t2", "e3")]  # (source position, entity decoded)


def patchscopes_panels(
    tables: dict[str, pd.DataFrame], num_layers: int, dedupe: bool = True
) -> dict[tuple[str, str], pd.DataFrame]:
    """Per split (or any label) and (position, entity): the share of Patchscopes generations
    naming the entity, per (target, source) layer. With `dedupe` (the study's, analyze_results.py
    load_entity_description) a case's seeds count once per distinct reading of a cell, so three
    seeds reading e2, e2, other give it 1 of 2 rows there, not 2 of 3."""
    panels = {}
    for split, table in tables.items():
        if dedupe:
            table = table.drop_duplicates(["id", "position", "source_layer", "target_layer", "classification"])
        for position, entity in PATCHSCOPES_PANELS:
            rows = table[table["position"] == position]
            panels[split, f"{position} → {entity}"] = rate_grid(rows, rows["classification"] == entity, num_layers)
    return panels


def backpatching_panels(tables: dict[str, pd.DataFrame], num_layers: int) -> dict[tuple[str, str], pd.DataFrame]:
    """Per split (or any label) and position: the share of back-patched runs answering e3, per
    (target, source) layer (drift left out of the incorrect split, as the table counts it)."""
    panels = {}
    for split, table in tables.items():
        table = without_drift(split, table)
        for position in POSITIONS:
            rows = table[table["position"] == position]
            panels[split, f"at {position}"] = rate_grid(rows, rows["correct"], num_layers)
    return panels
