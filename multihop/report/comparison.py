"""Models side by side: stage depths made comparable by relative depth, and back-patching shares."""

import numpy as np
import pandas as pd

from multihop.report.stages import studied_for
from multihop.report.stats import estimate
from multihop.report.tables import STAGES, relative_depth, stage_rows

COLUMNS = ["model", "layers", "split", "measure", "studied", "reached", "n", "value", "ci_low", "ci_high"]


def relative_stages(model: str, stages: dict[str, pd.DataFrame], num_layers: int) -> pd.DataFrame:
    """stage_rows of one model with `depth`, the relative depth layer / (layers - 1): 0 = first
    block, 1 = last; a stage never reached at layer `num_layers`, just past 1."""
    rows = stage_rows(stages, never=num_layers)
    return rows.assign(model=model, depth=relative_depth(rows["layer"], num_layers))


def model_rows(model: str, stages: dict[str, pd.DataFrame], num_layers: int, backpatching: pd.DataFrame, controls=None):
    """The comparison table's rows of one model: median relative depth of each stage among the
    cases that reach it (a stage never reached has no depth to take a median of; how many of the
    cases studied reach it beside), fixable shares, and the rows of its table of back-patching
    against its nulls (multihop.report.nulls), if given."""
    reached = stage_rows(stages)  # (never reached: no row, as the findings' `reached` reading)
    reached = reached.assign(depth=relative_depth(reached["layer"], num_layers))
    rows = []
    for split, table in stages.items():
        for column, stage in STAGES.items():
            depths = reached.loc[(reached["split"] == split) & (reached["stage"] == stage), "depth"]
            counts = {"studied": len(studied_for(table, column)), "reached": int(table[column].notna().sum())}
            measure = f"{stage}: median relative depth of the cases reaching it"
            rows.append({"split": split, "measure": measure, **counts, **estimate(depths, np.median)})
        own = backpatching[backpatching["split"] == split]
        for _, row in own.iterrows():
            rows.append(
                {
                    "split": split,
                    "measure": f"fixable share at {row['position']}",
                    **{key: row[key] for key in ("n", "ci_low", "ci_high")},
                    "value": row["share"],
                }
            )
    if controls is not None:
        for row in controls.to_dict("records"):
            null = row["null"] if isinstance(row["null"], str) else ""  # (empty: back-patching alone)
            against = f", back-patching minus {null}" if null else ", back-patching"
            measure = f"{row['measure']} at {row['position']}{against}"
            rows.append(
                {"split": row["split"], "measure": measure, **{k: row[k] for k in ("n", "value", "ci_low", "ci_high")}}
            )
    return pd.DataFrame(rows).assign(model=model, layers=num_layers).reindex(columns=COLUMNS)
