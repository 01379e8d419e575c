"""The study's four claims (Biran et al. 2024, "Hopping Too Late", arXiv 2406.12775), each tested on this run's cases.

Layers are compared across models as relative depth: layer / (layers - 1), 0 = first block,
1 = last. A stage a case never reaches counts as past the last layer (relative depth
layers / (layers - 1)), not dropped: the median then says how deep the stage lies among all the
cases studied, and each row gives beside it how many reached the stage, with an exact interval.
Each claim has a row per split; the study's story is about the correct split (a model that
composes), the incorrect split's rows stand beside them.

Cases that share an answer (e3) are not independent, so intervals resample groups of cases with
the same e3 (`groups`), not cases. A claim holds when the whole 95% interval lies in the region
the claim predicts, fails when the whole interval lies outside it, and is inconclusive otherwise;
there is no verdict from fewer than MIN_GROUPS groups, and none from an interval of zero width
(every resample agreeing bounds nothing); `why` says so in words.
"""

import math

import numpy as np
import pandas as pd

from multihop.report import controls as controls_module
from multihop.report.stages import CHANCE, studied_for, with_donor
from multihop.report.stats import clustered, clustered_difference, share
from multihop.report.tables import STAGES, backpatched_cases, relative_depth

COLUMNS = ["claim", "split", "statement", "quantity", "treatment", "studied", "reached", "reached_share"]
COLUMNS += ["reached_low", "reached_high", "n", "groups", "value", "ci_low", "ci_high", "criterion", "holds", "why"]
MIN_GROUPS = 6
CENSORED = "never reached: past the last layer; groups of cases sharing e3 resampled together"
GROUPED = "groups of cases sharing e3 resampled together"


def verdict(groups: int, low: float, high: float, region: tuple[float, float]) -> tuple[str, str]:
    """(holds, why): 'yes' when [low, high] lies inside the open region, 'no' when wholly
    outside, else 'inconclusive'; no verdict from too few groups or a zero-width interval."""
    if groups < MIN_GROUPS:
        return "too few cases", f"{groups} independent groups; a verdict needs {MIN_GROUPS}"
    if math.isnan(low) or math.isnan(high):
        return "too few cases", "no interval"
    if math.isclose(low, high, abs_tol=1e-12):
        return "inconclusive", f"every resample gives {low:.2f}: an interval of zero width rules nothing out"
    start, end = region
    if start < low and high < end:
        return "yes", ""
    if high <= start or low >= end:
        return "no", ""
    return "inconclusive", "the interval reaches both sides of the claim's bound"


def _row(claim, split, statement, quantity, treatment, reached, result, region, criterion):
    holds, why = verdict(result["groups"], result["ci_low"], result["ci_high"], region)
    counts = dict(studied=reached["n"], reached=reached["k"], reached_share=reached["share"])
    counts |= dict(reached_low=reached["low"], reached_high=reached["high"])
    return dict(
        claim=claim, split=split, statement=statement, quantity=quantity, treatment=treatment, **counts,
        **result, criterion=criterion, holds=holds, why=why,
    )  # fmt: skip


def _groups(split: str, table: pd.DataFrame, groups: dict | None) -> list:
    """The group of each case of `table` (its e3 where known, else the case alone)."""
    known = (groups or {}).get(split, {})
    return [known.get(case, case) for case in table["id"]]


# claims about when a stage happens: (claim, statement, stages.csv column, region of relative depth, criterion)
DEPTH_CLAIMS = [
    (
        1,
        "the bridge entity e2 is resolved early, at the last token of e1 (t1)",
        "first_hop_resolved",
        (-math.inf, 0.5),
        "interval below 0.5 (first half of the layers)",
    ),
    (
        2,
        "information then propagates to the last token (t2) in middle layers",
        "information_propagation",
        (0.25, 0.75),
        "interval within 0.25-0.75 (middle half of the layers)",
    ),
    (
        3,
        "the second hop is resolved late, at t2",
        "e3_decoded_t2",
        (0.5, math.inf),
        "interval above 0.5 (second half of the layers)",
    ),
    (
        3,
        "the answer e3 is extracted in the last layers",
        "prediction_extracted",
        (0.75, math.inf),
        "interval above 0.75 (last quarter of the layers)",
    ),
]


