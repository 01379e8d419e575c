"""Is back-patching more than chance? Back-patching against its nulls, case by case.

The nulls: forward patching (an earlier layer's state over a later one's, as many cells:
multihop.analyses.forwardpatching), matched noise and another case's state
(multihop.analyses.controls). Each comparison pairs the cases both studied (in the incorrect
split, cases whose unedited run already answers correctly, drift, are left out).

Per case and position, two statistics:

- fixable, the study's flag: some cell of the grid answers e3. Compared by the exact McNemar
  test (the binomial test on the cases only one of the two fixes), one-sided; where it cannot
  decide, `cases_needed` is the number of cases at which the same test, at the observed rates,
  would have 80% power.
- success share: the share of the grid's cells that answer e3, which keeps what the flag throws
  away (40 successful cells against 3 is evidence). Compared by the per-case difference: its mean
  with a 95% interval that resamples groups of cases sharing e3, and a one-sided Wilcoxon
  signed-rank test on the groups' mean differences (the exact sign-flip distribution up to
  16 groups, else 100,000 random ones: multihop.report.stats).

Back-patching beats a null when the success share's interval lies above 0 and its p-value is
below ALPHA; it is more than chance only where it beats every null (an intersection-union test:
each at ALPHA, no correction needed).

Cell by cell (`cell_differences`): back-patching s -> t against forward patching t -> s (the
same two layers, the other way round), the exact McNemar test per cell, and the Benjamini-Hochberg
false-discovery-rate correction over each position's cells (scipy).
"""

import math

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from multihop.analyses.catalog import CONTROLS, POSITIONS
from multihop.report.heldout import held_out
from multihop.report.stats import clustered, group_of, mcnemar, mcnemar_cases_needed, signed_rank
from multihop.report.tables import without_drift
from multihop.report.verdicts import ALPHA, paired_verdict

UNION = "t1 or t2"
WHERE = (*POSITIONS, UNION)
BACK = "back-patching"
FORWARD = "forward patching"
NULLS = {"forwardpatching": FORWARD, "noise": "matched noise", "other_case": "another case's state"}
FIXABLE, SUCCESS = "fixable share", "mean share of cells answering e3"
COLUMNS = [
    *("split", "position", "null", "measure", "n", "groups", "backpatching", "null_value", "value"),
    *("ci_low", "ci_high", "test", "p_value", "beats", "why", "cases_needed", "detail"),
]


def sweeps(backpatching: dict, forwardpatching: dict, controls: dict) -> dict[str, dict[str, pd.DataFrame]]:
    """{method: {split: rows}} for back-patching and each null that has rows (drift left out)."""
    methods = {BACK: backpatching, FORWARD: forwardpatching}
    for control in CONTROLS:
        methods[NULLS[control]] = {split: rows[rows["control"] == control] for split, rows in controls.items()}
    return {
        method: {split: without_drift(split, rows) for split, rows in by_split.items() if len(rows)}
        for method, by_split in methods.items()
    }


def per_case(rows: pd.DataFrame, where: str) -> pd.DataFrame:
    """Per case (index id): `fixable` (some cell answers e3) and `success` (the share of cells
    that do) at a position, or over both."""
    own = rows if where == UNION else rows[rows["position"] == where]
    answers = own.groupby("id")["correct"]
    return pd.DataFrame({"fixable": answers.any(), "success": answers.mean()})


def _compare(split, where, null, *, back, other, groups) -> list[dict]:
    """The two comparison rows of back-patching and one null at a position, on their shared cases."""
    cases = sorted(set(back["id"]) & set(other["id"]))
    if not cases:
        return []
    b = per_case(back[back["id"].isin(cases)], where).reindex(cases)
    o = per_case(other[other["id"].isin(cases)], where).reindex(cases)
    base = {"split": split, "position": where, "null": null}
    only_back, only_null = int((b["fixable"] & ~o["fixable"]).sum()), int((~b["fixable"] & o["fixable"]).sum())
    p = mcnemar(only_back, only_null)
    flag = {
        **base,
        "measure": FIXABLE,
        "n": len(cases),
        "groups": len(set(group_of(groups, cases))),
        "backpatching": float(b["fixable"].mean()),
        "null_value": float(o["fixable"].mean()),
        "value": (only_back - only_null) / len(cases),
        "ci_low": math.nan,
        "ci_high": math.nan,
        "test": "exact McNemar, one-sided (cases as independent)",
        "p_value": p,
        "beats": "yes" if p < ALPHA else "not shown",
        "why": "" if p < ALPHA else f"p = {p:.2f}",
        "cases_needed": math.nan if p < ALPHA else mcnemar_cases_needed(len(cases), only_back, only_null),
        "detail": f"{only_back} cases fixable by back-patching only, {only_null} by the null only",
    }
    differences = b["success"] - o["success"]
    result = clustered(differences, group_of(groups, cases), np.mean)
    p, test = signed_rank(differences, group_of(groups, cases))
    beats, why, needed = paired_verdict(result, p)
    success = {
        **base,
        "measure": SUCCESS,
        **result,
        "backpatching": float(b["success"].mean()),
        "null_value": float(o["success"].mean()),
        "test": test,
        "p_value": p,
        "beats": beats,
        "why": why,
        "cases_needed": needed,
        "detail": "value: per case, back-patching minus the null; interval: groups of cases sharing e3 resampled",
    }
    return [flag, success]


