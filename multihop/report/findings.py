"""The study's four claims (Biran et al. 2024, "Hopping Too Late", arXiv 2406.12775), each tested on this run's cases.

Layers are compared across models as relative depth: layer / (layers - 1), 0 = first block,
1 = last. A stage a case never reaches counts as past the last layer (relative depth
layers / (layers - 1)), not dropped: the median then says how deep the stage lies among all the
cases studied, and each row gives beside it how many reached the stage, with an exact interval.
Each claim has a row per split; the study's story is about the correct split (a model that
composes), the incorrect split's rows stand beside them.

Cases that share an answer (e3) are not independent, so intervals resample groups of cases with
the same e3 (`groups`), not cases. Verdicts read the whole 95% interval (multihop.report.verdicts);
an inconclusive row says about how many cases would decide (`cases_needed`).

Back-patching (claim 4) is the study's causal evidence: its headline is the fixable share at
each position, as the study reports it, and its verdict is "yes" only where back-patching beats
every null (multihop.report.nulls); otherwise it is not distinguishable from chance, whatever
its share.
"""

import math

import numpy as np
import pandas as pd

from multihop.analyses import catalog
from multihop.report import heldout, nulls
from multihop.report.stages import CHANCE, studied_for, with_donor
from multihop.report.stats import clustered, clustered_difference, group_of, share
from multihop.report.tables import STAGES, backpatched_cases, relative_depth
from multihop.report.verdicts import judge

COLUMNS = ["claim", "split", "statement", "quantity", "treatment", "studied", "reached", "reached_share"]
COLUMNS += ["reached_low", "reached_high", "n", "groups", "value", "ci_low", "ci_high", "criterion", "holds", "why"]
COLUMNS += ["cases_needed", "p_value"]
CENSORED = "never reached: past the last layer; groups of cases sharing e3 resampled together"
GROUPED = "groups of cases sharing e3 resampled together"
NO_REACH = {"k": 0, "n": 0, "share": math.nan, "low": math.nan, "high": math.nan}


def _row(claim, split, statement, *, quantity, treatment, reached, result, region, criterion, judged=None):
    """A findings row; its verdict from the interval, or `judged` (holds, why, cases needed, p)."""
    if judged is None:
        judged = (*judge(result, region), math.nan)
    holds, why, needed, p = judged
    counts = dict(studied=reached["n"], reached=reached["k"], reached_share=reached["share"])
    counts |= dict(reached_low=reached["low"], reached_high=reached["high"])
    return dict(
        claim=claim, split=split, statement=statement, quantity=quantity, treatment=treatment, **counts,
        **result, criterion=criterion, holds=holds, why=why, cases_needed=needed, p_value=p,
    )  # fmt: skip


def _groups(split: str, table: pd.DataFrame, groups: dict | None) -> list:
    """The group of each case of `table` (its e3 where known, else the case alone)."""
    return group_of((groups or {}).get(split, {}), table["id"])


def depth_claims() -> list[tuple]:
    """The claims about when a stage happens, from the catalog's stages (multihop.analyses.catalog):
    (claim, statement, stages.csv column, region of relative depth, criterion), by claim number."""
    claimed = [(stage.claim, column) for column, (_, stage) in catalog.stages().items() if stage.claim is not None]
    return [
        (claim.number, claim.statement, column, claim.region, claim.criterion)
        for claim, column in sorted(claimed, key=lambda pair: pair[0].number)
    ]


def findings(
    stages: dict[str, pd.DataFrame], num_layers: int, against: pd.DataFrame | None = None, groups=None
) -> pd.DataFrame:
    """One row per tested statement and split; `stages` maps split -> stages.csv of that split;
    `groups` maps split -> {case id: its group} (its e3); `against` (multihop.report.nulls.compared:
    back-patching against its nulls) decides back-patching's verdicts and adds the nulls' rows."""
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
                quantity = f"{STAGES.get(column, column)}: median relative depth"
                counts = reached(studied, column)
                yield _row(
                    claim,
                    split,
                    statement,
                    quantity=quantity,
                    treatment=CENSORED,
                    reached=counts,
                    result=result,
                    region=region,
                    criterion=criterion,
                )

    rows = list(depth_rows(depth_claims()))
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
                quantity="per case: second hop resolved minus first hop resolved, median relative depth "
                "(reached: both stages; e3 decoded but e2 never counts against the claim)",
                treatment=CENSORED,
                reached=share(int(both.sum()), len(studied)),
                result=result,
                region=(0.0, math.inf),
                criterion="interval above 0",
            )
        )
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
                quantity="first hop resolved: median relative depth, incorrect minus correct",
                treatment=CENSORED,
                reached=reached(counts, "first_hop_resolved"),
                result=result,
                region=(0.0, math.inf),
                criterion="interval above 0",
            )
        )
    if "incorrect" in stages:
        rows += headline_rows(stages["incorrect"], against, groups)
    if against is not None:
        rows += null_rows(against)
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
                    "chance",
                    split,
                    statement,
                    quantity=quantity,
                    treatment=CENSORED,
                    reached=chance,
                    result=result,
                    region=(-math.inf, 0.0),
                    criterion="interval below 0",
                )
            )
    return rows


