"""Is back-patching more than chance? Back-patching against its nulls, case by case.

The nulls: forward patching (an earlier layer's state over a later one's, as many cells:
multihop.analyses.forwardpatching), matched noise and another case's state
(multihop.analyses.controls). Each comparison pairs the cases both studied (in the incorrect
split, cases whose unedited run already answers correctly, drift, are left out).

Per case and position, two statistics, each a row of its own:

- fixable, the study's flag: some cell of the grid answers e3. Per case, back-patching's flag
  minus the null's (1, 0 or -1). This decides back-patching's headline (its fixable share):
  it is more than chance only where it beats every null on this flag.
- success share: the share of the grid's cells that answer e3, which keeps what the flag throws
  away (40 successful cells against 3 is evidence): per case, back-patching's minus the null's.

Each difference is summarized by its case-weighted mean with a 95% interval that resamples
groups of cases sharing e2 or e3 (multihop.report.stats.clustered), and tested by the sign-flip
test over the groups' summed differences (the same mean; valid at any number of groups:
multihop.report.stats.sign_flip). Back-patching beats a null when the test says so at ALPHA and,
with enough groups, the interval agrees (multihop.report.verdicts.paired_verdict); it is more
than chance only where it beats every null that ran (an intersection-union test: each at ALPHA,
no correction needed).

Cell by cell (`cell_differences`): back-patching s -> t against forward patching t -> s (the
same two layers, the other way round), the exact McNemar test per cell, and the Benjamini-Hochberg
false-discovery-rate correction over each position's cells (scipy).
"""

import math

import pandas as pd
from scipy import stats as scipy_stats

from multihop.analyses.catalog import CONTROLS, POSITIONS
from multihop.report.heldout import held_out
from multihop.report.stats import group_of
from multihop.report.tables import without_drift
from multihop.report.verdicts import ALPHA, paired

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
    grouped = group_of(groups, cases)
    only_back, only_null = int((b["fixable"] & ~o["fixable"]).sum()), int((~b["fixable"] & o["fixable"]).sum())
    flag = {
        **base,
        "measure": FIXABLE,
        "backpatching": float(b["fixable"].mean()),
        "null_value": float(o["fixable"].mean()),
        **paired(b["fixable"].astype(float) - o["fixable"].astype(float), grouped),
        "detail": f"value: per case, back-patching's flag minus the null's (1, 0, -1), mean; {only_back} cases "
        f"fixable by back-patching only, {only_null} by the null only",
    }
    success = {
        **base,
        "measure": SUCCESS,
        "backpatching": float(b["success"].mean()),
        "null_value": float(o["success"].mean()),
        **paired(b["success"] - o["success"], grouped),
        "detail": "value: per case, back-patching's share of cells answering e3 minus the null's, mean",
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


BELOW_A_NULL = "cannot decide at this estimate: back-patching is below {nulls}, so no number of cases makes it beat it"


def beats_every_null(table: pd.DataFrame, split: str, position: str, measure: str = FIXABLE) -> tuple[str, str, float]:
    """(verdict, why, cases needed) of back-patching against every null that ran at a position,
    on `measure` (the fixable flag: the headline's): 'yes' where it beats each; else 'not
    distinguishable from chance' (which nulls it does not beat and why; the cases needed: the
    most any of them needs, at which each comparison alone has the power asked and all of them
    together less; none where a null already says 'no', as then no number of cases makes the
    headline 'yes' at the observed estimates), or 'inconclusive' where no null ran."""
    own = table[(table["split"] == split) & (table["position"] == position) & (table["measure"] == measure)]
    if own.empty:
        return "inconclusive", "no null ran to compare with (forward patching and controls turned off)", math.nan
    short = own[own["beats"] != "yes"]
    if short.empty:
        return "yes", f"beats {', '.join(own['null'])}", math.nan
    reasons = [f"{row['null']}: {row['beats']} ({row['why']})" for row in short.to_dict("records")]
    why = "does not beat " + "; ".join(reasons)
    below = short[short["beats"] == "no"]["null"]
    if len(below):
        return "not distinguishable from chance", f"{why}; {BELOW_A_NULL.format(nulls=', '.join(below))}", math.nan
    undecided = short["cases_needed"]
    needed = math.nan if undecided.isna().any() else float(undecided.max())
    return "not distinguishable from chance", why, needed


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


def compared(
    backpatching: dict, forwardpatching: dict, controls: dict, *, groups: dict, num_layers: int, seed: int, sizes=None
):
    """The nulls table: per split and position, back-patching against each null (`comparisons`),
    then the held-out test (multihop.report.heldout). Each argument maps split -> rows; `groups`
    maps split -> {case: its group} (multihop.report.stats.connected_groups); `sizes` maps split ->
    the model's cases in it (the held-out net effect weighs the splits by them)."""
    methods = sweeps(backpatching, forwardpatching, controls)
    rows = comparisons(methods, groups) + held_out(methods, BACK, groups, num_layers, seed, sizes=sizes)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out[["n", "groups"]] = out[["n", "groups"]].astype(int)
    return out
