"""The study's four claims (Biran et al. 2024, "Hopping Too Late", arXiv 2406.12775), each tested on this run's cases.

Layers are compared across models as relative depth: layer / (layers - 1), 0 = first block,
1 = last. A claim holds when the whole 95% interval lies in the region the claim predicts, fails
when the whole interval lies outside it, and is inconclusive otherwise. Below MIN_CASES values
there is no verdict: a percentile bootstrap of a handful of values is far too narrow (all-equal
values give a zero-width interval), and a median has no 95% interval from fewer than six.
"""

import math

import numpy as np
import pandas as pd

from multihop.report import controls as controls_module
from multihop.report.stages import studied_for
from multihop.report.stats import estimate, median_difference
from multihop.report.tables import STAGES, backpatched_cases, relative_depth

COLUMNS = ["claim", "statement", "quantity", "n", "value", "ci_low", "ci_high", "criterion", "holds"]
MIN_CASES = 6


def verdict(n: int, low: float, high: float, region: tuple[float, float]) -> str:
    """'yes' when [low, high] lies inside the open region, 'no' when wholly outside, else 'inconclusive'."""
    if n < MIN_CASES or math.isnan(low) or math.isnan(high):
        return "too few cases"
    start, end = region
    if start < low and high < end:
        return "yes"
    if high <= start or low >= end:
        return "no"
    return "inconclusive"


def _row(claim, statement, quantity, result, region, criterion):
    holds = verdict(result["n"], result["ci_low"], result["ci_high"], region)
    return dict(claim=claim, statement=statement, quantity=quantity, **result, criterion=criterion, holds=holds)


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


def findings(stages: dict[str, pd.DataFrame], num_layers: int, controls: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per tested statement; `stages` maps split -> stages.csv of that split; `controls`
    (multihop.report.controls.compared) adds the verdicts on back-patching's controls."""
    both = pd.concat(list(stages.values()), ignore_index=True)

    def relative(table, column):
        return relative_depth(table[column].astype(float), num_layers)

    rows = [
        _row(
            claim,
            statement,
            f"{STAGES[column]}: median relative depth, all cases",
            estimate(relative(both, column), np.median),
            region,
            criterion,
        )
        for claim, statement, column, region, criterion in DEPTH_CLAIMS
    ]
    rows.insert(
        3,
        _row(
            3,
            "the second hop is resolved after the first",
            "per case: second hop resolved minus first hop resolved, median relative depth",
            estimate(relative(both, "e3_decoded_t2") - relative(both, "first_hop_resolved"), np.median),
            (0.0, math.inf),
            "interval above 0",
        ),
    )
    # a first hop that never resolves is the latest of all: it counts as one layer past the last
    past_last = relative_depth(num_layers, num_layers)
    never = {
        split: relative(studied_for(table, "first_hop_resolved"), "first_hop_resolved").fillna(past_last)
        for split, table in stages.items()
    }
    rows.append(
        _row(
            4,
            "in incorrect cases the first hop resolves later than in correct ones",
            "first hop resolved (never: past the last layer): median relative depth, incorrect minus correct; "
            "n counts both splits",
            median_difference(never["incorrect"], never["correct"]),
            (0.0, math.inf),
            "interval above 0",
        )
    )
    fixable = backpatched_cases("incorrect", stages["incorrect"])["t1 or t2"]
    rows.append(
        _row(
            4,
            "back-patching a later layer's state into an earlier layer fixes some incorrect cases",
            "share of incorrect cases with some back-patch (t1 or t2) answering e3 (unedited run incorrect)",
            estimate(fixable.astype(float)),
            (0.0, math.inf),
            "interval above 0; the study found 32-66%",
        )
    )
    if controls is not None:
        rows += control_findings(controls)
    return pd.DataFrame(rows, columns=COLUMNS)


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
    """The controls' verdicts: each interval wholly above 0 (yes), wholly at or below it (no)."""
    return [
        _row(
            "controls",
            statement,
            quantity,
            controls_module.measure(controls, "incorrect", position, name),
            (0.0, math.inf),
            "interval above 0",
        )
        for statement, (position, name), quantity in CONTROL_CLAIMS
    ]
