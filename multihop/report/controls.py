"""Does back-patching beat chance? Its fixable share beside its controls' (matched noise, another
case's state: multihop.analyses.controls), and one fixed back-patch chosen on some cases and
applied to the others.

- Shares and paired differences count the cases the controls studied (in the incorrect split,
  drift left out as back-patching's table does); a case is fixable when some cell of the grid
  answers e3. Each comes with a 95% percentile-bootstrap interval over cases.
- The fixed back-patch: the incorrect split's cases in FOLDS seeded folds; on each fold's
  complement the (position, s, t) with the highest fix rate is chosen (ties: lowest position,
  source, target) and applied to that fold's cases. Chosen once more on every incorrect case, it
  is also applied to the correct split, where a case it no longer answers correctly is broken.
"""

import random

import numpy as np
import pandas as pd

from multihop.analyses.catalog import CONTROLS, POSITIONS
from multihop.report import stages
from multihop.report.stats import estimate
from multihop.report.tables import relative_depth, without_drift

FOLDS = 5
WHERE = (*POSITIONS, "t1 or t2")
LABELS = {"backpatching": "back-patching", "noise": "matched noise", "other_case": "another case's state"}
HELD_OUT = "fixed back-patch, held out"
IN_SAMPLE = "fixed back-patch, chosen and applied on all incorrect cases"
BROKEN = "fixed back-patch breaks correct cases"
COLUMNS = ["split", "position", "measure", "n", "value", "ci_low", "ci_high", "detail"]


def fixable(rows: pd.DataFrame) -> pd.DataFrame:
    """Per case (index id): whether some cell answers e3, at t1, t2, and t1 or t2."""
    per = stages.fixable(rows)
    per["t1 or t2"] = per["t1"] | per["t2"]
    return per


def _row(split, position, measure, values, detail=""):
    return {"split": split, "position": position, "measure": measure, **estimate(values), "detail": detail}


def shares(split: str, backpatching: pd.DataFrame, controls: pd.DataFrame) -> list[dict]:
    """Fixable shares of back-patching and each control on the controls' cases, and the paired
    per-case differences back-patching minus control."""
    backpatching = without_drift(split, backpatching)
    cases = sorted(set(backpatching["id"]) & set(controls["id"]))
    if not cases:  # controls turned off (or nothing studied)
        return []
    methods = {"backpatching": fixable(backpatching[backpatching["id"].isin(cases)])}
    for control in CONTROLS:
        own = controls[(controls["control"] == control) & controls["id"].isin(cases)]
        if len(own):  # (another case's state needs a second case)
            methods[control] = fixable(own)
    rows = []
    for position in WHERE:
        for method, table in methods.items():
            rows.append(_row(split, position, f"{LABELS[method]}: fixable share", table[position].astype(float)))
        for control in CONTROLS:
            if control in methods:
                both = methods["backpatching"][position].astype(float) - methods[control][position].astype(float)
                rows.append(_row(split, position, f"back-patching minus {LABELS[control]}", both.dropna()))
    return rows


def best_cell(rows: pd.DataFrame) -> tuple[str, int, int]:
    """The (position, source layer, target layer) that answers e3 for the most cases (ties: lowest)."""
    rates = rows.groupby(["position", "source_layer", "target_layer"])["correct"].mean()
    return min(rates.index, key=lambda cell: (-rates[cell], cell))


def _at(rows, cell) -> pd.Series:
    """Per case: whether the rows' run at `cell` answers e3."""
    position, source, target = cell
    chosen = rows[(rows["position"] == position) & (rows["source_layer"] == source) & (rows["target_layer"] == target)]
    return chosen.groupby("id")["correct"].any()


def _describe(cell, num_layers) -> str:
    position, source, target = cell
    depth = f"{relative_depth(source, num_layers):.2f} -> {relative_depth(target, num_layers):.2f}"
    return f"{position}, layer {source} -> {target} (relative depth {depth})"


def fixed_patch(incorrect: pd.DataFrame, correct: pd.DataFrame, num_layers: int, seed: int) -> list[dict]:
    """The held-out fix rate of a patch chosen on the other folds; the patch chosen on every
    incorrect case, its in-sample rate, and the share of correct cases it breaks."""
    incorrect = without_drift("incorrect", incorrect)
    cases = sorted(incorrect["id"].unique())
    if not cases:
        return []
    random.Random(seed).shuffle(cases)
    folds = min(FOLDS, len(cases))
    held_out, chosen = [], []
    for fold in range(folds):
        test = set(cases[fold::folds])
        train = incorrect[~incorrect["id"].isin(test)]
        if train.empty:  # a single case: nothing to choose on
            continue
        cell = best_cell(train)
        chosen.append(_describe(cell, num_layers))
        held_out.append(_at(incorrect[incorrect["id"].isin(test)], cell))
    rows = []
    if held_out:
        picks = pd.Series(chosen).value_counts()
        detail = f"{folds} folds; chosen: " + "; ".join(f"{cell} ({n})" for cell, n in picks.items())
        rows.append(_row("incorrect", "chosen", HELD_OUT, pd.concat(held_out).astype(float), detail))
    cell = best_cell(incorrect)
    rows.append(_row("incorrect", cell[0], IN_SAMPLE, _at(incorrect, cell).astype(float), _describe(cell, num_layers)))
    if len(correct):
        broken = ~_at(correct, cell)
        rows.append(_row("correct", cell[0], BROKEN, broken.astype(float), _describe(cell, num_layers)))
    return rows


def compared(backpatching: dict[str, pd.DataFrame], controls: dict[str, pd.DataFrame], num_layers: int, seed: int):
    """The controls table: per split and position, back-patching's and each control's fixable
    share and their paired differences; then the fixed back-patch (see module docstring)."""
    rows = []
    for split, table in backpatching.items():
        rows += shares(split, table, controls.get(split, table.iloc[:0]))
    if "incorrect" in backpatching:
        correct = backpatching.get("correct", backpatching["incorrect"].iloc[:0])
        rows += fixed_patch(backpatching["incorrect"], correct, num_layers, seed)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["n"] = out["n"].astype(int)
    return out


def measure(table: pd.DataFrame, split: str, position: str, name: str) -> dict:
    """One row of the controls table as {n, value, ci_low, ci_high} (NaN if absent)."""
    found = table[(table["split"] == split) & (table["position"] == position) & (table["measure"] == name)]
    if found.empty:
        return {"n": 0, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    return found.iloc[0][["n", "value", "ci_low", "ci_high"]].to_dict()