def findings(
    stages: dict[str, pd.DataFrame], num_layers: int, controls: pd.DataFrame | None = None, groups=None
) -> pd.DataFrame:
    """One row per tested statement and split; `stages` maps split -> stages.csv of that split;
    `groups` maps split -> {case id: its group} (its e3); `controls`
    (multihop.report.controls.compared) adds the verdicts on back-patching's controls."""
    past_last = relative_depth(num_layers, num_layers)  # a stage never reached: past the last layer

    def depth(table, column):
        return relative_depth(table[column].astype(float), num_layers).fillna(past_last)

    def reached(table, column):
        return share(int(table[column].notna().sum()), len(table))

    def depth_rows(claims):
        for claim, statement, column, region, criterion in claims:
            for split, table in stages.items():
                studied = studied_for(table, column)
                result = clustered(depth(studied, column), _groups(split, studied, groups), np.median)
                quantity = f"{STAGES[column]}: median relative depth"
                counts = reached(studied, column)
                yield _row(claim, split, statement, quantity, CENSORED, counts, result, region, criterion)

    rows = list(depth_rows(DEPTH_CLAIMS[:3]))
    for split, table in stages.items():
        studied = studied_for(table, "first_hop_resolved")  # both stages come from Patchscopes
        after = depth(studied, "e3_decoded_t2") - depth(studied, "first_hop_resolved")
        result = clustered(after, _groups(split, studied, groups), np.median)
        both = studied["e3_decoded_t2"].notna() & studied["first_hop_resolved"].notna()
        rows.append(
            _row(
                3,
                split,
                "the second hop is resolved after the first",
                "per case: second hop resolved minus first hop resolved, median relative depth "
                "(reached: both stages; e3 decoded but e2 never counts against the claim)",
                CENSORED,
                share(int(both.sum()), len(studied)),
                result,
                (0.0, math.inf),
                "interval above 0",
            )
        )
    rows += depth_rows(DEPTH_CLAIMS[3:])
    rows += chance_rows(stages, depth, groups)
    never = {split: studied_for(table, "first_hop_resolved") for split, table in stages.items()}
    if {"correct", "incorrect"} <= set(never):
        incorrect, correct = never["incorrect"], never["correct"]
        result = clustered_difference(
            depth(incorrect, "first_hop_resolved"),
            _groups("incorrect", incorrect, groups),
            depth(correct, "first_hop_resolved"),
            _groups("correct", correct, groups),
        )
        counts = pd.concat([incorrect, correct])
        rows.append(
            _row(
                4,
                "both",
                "in incorrect cases the first hop resolves later than in correct ones",
                "first hop resolved: median relative depth, incorrect minus correct",
                CENSORED,
                reached(counts, "first_hop_resolved"),
                result,
                (0.0, math.inf),
                "interval above 0",
            )
        )
    if "incorrect" in stages:
        cases = studied_for(stages["incorrect"], "fixable_t1")
        fixable = backpatched_cases("incorrect", cases)["t1 or t2"]
        kept = cases[cases.index.isin(fixable.index)]
        result = clustered(fixable.astype(float), _groups("incorrect", kept, groups), np.mean)
        rows.append(
            _row(
                4,
                "incorrect",
                "back-patching a later layer's state into an earlier layer fixes some incorrect cases",
                "share of incorrect cases with some back-patch (t1 or t2) answering e3 (unedited run incorrect)",
                GROUPED,
                share(int(fixable.sum()), len(fixable)),
                result,
                (0.0, math.inf),
                "interval above 0; the study found 32-66%",
            )
        )
    if controls is not None:
        rows += control_findings(controls)
    return pd.DataFrame(rows, columns=COLUMNS)


# beyond the study: Patchscopes' stages against the same generations read for another case's
# names (multihop.report.stages.chance_baseline): (stages.csv column, its baseline, statement)
CHANCE_CLAIMS = {
    "first_hop_resolved": "e2 is decoded from t1 earlier than another case's e2",
    "e3_decoded_t2": "e3 is decoded from t2 earlier than another case's e3",
}


def chance_rows(stages: dict[str, pd.DataFrame], depth, groups) -> list[dict]:
    """Per split, each Patchscopes stage against chance: per case, its depth minus the depth at
    which another case's name is "decoded" from the same generations (both never: past the last
    layer), median; reached counts the cases whose other name is ever "decoded"."""
    rows = []
    for column, statement in CHANCE_CLAIMS.items():
        baseline = CHANCE[column]
        for split, table in stages.items():
            if baseline not in table:  # a stages table made before the baseline existed
                continue
            studied = with_donor(studied_for(table, column))
            difference = depth(studied, column) - depth(studied, baseline)
            result = clustered(difference, _groups(split, studied, groups), np.median)
            chance = share(int(studied[baseline].notna().sum()), len(studied))
            quantity = (
                f"per case: {STAGES.get(column, column)} minus the same for another case's names, median relative "
                "depth; reached: cases where another case's name is decoded at all (chance)"
            )
            rows.append(
                _row(
                    "chance", split, statement, quantity, CENSORED, chance, result, (-math.inf, 0.0), "interval below 0"
                )
            )
    return rows


# beyond the study: (statement, controls table measure and position, quantity, criterion)
CONTROL_CLAIMS = [
    (
        "back-patching beats matched noise",
        ("t1 or t2", f"back-patching minus {controls_module.LABELS['noise']}"),
        "per incorrect case: fixable by back-patching minus fixable by noise of the same size (t1 or t2), mean",
    ),
    (
        "back-patching beats another case's state",
        ("t1 or t2", f"back-patching minus {controls_module.LABELS['other_case']}"),
        "per incorrect case: fixable by back-patching minus fixable by another case's state (t1 or t2), mean",
    ),
    (
        "a fixed back-patch fixes held-out cases",
        ("chosen", controls_module.HELD_OUT),
        f"share of incorrect cases fixed by the one patch chosen on the other folds ({controls_module.FOLDS}-fold)",
    ),
]


def control_findings(controls: pd.DataFrame) -> list[dict]:
    """The controls' verdicts: each interval wholly above 0 (yes), wholly at or below it (no).
    Their intervals resample cases (multihop.report.controls), each case its own group."""
    rows = []
    for statement, (position, name), quantity in CONTROL_CLAIMS:
        result = controls_module.measure(controls, "incorrect", position, name)
        result = {**result, "groups": int(result["n"])}
        unknown = {"k": 0, "n": int(result["n"]), "share": math.nan, "low": math.nan, "high": math.nan}
        treatment = "cases resampled one by one"
        rows.append(
            _row(
                "controls",
                "incorrect",
                statement,
                quantity,
                treatment,
                unknown,
                result,
                (0.0, math.inf),
                "interval above 0",
            )
        )
    return rows
