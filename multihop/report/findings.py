"""The study's four claims (Biran et al. 2024, "Hopping Too Late", arXiv 2406.12775), each tested on this run's cases.

Layers are compared across models as relative depth: layer / (layers - 1), 0 = first block,
1 = last. Each claim has a row per split; the study's story is about the correct split (a model
that composes), the incorrect split's rows stand beside them. Every row reports one statistic and
its verdict is decided by that statistic (docs/statistics.md).

A stage claim ("e2 is resolved early") is read one of two ways (`reading`, the config's
`analyses.stage_reading`):

- "reached", the authors' (their box plots and stage means leave out the cases that never reach
  a stage): the median relative depth among the cases that reach the stage, against the claim's
  region. Its `why` always says among how many of the studied cases (with the reached share's
  interval), and where that interval lies below one half a "yes" is MINORITY_YES: the claim
  holds only for the minority of cases that reach the stage;
- "share", ours: the share of the studied cases that reach the stage inside the claim's region
  (early: before its bound; late: after it, and at all), against one half. A case that never
  reaches the stage counts against every timing claim, early or late.

Either way a stage never reached has no depth that could decide a verdict: it is left out, or it
is "not inside the region", whatever value stands for it (`never`). Each row gives beside its
statistic how many of the cases studied reach the stage, with a clustered exact interval.

Cases are not independent: intervals and tests treat as one group the cases that share e2 or e3
(`groups`, multihop.report.stats.connected_groups), across both splits. Verdicts read the whole
95% interval, with at least MIN_GROUPS groups (multihop.report.verdicts); an undecided row says
how many cases would decide (`cases_needed`).

Back-patching (claim 4) is the study's causal evidence: its headline is the fixable share at
each position, as the study reports it, and its verdict is "yes" only where back-patching's
fixable flag beats every null's, paired per case (multihop.report.nulls); otherwise it is not
distinguishable from chance, whatever its share.
"""

import math

import numpy as np
import pandas as pd

from multihop.analyses import catalog
from multihop.report import heldout, nulls
from multihop.report.stages import CHANCE, studied_for, with_donor
from multihop.report.stats import clustered, clustered_difference, clustered_share, group_of
from multihop.report.tables import STAGES, backpatched_cases, relative_depth
from multihop.report.verdicts import ALPHA, MIN_GROUPS, judge