def comparisons(methods: dict[str, dict[str, pd.DataFrame]], groups: dict) -> list[dict]:
    """Back-patching against each null, per split and position (see the module docstring)."""
    rows = []
    for split, back in methods.get(BACK, {}).items():
        for null in NULLS.values():
            other = methods.get(null, {}).get(split)
            if other is None:
                continue
            for where in WHERE:
                rows += _compare(split, where, null, back=back, other=other, groups=groups.get(split, {}))
    return rows


def beats_every_null(table: pd.DataFrame, split: str, position: str) -> tuple[str, str]:
    """('yes', which nulls) where back-patching's success share beats every null that ran at a
    position; else ('not distinguishable from chance', which nulls it does not beat and why), or
    ('too few cases', ...) where no comparison had the cases for a verdict, or ('inconclusive',
    ...) where no null ran."""
    own = table[(table["split"] == split) & (table["position"] == position) & (table["measure"] == SUCCESS)]
    if own.empty:
        return "inconclusive", "no null ran to compare with (forward patching and controls turned off)"
    short = own[own["beats"] != "yes"]
    if short.empty:
        return "yes", f"beats {', '.join(own['null'])}"
    reasons = []
    for row in short.to_dict("records"):
        needed = row["cases_needed"]
        more = f"; about {needed:,.0f} cases would decide" if math.isfinite(needed) else ""
        why = f" ({row['why']})" if row["why"] else ""
        reasons.append(f"{row['null']}: {row['beats']}{why}{more}")
    if (short["beats"] == "too few cases").all():  # nothing decided against it either
        return "too few cases", "cannot tell: " + "; ".join(reasons)
    return "not distinguishable from chance", "does not beat " + "; ".join(reasons)


def cell_differences(back: pd.DataFrame, forward: pd.DataFrame) -> pd.DataFrame:
    """Per position and back-patching cell (s > t): its share of cases answering e3 minus forward
    patching's for the same two layers the other way (t -> s), on the cases both studied; the exact
    two-sided McNemar p-value per cell and the Benjamini-Hochberg q-value over the position's
    cells; `survives` where q < ALPHA."""
    columns = ["position", "source_layer", "target_layer", "n", "backpatching", "forwardpatching", "value"]
    columns += ["p_value", "q_value", "survives"]
    cases = sorted(set(back["id"]) & set(forward["id"]))
    if not cases:
        return pd.DataFrame(columns=columns)
    keys = ["position", "source_layer", "target_layer", "id"]
    b = back[back["id"].isin(cases)].set_index(keys)["correct"].astype(bool)
    mirrored = forward[forward["id"].isin(cases)].rename(
        columns={"source_layer": "target_layer", "target_layer": "source_layer"}
    )
    f = mirrored.set_index(keys)["correct"].astype(bool).reindex(b.index, fill_value=False)
    pairs = pd.DataFrame({"b": b, "f": f}).reset_index()
    pairs["only_b"], pairs["only_f"] = pairs["b"] & ~pairs["f"], ~pairs["b"] & pairs["f"]
    cells = pairs.groupby(["position", "source_layer", "target_layer"]).agg(
        n=("id", "size"), backpatching=("b", "mean"), forwardpatching=("f", "mean"),
        only_b=("only_b", "sum"), only_f=("only_f", "sum"),
    ).reset_index()  # fmt: skip
    cells["value"] = cells["backpatching"] - cells["forwardpatching"]
    cells["p_value"] = [
        1.0 if a + c == 0 else scipy_stats.binomtest(int(a), int(a + c), 0.5).pvalue
        for a, c in zip(cells["only_b"], cells["only_f"], strict=True)
    ]
    cells["q_value"] = cells.groupby("position")["p_value"].transform(
        lambda p: scipy_stats.false_discovery_control(p.to_numpy(), method="bh")
    )
    cells["survives"] = cells["q_value"] < ALPHA
    return cells[columns]


def compared(backpatching: dict, forwardpatching: dict, controls: dict, *, groups: dict, num_layers: int, seed: int):
    """The nulls table: per split and position, back-patching against each null (`comparisons`),
    then the held-out test (multihop.report.heldout). Each argument maps split -> rows; `groups`
    maps split -> {case: e3}."""
    methods = sweeps(backpatching, forwardpatching, controls)
    rows = comparisons(methods, groups) + held_out(methods, BACK, groups, num_layers, seed)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out[["n", "groups"]] = out[["n", "groups"]].astype(int)
    return out
