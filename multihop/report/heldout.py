"""One patch chosen on some cases and applied to others: does a back-patch carry over to cases it
was not chosen on, and more than a patch chosen the same way from a null?

Repeated grouped cross-validation, REPEATS times: the incorrect cases both methods studied (drift
left out) are dealt into FOLDS folds whole groups at a time (cases joined by a shared e2 or e3:
multihop.report.stats.connected_groups), so no answer or bridge is in both a fold's training and
test cases; an answer that a cell tends to emit ("United States") cannot carry over. On each
fold's other cases, each method chooses the cell (position, s, t) that answers e3 for the most of
them (ties: lowest), and it is applied

- to the fold's incorrect cases: a case is fixed when it then answers e3;
- to the correct cases whose group is not among the training cases': a case is broken when it
  no longer does.

Per case, the share of the times it was held out that it was fixed (or broken), and its net
effect (fixed +1, broken -1). The net effect is the change in accuracy if the chosen patch were
applied to the model's cases: its mean weighs the incorrect and the correct cases by the model's
split sizes (cases/{split}.csv: 152 incorrect to 12 correct, say), not by how many of each the
analyses studied. Where neither method fixes any held-out case, the net effect compares break
rates only, and its `why` says so. Where a split the model has (a size above 0 in `sizes`, or
without the sizes either split) has no held-out case (no correct case studied by both methods,
or none whose group the training cases do not share), the net effect would be the fix rate alone:
it is reported undecided ("break rate not measured"), not weighted as if it were measured.
Back-patching against each null: the per-case differences, paired, each with its 95% interval
over groups and the sign-flip test
(multihop.report.verdicts.paired); and back-patching's own net effect against no change, on the
most cases any comparison had.
"""

import math
import random
from collections import Counter

import numpy as np
import pandas as pd

from multihop.report.stats import group_of
from multihop.report.tables import relative_depth
from multihop.report.verdicts import RESULT, paired

REPEATS, FOLDS = 10, 5
FIXES, BREAKS, NET = "held-out fix rate", "held-out break rate", "held-out net effect on accuracy"
OWN_NET = "held-out net effect on accuracy, alone"  # back-patching's own, against no change


def grouped_folds(cases, groups: dict, folds: int, rng: random.Random) -> list[set]:
    """`cases` dealt into at most `folds` folds, a whole group at a time: the groups in a seeded
    order, larger ones first, each to the fold with the fewest cases so far."""
    members: dict = {}
    for case, group in zip(cases, group_of(groups, cases), strict=True):
        members.setdefault(group, []).append(case)
    order = sorted(members, key=str)
    rng.shuffle(order)
    order.sort(key=lambda group: -len(members[group]))  # stable: the shuffle orders equal sizes
    out = [set() for _ in range(min(folds, len(order)))]
    for group in order:
        min(out, key=len).update(members[group])
    return out


def best_cell(rows: pd.DataFrame) -> tuple[str, int, int]:
    """The (position, source layer, target layer) that answers e3 for the most cases (ties: lowest)."""
    rates = rows.groupby(["position", "source_layer", "target_layer"])["correct"].mean()
    return min(rates.index, key=lambda cell: (-rates[cell], cell))


def answers_at(rows: pd.DataFrame, cell) -> pd.Series:
    """Per case: whether the rows' run at `cell` answers e3."""
    position, source, target = cell
    chosen = rows[(rows["position"] == position) & (rows["source_layer"] == source) & (rows["target_layer"] == target)]
    return chosen.groupby("id")["correct"].any()


def describe(cell, num_layers: int) -> str:
    position, source, target = cell
    depth = f"{relative_depth(source, num_layers):.2f} -> {relative_depth(target, num_layers):.2f}"
    return f"{position}, layer {source} -> {target} (relative depth {depth})"


