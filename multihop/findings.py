"""The study's claims (STUDY.md, "The question", 1-4), each tested on this run's cases.

Layers are compared across models as relative depth: layer / (layers - 1), 0 = first block,
1 = last. A claim holds when the whole 95% interval lies in the region the claim predicts, fails
when the whole interval lies outside it, and is inconclusive otherwise.
"""

import math

import numpy as np
import pandas as pd

from multihop.stats import estimate, median_difference
from multihop.tables import STAGES

COLUMNS = ["claim", "statement", "quantity", "n", "value", "ci_low", "ci_high", "criterion", "holds"]


def verdict(low: float, high: float, region: tuple[float, float]) -> str:
    """'yes' when [low, high] lies inside the open region, 'no' when wholly outside, else 'inconclusive'."""
    if math.isnan(low) or math.isnan(high):
        return "too few cases"
    start, end = region
    if start < low and high < end:
        return "yes"
    if high <= start or low >= end:
        return "no"
    return "inconclusive"


def _row(claim, statement, quantity, result, region, criterion):
    holds = verdict(result["ci_low"], result["ci_high"], region)
    return dict(claim=claim, statement=statement, quantity=quantity, **result, criterion=criterion, holds=holds)


# claims about when a stage happens: (claim, statement, layers.csv column, region of relative depth, criterion)
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


def findings(layers: dict[str, pd.DataFrame], num_layers: int) -> pd.DataFrame:
    """One row per tested statement; `layers` maps split -> layers.csv of that split."""
    both = pd.concat(list(layers.values()), ignore_index=True)
    depth = max(num_layers - 1, 1)

    def relative(table, column):
        return table[column].astype(float) / depth

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
    rows.append(
        _row(
            4,
            "in incorrect cases the first hop resolves later than in correct ones",
            "first hop resolved: median relative depth, incorrect minus correct",
            median_difference(
                relative(layers["incorrect"], "first_hop_resolved"), relative(layers["correct"], "first_hop_resolved")
            ),
            (0.0, math.inf),
            "interval above 0",
        )
    )
    incorrect = layers["incorrect"]
    unedited_wrong = incorrect[~incorrect["unedited_correct"].astype(bool)]
    fixable = unedited_wrong["fixable_t1"].astype(bool) | unedited_wrong["fixable_t2"].astype(bool)
    rows.append(
        _row(
            4,
            "back-patching a later layer's state into an earlier layer fixes a share of incorrect cases "
            "(the study: 32-66%)",
            "share of incorrect cases with some back-patch (t1 or t2) answering e3, unedited run incorrect",
            estimate(fixable.astype(float)),
            (0.0, math.inf),
            "interval above 0",
        )
    )
    return pd.DataFrame(rows, columns=COLUMNS)
