"""Models side by side: stage depths made comparable by relative depth, and back-patching shares."""

import numpy as np
import pandas as pd

from multihop.stats import estimate
from multihop.tables import STAGES, relative_depth, stage_layers

COLUMNS = ["model", "layers", "split", "measure", "n", "value", "ci_low", "ci_high"]


def relative_stages(model: str, layers: dict[str, pd.DataFrame], num_layers: int) -> pd.DataFrame:
    """stage_layers of one model with `depth`, the relative depth layer / (layers - 1): 0 = first block, 1 = last."""
    stages = stage_layers(layers)
    return stages.assign(model=model, depth=relative_depth(stages["layer"], num_layers))


def model_rows(model: str, layers: dict[str, pd.DataFrame], num_layers: int, backpatching: pd.DataFrame):
    """The comparison table's rows of one model: median relative depth of each stage, fixable shares."""
    stages = relative_stages(model, layers, num_layers)
    rows = []
    for split in layers:
        for stage in STAGES.values():
            depths = stages.loc[(stages["split"] == split) & (stages["stage"] == stage), "depth"]
            rows.append({"split": split, "measure": f"{stage}: median relative depth", **estimate(depths, np.median)})
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
    return pd.DataFrame(rows).assign(model=model, layers=num_layers).reindex(columns=COLUMNS)