def cross_validated(incorrect: dict, correct: dict, groups: dict, seed: int):
    """Per method ({method: rows} of each split, the same cases in every method): per case, how
    often it was fixed (incorrect) or broken (correct) when held out, and each method's choices.
    Returns ({method: Series of shares indexed (split, id)}, {method: Counter of cells})."""
    cases = sorted(set.intersection(*(set(rows["id"]) for rows in incorrect.values())))
    correct_cases = sorted(set.intersection(*(set(rows["id"]) for rows in correct.values()))) if correct else []
    correct_groups = list(zip(correct_cases, group_of(groups, correct_cases), strict=True))
    hits = {method: Counter() for method in incorrect}
    times, chosen = Counter(), {method: Counter() for method in incorrect}
    for repeat in range(REPEATS):
        for test in grouped_folds(cases, groups, FOLDS, random.Random(f"{seed}|{repeat}")):
            train = [case for case in cases if case not in test]
            if not train:  # one group: nothing to choose on
                continue
            seen = set(group_of(groups, train))
            kept = [case for case, group in correct_groups if group not in seen]
            times.update([("incorrect", case) for case in test] + [("correct", case) for case in kept])
            for method, rows in incorrect.items():
                cell = best_cell(rows[rows["id"].isin(train)])
                chosen[method][cell] += 1
                fixed = answers_at(rows[rows["id"].isin(test)], cell)
                hits[method].update(("incorrect", case) for case, yes in fixed.items() if yes)
                if kept:
                    still = answers_at(correct[method][correct[method]["id"].isin(kept)], cell)
                    hits[method].update(("correct", case) for case, yes in still.items() if not yes)
    index = pd.MultiIndex.from_tuples(sorted(times), names=["split", "id"])
    shares = {
        method: pd.Series([counts[key] / times[key] for key in index], index=index, dtype=float)
        for method, counts in hits.items()
    }
    return shares, chosen


def _row(null, measure, split, *, back, other, groups, weights=None, higher_is_better=True):
    """A comparison row: per case back-patching minus the null, its (weighted) mean, interval over
    groups and sign-flip test (multihop.report.verdicts.paired)."""
    grouped = group_of(groups, back.index)
    row = {"split": split, "position": "chosen", "null": null, "measure": measure}
    row |= {"backpatching": _mean(back, weights), "null_value": _mean(other, weights)}
    compared = paired(back - other, grouped, weights=weights)
    if not higher_is_better:  # a break rate: reported, not judged
        blank = {"test": "", "p_value": math.nan, "beats": "", "why": "", "cases_needed": math.nan}
        return row | {key: compared[key] for key in RESULT} | blank
    return row | compared


def _mean(values: pd.Series, weights) -> float:
    return float(np.average(values, weights=weights)) if len(values) else math.nan


def split_weights(index: pd.MultiIndex, sizes: dict | None) -> np.ndarray | None:
    """Per held-out case (index (split, id)): its split's size in the model (`sizes`) over the
    split's cases here, so a mean over them weighs the splits as the model's cases do (None:
    every case alike, where the sizes are not known)."""
    if not sizes:
        return None
    split = index.get_level_values("split")
    here = pd.Series(split).value_counts()
    return np.array([sizes[s] / here[s] for s in split], dtype=float)


BREAKS_ONLY = (
    "break rates only: neither method fixes a held-out case, so the net effect compares the correct cases they break"
)
NOT_MEASURED = "break rate not measured: no {splits} case held out, so this would be the fix rate alone"


def unmeasured(index: pd.MultiIndex, sizes: dict | None) -> list[str]:
    """The splits of the model (those with cases in `sizes`; without it, both) that no held-out
    case (index (split, id)) stands for: a net effect over `index` would leave them out."""
    wanted = [split for split, size in sizes.items() if size] if sizes else ["incorrect", "correct"]
    here = set(index.get_level_values("split"))
    return [split for split in wanted if split not in here]


def undecided(row: dict, missing: list[str]) -> dict:
    """A net-effect row left undecided where a split is not measured (`unmeasured`)."""
    if not missing:
        return row
    why = NOT_MEASURED.format(splits=" or ".join(missing))
    return row | {"beats": "inconclusive", "why": why, "cases_needed": math.nan, "p_value": math.nan}