HEADLINE = "back-patching a later layer's state into an earlier layer fixes some incorrect cases"
NULLS_CRITERION = (
    "beats every null that ran: forward patching, matched noise, another case's state (per case, the share "
    "of cells answering e3: interval of the difference above 0 and one-sided signed-rank p < 0.05 against each)"
)


def headline_rows(table: pd.DataFrame, against: pd.DataFrame | None, groups) -> list[dict]:
    """Back-patching's fixable share of incorrect cases at t1 and at t2 (the study's headline),
    then at t1 or t2 (ours), each with its exact interval; "yes" only where it beats every null."""
    cases = studied_for(table, "fixable_t1")
    fixable = backpatched_cases("incorrect", cases)
    kept = cases[cases.index.isin(fixable.index)]
    rows = []
    for position in nulls.WHERE:
        flags = fixable[position]
        counts = share(int(flags.sum()), len(flags))
        result = {
            "n": counts["n"],
            "groups": len(set(_groups("incorrect", kept, groups))),
            "value": counts["share"],
            "ci_low": counts["low"],
            "ci_high": counts["high"],
        }
        if against is None:
            judged = ("inconclusive", "no null to compare with", math.nan, math.nan)
        else:
            judged = (*nulls.beats_every_null(against, "incorrect", position), math.nan, math.nan)
        ours = " (ours: either position)" if position == nulls.UNION else " (the study's headline)"
        rows.append(
            _row(
                4,
                "incorrect",
                f"{HEADLINE}, at {position}{ours}",
                quantity=f"share of incorrect cases with some back-patch at {position} answering e3; cases whose "
                "unedited run already answers e3 (drift) left out",
                treatment="exact (Clopper-Pearson) interval over cases, as the study reports a share",
                reached=counts,
                result=result,
                region=(0.0, math.inf),
                criterion=f"{NULLS_CRITERION}; the study found 32-66% per position",
                judged=judged,
            )
        )
    return rows


def null_rows(against: pd.DataFrame) -> list[dict]:
    """Back-patching against each null at t1 and t2 (per-case share of cells answering e3), and
    the held-out test against each null: fix rate and net effect."""
    rows = []
    wanted = [(nulls.SUCCESS, position) for position in nulls.POSITIONS]
    wanted += [(heldout.FIXES, "chosen"), (heldout.NET, "chosen"), (heldout.OWN_NET, "chosen")]
    statements = {
        nulls.SUCCESS: "back-patching beats {null} at {position}",
        heldout.FIXES: "a back-patch chosen on other cases fixes held-out cases more often than one chosen from {null}",
        heldout.NET: "a back-patch chosen on other cases leaves held-out accuracy higher than one chosen from {null}",
        heldout.OWN_NET: "a back-patch chosen on other cases raises accuracy on held-out cases",
    }
    quantities = {
        nulls.SUCCESS: "per incorrect case: share of cells at {position} answering e3, back-patching minus "
        "{null}, mean",
        heldout.FIXES: "per incorrect case: share of its held-out folds it is fixed in, back-patching minus {null}, "
        "mean ({detail})",
        heldout.NET: "per case (incorrect +fixed, correct -broken): held-out net effect, back-patching minus {null}, "
        "mean ({detail})",
        heldout.OWN_NET: "per case (incorrect +fixed, correct -broken): held-out net effect of back-patching, mean "
        "({detail})",
    }
    for measure, position in wanted:
        for row in against[(against["measure"] == measure) & (against["position"] == position)].to_dict("records"):
            if row["split"] not in ("incorrect", "both"):
                continue
            names = {"null": row["null"], "position": position, "detail": row["detail"]}
            result = {key: row[key] for key in ("n", "groups", "value", "ci_low", "ci_high")}
            judged = (row["beats"], row["why"], row["cases_needed"], row["p_value"])
            compared = {**NO_REACH, "n": row["n"]}  # the cases compared; nothing to reach
            rows.append(
                _row(
                    "nulls",
                    row["split"],
                    statements[measure].format(**names),
                    quantity=quantities[measure].format(**names),
                    treatment=f"{GROUPED}; {row['test']}",
                    reached=compared,
                    result=result,
                    region=(0.0, math.inf),
                    criterion="interval above 0 and p < 0.05",
                    judged=judged,
                )
            )
    return rows
