"""How an analysis table is cut into output files (kept free of heavy imports: gathering is light)."""

import pandas as pd


def part(analysis, table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one output part: 't1_s0' (patchscopes), 'mlp', 'e1', 't2', ..."""
    if analysis == "patchscopes":
        position, seed = name.split("_s")
        rows = (table["position"] == position) & (table["seed"] == int(seed))
    else:
        column = {"projection": "sublayer", "knockout": "target", "backpatch": "position"}[analysis]
        rows = table[column] == name
    return table[rows].reset_index(drop=True)