def held_out(methods: dict, first: str, groups: dict, num_layers: int, seed: int, *, sizes=None) -> list[dict]:
    """Per other method (a null): method `first`'s and the null's held-out fix rate, break rate
    and net effect, and the paired differences (see the module docstring). `methods`: {method:
    {split: rows}} (multihop.report.nulls.sweeps); `groups`: split -> {case: its group}; `sizes`:
    split -> the model's cases in it, by which the net effect weighs the two splits (without it,
    every case studied alike)."""
    if "incorrect" not in methods.get(first, {}):
        return []
    everyone = {**groups.get("correct", {}), **groups.get("incorrect", {})}  # one group name in both splits
    weighed = "weighted by the model's split sizes " + (
        ", ".join(f"{split} {size}" for split, size in sizes.items()) if sizes else "(not known: every case alike)"
    )
    rows, alone = [], None  # alone: `first`'s net effects on the most cases, and how they were made
    for null, other in methods.items():
        if null == first or "incorrect" not in other:
            continue
        pair = {first: methods[first], null: other}
        shared = {
            split: set.intersection(*(set(table[split]["id"]) for table in pair.values()))
            for split in ("incorrect", "correct")
            if all(split in table for table in pair.values())
        }
        # each method's rows of the cases both studied
        restricted = {
            split: {m: table[split][table[split]["id"].isin(cases)] for m, table in pair.items()}
            for split, cases in shared.items()
        }
        shares, chosen = cross_validated(restricted["incorrect"], restricted.get("correct", {}), everyone, seed)
        if not len(shares[first]):
            continue
        effect = {m: s.where(s.index.get_level_values("split") == "incorrect", -s) for m, s in shares.items()}
        choices = "; ".join(
            f"{m} chose " + ", ".join(f"{describe(cell, num_layers)} ({n})" for cell, n in chosen[m].most_common(3))
            for m in pair
        )
        detail = f"{REPEATS} x {FOLDS} folds grouped by shared e2 or e3; most often chosen: {choices}"
        fixes_none = all(not s.xs("incorrect", level="split").any() for s in shares.values())
        measures = ((FIXES, "incorrect", shares), (BREAKS, "correct", shares), (NET, "both", effect))
        missing = unmeasured(shares[first].index, sizes)
        for measure, split, values in measures:
            a, b = values[first], values[null]
            weights = None
            if split == "both":
                weights = split_weights(a.index, sizes) if not missing else None
                a, b = a.droplevel("split"), b.droplevel("split")
            elif split in a.index.get_level_values("split"):
                a, b = a.xs(split, level="split"), b.xs(split, level="split")
            else:
                continue
            row = _row(
                null, measure, split, back=a, other=b, groups=everyone, weights=weights,
                higher_is_better=measure != BREAKS,
            )  # fmt: skip
            if measure == NET:
                row["detail"] = f"{detail}; {weighed if not missing else 'not weighted: a split is not measured'}"
                if fixes_none:
                    row["why"] = "; ".join(part for part in (BREAKS_ONLY, row["why"]) if part)
                row = undecided(row, missing)
            rows.append(row | {"detail": row.get("detail", detail)})
            # back-patching's own net effect: on a comparison that measures every split, the most cases
            if measure == NET and (alone is None or (not missing, len(a)) > (not alone[4], len(alone[0]))):
                alone = (a, weights, row["detail"], not shares[first].xs("incorrect", level="split").any(), missing)
    if alone is not None:  # does the chosen patch help at all? its net effect against none
        net, weights, detail, fixes_none, missing = alone
        row = _row("", OWN_NET, "both", back=net, other=net * 0.0, groups=everyone, weights=weights)
        if fixes_none:
            row["why"] = "; ".join(part for part in ("break rates only: it fixes no held-out case", row["why"]) if part)
        rows.append(undecided(row, missing) | {"detail": detail})
    return rows