COLUMNS = ["claim", "split", "statement", "quantity", "treatment", "studied", "reached", "reached_share"]
COLUMNS += ["reached_low", "reached_high", "n", "groups", "value", "ci_low", "ci_high", "criterion", "holds", "why"]
COLUMNS += ["cases_needed", "p_value"]
READINGS = ("reached", "share")
GROUPED = "groups of cases joined by a shared e2 or e3"
EXACT = (
    "clustered exact interval (Clopper-Pearson at n / design effect, with Korn-Graubard's degrees-of-freedom "
    f"correction) over {GROUPED}"
)
BOOTSTRAP = f"clustered percentile bootstrap over {GROUPED}"
TREATMENT = {
    "reached": f"never-reached cases left out (the authors' reading); {BOOTSTRAP}",
    "share": f"never reached counts against the claim; {EXACT}",
}
# claim 4 under the share reading: "not early" is what the claim predicts of the incorrect split
LATER_SHARE_TREATMENT = (
    "never reached counts as not early: for the claim in the incorrect split, against it in the correct one (the why "
    f"column gives the difference in reached share, to show where reach drives the result); {BOOTSTRAP}"
)
# the verdict of a `reached` row that holds among a minority: the reached share's interval below one half
MINORITY_YES = "yes, among the minority that reach it"
BOTH_SPLITS = "a group is drawn with its cases of both splits (they share answers)"
NO_REACH = {"k": 0, "n": 0, "value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
HALF = (0.5, math.inf)  # a share's region: more than half of the cases
ABOVE_ZERO = (0.0, math.inf)


def _row(claim, split, statement, *, quantity, treatment, reached, result, criterion, judged) -> dict:
    """A findings row: `reached` (a clustered share of the cases reaching the stage), `result` the
    row's statistic ({n, groups, value, ci_low, ci_high, ...}), `judged` (holds, why, cases needed, p)."""
    holds, why, needed, p = judged
    counts = dict(studied=reached["n"], reached=reached["k"], reached_share=reached["value"])
    counts |= dict(reached_low=reached["ci_low"], reached_high=reached["ci_high"])
    shown = {key: result[key] for key in ("n", "groups", "value", "ci_low", "ci_high")}
    return dict(
        claim=claim, split=split, statement=statement, quantity=quantity, treatment=treatment, **counts,
        **shown, criterion=criterion, holds=holds, why=why, cases_needed=needed, p_value=p,
    )  # fmt: skip


def _judged(result, region, *, bootstrap=True, per_case=1.0) -> tuple:
    """(holds, why, cases needed, p) of an interval row; `per_case`: studied cases per case of the
    statistic (the reached reading's statistic is over the cases that reach the stage)."""
    holds, why, needed = judge(result, region, bootstrap=bootstrap)
    return holds, why, math.ceil(needed * per_case) if math.isfinite(needed) else needed, math.nan


def _span(result: dict) -> str:
    """A result's 95% interval as "low to high" ("no interval" where it has none)."""
    low, high = result["ci_low"], result["ci_high"]
    return "no interval" if math.isnan(low) or math.isnan(high) else f"{low:.2f} to {high:.2f}"


def _number(value: float) -> str:
    return "none (no case)" if math.isnan(value) else f"{value:.2f}"


def among(judged: tuple, reached: dict, per_split: dict | None = None) -> tuple:
    """A `reached`-reading row's (holds, why, cases needed, p), conditioned on the cases that
    reach the stage: `why` begins "among k of n studied cases (reached share lo to hi)" (per split
    too, where `per_split` gives each split's reached share), and a "yes" is MINORITY_YES where
    the reached share's interval (or any split's) lies below one half."""
    holds, why, needed, p = judged
    said = f"among {reached['k']} of {reached['n']} studied cases (reached share {_span(reached)})"
    shares = [reached, *(per_split or {}).values()]
    if per_split:
        said += ": " + ", ".join(
            f"{split} {share['k']} of {share['n']} ({_span(share)})" for split, share in per_split.items()
        )
    if holds == "yes" and any(share["n"] and share["ci_high"] < 0.5 for share in shares):
        holds = MINORITY_YES
        said += ", a minority: the claim is shown only for the cases that reach the stage"
    return holds, "; ".join(part for part in (said, why) if part), needed, p


def _groups(split: str, table: pd.DataFrame, groups: dict | None) -> list:
    """The group of each case of `table` (its connected group where known, else the case alone)."""
    return group_of((groups or {}).get(split, {}), table["id"])


def depth_claims() -> list[tuple]:
    """The claims about when a stage happens, from the catalog's stages (multihop.analyses.catalog):
    (claim, statement, stages.csv column, region of relative depth, criterion), by claim number."""
    claimed = [(stage.claim, column) for column, (_, stage) in catalog.stages().items() if stage.claim is not None]
    return [
        (claim.number, claim.statement, column, claim.region, claim.criterion)
        for claim, column in sorted(claimed, key=lambda pair: pair[0].number)
    ]


def region_words(region: tuple[float, float]) -> str:
    """Where a claim puts a stage, in words: "before relative depth 0.5", ..."""
    start, end = region
    if math.isinf(start):
        return f"before relative depth {end:g}"
    if math.isinf(end):
        return f"after relative depth {start:g}"
    return f"between relative depths {start:g} and {end:g}"


def early_bound() -> float:
    """Claim 1's bound: the first hop resolves "early" before this relative depth."""
    return catalog.stages()["first_hop_resolved"][1].claim.region[1]


class Reader:
    """The stages of one run, read as `reading` says, with `never` the relative depth given to a
    stage never reached (any value past the last layer: no verdict depends on it)."""

    def __init__(self, stages, num_layers, groups, *, reading="reached", never=None):
        if reading not in READINGS:
            raise ValueError(f"stage reading {reading!r}: one of {', '.join(READINGS)}")
        if never is not None and not never > 1:  # 1 is the last layer: "never" must lie past it
            raise ValueError(f"never = {never!r}: the depth of a stage never reached must be past the last layer (> 1)")
        self.stages, self.num_layers, self.groups, self.reading = stages, num_layers, groups, reading
        self.never = relative_depth(num_layers, num_layers) if never is None else never

    def depth(self, table, column) -> pd.Series:
        return relative_depth(table[column].astype(float), self.num_layers).fillna(self.never)

    def reached(self, split, table, column) -> dict:
        return clustered_share(table[column].notna(), _groups(split, table, self.groups))

    def inside(self, table, column, region) -> pd.Series:
        """Per case: the stage reached, inside the open region of relative depth."""
        depth = self.depth(table, column)
        return table[column].notna() & (depth > region[0]) & (depth < region[1])

    def stage_row(self, claimed: tuple, split: str) -> dict:
        """A stage claim's row (`claimed`: a `depth_claims` entry) on one split."""
        claim, statement, column, region, criterion = claimed
        table = studied_for(self.stages[split], column)
        reached = self.reached(split, table, column)
        name = STAGES.get(column, column)
        if self.reading == "reached":
            hit = table[column].notna()
            result = clustered(self.depth(table, column)[hit], _groups(split, table[hit], self.groups), "median")
            per_case = reached["n"] / reached["k"] if reached["k"] else math.nan
            judged = among(_judged(result, region, per_case=per_case), reached)
            quantity = f"{name}: median relative depth of the cases that reach it"
            criterion = f"{criterion}, among the cases that reach it"
        else:
            result = clustered_share(self.inside(table, column, region), _groups(split, table, self.groups))
            judged = _judged(result, HALF, bootstrap=False)
            quantity = f"{name}: share of the studied cases that reach it {region_words(region)}"
            criterion = f"more than half of the studied cases reach it {region_words(region)}: interval above 0.5"
        return _row(
            claim, split, statement, quantity=quantity, treatment=TREATMENT[self.reading], reached=reached,
            result=result, criterion=criterion, judged=judged,
        )  # fmt: skip

    def order_row(self, split) -> dict:
        """Claim 3, per case: the second hop (e3 decoded from t2) after the first (e2 from t1)."""
        table = studied_for(self.stages[split], "first_hop_resolved")  # both stages come from Patchscopes
        both = table["e3_decoded_t2"].notna() & table["first_hop_resolved"].notna()
        after = self.depth(table, "e3_decoded_t2") - self.depth(table, "first_hop_resolved")
        reached = clustered_share(both, _groups(split, table, self.groups))
        if self.reading == "reached":
            result = clustered(after[both], _groups(split, table[both], self.groups), "median")
            per_case = reached["n"] / reached["k"] if reached["k"] else math.nan
            judged = among(_judged(result, ABOVE_ZERO, per_case=per_case), reached)
            quantity = "per case reaching both: second hop resolved minus first hop resolved, median relative depth"
            criterion = "interval above 0, among the cases that reach both"
        else:
            result = clustered_share(both & (after > 0), _groups(split, table, self.groups))
            judged = _judged(result, HALF, bootstrap=False)
            quantity = "share of the studied cases that resolve both hops, the second at a later layer than the first"
            criterion = "more than half of the studied cases: interval above 0.5"
        return _row(
            3, split, "the second hop is resolved after the first", quantity=quantity,
            treatment=TREATMENT[self.reading], reached=reached, result=result, criterion=criterion, judged=judged,
        )  # fmt: skip

    def later_row(self) -> dict:
        """Claim 4: the first hop resolves later in incorrect cases than in correct ones."""
        column = "first_hop_resolved"
        tables = {split: studied_for(self.stages[split], column) for split in ("incorrect", "correct")}
        grouped = {
            split: np.asarray(_groups(split, table, self.groups), dtype=object) for split, table in tables.items()
        }
        both = pd.concat(tables.values())
        reached = clustered_share(both[column].notna(), np.concatenate(list(grouped.values())))
        per_split = {split: clustered_share(table[column].notna(), grouped[split]) for split, table in tables.items()}
        treatment = f"{TREATMENT[self.reading]}; {BOTH_SPLITS}"
        if self.reading == "reached":
            hit = {split: table[column].notna().to_numpy() for split, table in tables.items()}
            depth = {split: self.depth(table, column)[hit[split]] for split, table in tables.items()}
            result = clustered_difference(
                depth["incorrect"], grouped["incorrect"][hit["incorrect"]],
                depth["correct"], grouped["correct"][hit["correct"]],
                statistic="median",
            )  # fmt: skip
            per_case = reached["n"] / reached["k"] if reached["k"] else math.nan
            judged = among(_judged(result, ABOVE_ZERO, per_case=per_case), reached, per_split)
            quantity = "first hop resolved: median relative depth of the cases that reach it, incorrect minus correct"
            criterion = "interval above 0, among the cases that reach it"
        else:
            early = (-math.inf, early_bound())
            flags = {split: self.inside(table, column, early).astype(float) for split, table in tables.items()}
            result = clustered_difference(
                flags["correct"], grouped["correct"], flags["incorrect"], grouped["incorrect"], statistic="mean"
            )
            holds, why, needed, p = _judged(result, ABOVE_ZERO)
            judged = holds, "; ".join(part for part in (self.reach_gap(tables, grouped, early), why) if part), needed, p
            quantity = (
                f"share of the studied cases resolving the first hop {region_words(early)}, correct minus incorrect"
            )
            criterion = "interval above 0"
            treatment = f"{LATER_SHARE_TREATMENT}; {BOTH_SPLITS}"
        return _row(
            4, "both", "in incorrect cases the first hop resolves later than in correct ones", quantity=quantity,
            treatment=treatment, reached=reached, result=result, criterion=criterion, judged=judged,
        )  # fmt: skip

    def reach_gap(self, tables: dict, grouped: dict, early: tuple) -> str:
        """Claim 4 under the share reading: how much of "correct minus incorrect" is reach. The
        difference in reached share (correct minus incorrect, with its clustered bootstrap
        interval), and the same difference of resolving early among the cases that reach it."""
        column = "first_hop_resolved"
        hit = {split: table[column].notna() for split, table in tables.items()}
        gap = clustered_difference(
            hit["correct"].astype(float), grouped["correct"], hit["incorrect"].astype(float), grouped["incorrect"],
            statistic="mean",
        )  # fmt: skip
        timed = {split: self.inside(table, column, early)[hit[split]].mean() for split, table in tables.items()}
        return (
            f"reached share, correct minus incorrect: {_number(gap['value'])} ({_span(gap)}); resolving it "
            f"{region_words(early)} among the cases that reach it, correct minus incorrect: "
            f"{_number(timed['correct'] - timed['incorrect'])}"
        )

    def chance_rows(self) -> list[dict]:
        """Per split, each Patchscopes stage against chance (the same under both readings): per
        case +1 where its own name is decoded at an earlier layer than another case's (or only
        its own is decoded at all), -1 the other way round, 0 at the same layer or where neither
        is; the mean, against 0. `reached`: the cases where another case's name is decoded at all."""
        rows = []
        for column, statement in CHANCE_CLAIMS.items():
            baseline = CHANCE[column]
            for split, table in self.stages.items():
                if baseline not in table:  # a stages table made before the baseline existed
                    continue
                studied = with_donor(studied_for(table, column))
                score = np.sign(self.depth(studied, baseline) - self.depth(studied, column))
                result = clustered(score, _groups(split, studied, self.groups), "mean")
                quantity = (
                    f"per case: +1 where {STAGES.get(column, column)} comes at an earlier layer than the same for "
                    "another case's names (or only for its own), -1 where later (or only for the other's), 0 at the "
                    "same layer or neither; mean. reached: cases where another case's name is decoded at all (chance)"
                )
                rows.append(
                    _row(
                        "chance",
                        split,
                        statement,
                        quantity=quantity,
                        treatment=f"never reached is later than any layer; {BOOTSTRAP}",
                        reached=clustered_share(studied[baseline].notna(), _groups(split, studied, self.groups)),
                        result=result,
                        criterion="interval above 0",
                        judged=_judged(result, ABOVE_ZERO),
                    )  # fmt: skip
                )
        return rows


def findings(
    stages: dict[str, pd.DataFrame],
    num_layers: int,
    against: pd.DataFrame | None = None,
    groups=None,
    *,
    reading: str = "reached",
    never: float | None = None,
) -> pd.DataFrame:
    """One row per tested statement and split; `stages` maps split -> stages.csv of that split;
    `groups` maps split -> {case id: its group} (multihop.report.stats.connected_groups);
    `against` (multihop.report.nulls.compared: back-patching against its nulls) decides
    back-patching's verdicts and adds the nulls' rows; `reading` how a stage claim is read
    ("reached": the authors', "share": ours); `never` the relative depth that stands for a stage
    never reached (default: just past the last layer; no verdict depends on it)."""
    reader = Reader(stages, num_layers, groups, reading=reading, never=never)
    rows = [reader.stage_row(claimed, split) for claimed in depth_claims() for split in stages]
    rows += [reader.order_row(split) for split in stages]
    rows += reader.chance_rows()
    if {"correct", "incorrect"} <= set(stages):
        rows.append(reader.later_row())
    if "incorrect" in stages:
        rows += headline_rows(stages["incorrect"], against, groups)
    if against is not None:
        rows += null_rows(against)
    return pd.DataFrame(rows, columns=COLUMNS)


# beyond the study: Patchscopes' stages against the same generations read for another case's
# names (multihop.report.stages.chance_baseline)
CHANCE_CLAIMS = {
    "first_hop_resolved": "e2 is decoded from t1 earlier than another case's e2",
    "e3_decoded_t2": "e3 is decoded from t2 earlier than another case's e3",
}

HEADLINE = "back-patching a later layer's state into an earlier layer fixes some incorrect cases"
PAIRED_CRITERION = f"sign-flip test over groups p < {ALPHA} (and, with {MIN_GROUPS} groups, the interval above 0)"
NULLS_CRITERION = (
    "beats every null that ran (forward patching, matched noise, another case's state) on the fixable flag, per "
    f"case back-patching's flag minus the null's: {PAIRED_CRITERION}, against each"
)


def headline_rows(table: pd.DataFrame, against: pd.DataFrame | None, groups) -> list[dict]:
    """Back-patching's fixable share of incorrect cases at t1 and at t2 (the study's headline),
    then at t1 or t2 (ours), each with its clustered exact interval; "yes" only where its fixable
    flag beats every null's."""
    cases = studied_for(table, "fixable_t1")
    fixable = backpatched_cases("incorrect", cases)
    kept = cases.loc[fixable.index]
    rows = []
    for position in nulls.WHERE:
        result = clustered_share(fixable[position].astype(float), _groups("incorrect", kept, groups))
        if against is None:
            judged = ("inconclusive", "no null to compare with", math.nan, math.nan)
        else:
            judged = (*nulls.beats_every_null(against, "incorrect", position, nulls.FIXABLE), math.nan)
        ours = " (ours: either position)" if position == nulls.UNION else " (the study's headline)"
        rows.append(
            _row(
                4,
                "incorrect",
                f"{HEADLINE}, at {position}{ours}",
                quantity=f"share of incorrect cases with some back-patch at {position} answering e3 (fixable); cases "
                "whose unedited run already answers e3 (drift) left out",
                treatment=EXACT,
                reached=result,
                result=result,
                criterion=f"{NULLS_CRITERION}; the study found 32-66% per position",
                judged=judged,
            )
        )
    return rows


def null_rows(against: pd.DataFrame) -> list[dict]:
    """Back-patching against each null at t1, t2 and t1 or t2 on the fixable flag (what decides
    the headline) and at t1 and t2 on the per-case share of cells answering e3 (its own row), and
    the held-out test against each null: fix rate and net effect."""
    rows = []
    wanted = [(nulls.FIXABLE, position) for position in nulls.WHERE]
    wanted += [(nulls.SUCCESS, position) for position in nulls.POSITIONS]
    wanted += [(heldout.FIXES, "chosen"), (heldout.NET, "chosen"), (heldout.OWN_NET, "chosen")]
    statements = {
        nulls.FIXABLE: "back-patching fixes more cases than {null} at {position} (the fixable flag)",
        nulls.SUCCESS: "back-patching beats {null} at {position} (per-case share of cells answering e3)",
        heldout.FIXES: "a back-patch chosen on other cases fixes held-out cases more often than one chosen from {null}",
        heldout.NET: "a back-patch chosen on other cases leaves held-out accuracy higher than one chosen from {null}",
        heldout.OWN_NET: "a back-patch chosen on other cases raises accuracy on held-out cases",
    }
    quantities = {
        nulls.FIXABLE: "per incorrect case: fixable at {position} by back-patching (1/0) minus by {null}, mean: "
        "the difference of the two fixable shares, paired",
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
            compared = {**NO_REACH, "n": row["n"]}  # the cases compared; nothing to reach
            rows.append(
                _row(
                    "nulls",
                    row["split"],
                    statements[measure].format(**names),
                    quantity=quantities[measure].format(**names),
                    treatment=f"{BOOTSTRAP}; {row['test']}",
                    reached=compared,
                    result=result,
                    criterion=PAIRED_CRITERION,
                    judged=(row["beats"], row["why"], row["cases_needed"], row["p_value"]),
                )
            )
    return rows
