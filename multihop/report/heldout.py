"""One patch chosen on some cases and applied to others: does a back-patch carry over to cases it
was not chosen on, and more than a patch chosen the same way from a null?

Repeated grouped cross-validation, REPEATS times: the incorrect cases both methods studied (drift
left out) are dealt into FOLDS folds whole groups at a time (cases sharing e3), so no answer is
in both a fold's training and test cases; an answer that a cell tends to emit ("United States")
cannot carry over. On each fold's other cases, each method chooses the cell (position, s, t)
that answers e3 for the most of them (ties: lowest), and it is applied

- to the fold's incorrect cases: a case is fixed when it then answers e3;
- to the correct cases whose e3 is not among the training cases': a case is broken when it no
  longer does.

Per case, the share of the times it was held out that it was fixed (or broken), and its net
effect, the change in accuracy if the chosen patch were applied to every held-out case (fixed
+1, broken -1). Back-patching against each null: the per-case differences, paired, each with its
95% interval over groups and the signed-rank test (multihop.report.nulls); and back-patching's own
net effect against no change, on the most cases any comparison had.
"""

import math
import random
from collections import Counter

import numpy as np
import pandas as pd

from multihop.report.stats import clustered, group_of, signed_rank
from multihop.report.tables import relative_depth
from multihop.report.verdicts import paired_verdict

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


def _row(null, measure, split, *, back, other, groups, higher_is_better=True):
    """A comparison row: per case back-patching minus the null, its mean and interval over groups."""
    differences = back - other
    result = clustered(differences, group_of(groups, back.index), np.mean)
    row = {"split": split, "position": "chosen", "null": null, "measure": measure, **result}
    row |= {"backpatching": float(back.mean()), "null_value": float(other.mean())}
    if not higher_is_better:  # a break rate: reported, not judged
        return row | {"test": "", "p_value": math.nan, "beats": "", "why": "", "cases_needed": math.nan}
    p, test = signed_rank(differences, group_of(groups, back.index))
    beats, why, needed = paired_verdict(result, p)
    return row | {"test": test, "p_value": p, "beats": beats, "why": why, "cases_needed": needed}


def held_out(methods: dict, first: str, groups: dict, num_layers: int, seed: int) -> list[dict]:
    """Per other method (a null): method `first`'s and the null's held-out fix rate, break rate
    and net effect, and the paired differences (see the module docstring). `methods`: {method:
    {split: rows}} (multihop.report.nulls.sweeps); `groups`: split -> {case: e3}."""
    if "incorrect" not in methods.get(first, {}):
        return []
    everyone = {**groups.get("correct", {}), **groups.get("incorrect", {})}  # e3 is e3 in both splits
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
        detail = f"{REPEATS} x {FOLDS} folds grouped by e3; most often chosen: {choices}"
        measures = ((FIXES, "incorrect", shares), (BREAKS, "correct", shares), (NET, "both", effect))
        for measure, split, values in measures:
            a, b = values[first], values[null]
            if split == "both":
                a, b = a.droplevel("split"), b.droplevel("split")
            elif split in a.index.get_level_values("split"):
                a, b = a.xs(split, level="split"), b.xs(split, level="split")
            else:
                continue
            rows.append(
                _row(null, measure, split, back=a, other=b, groups=everyone, higher_is_better=measure != BREAKS)
                | {"detail": detail}
            )
            if measure == NET and (alone is None or len(a) > len(alone[0])):
                alone = (a, detail)
    if alone is not None:  # does the chosen patch help at all? its net effect against none
        net, detail = alone
        rows.append(_row("", OWN_NET, "both", back=net, other=net * 0.0, groups=everyone) | {"detail": detail})
    return rows
