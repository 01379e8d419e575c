"""Tables, findings and figures on hand-made results (the numbers are checked by hand)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.stats import norm

from multihop.report import figures, judges
from multihop.report import stages as stages_module
from multihop.report.comparison import model_rows, relative_stages
from multihop.report.findings import MINORITY_YES, findings
from multihop.report.pages import write_html_table
from multihop.report.stages import COLUMNS
from multihop.report.stats import clustered, clustered_difference, clustered_share, connected_groups, estimate
from multihop.report.tables import (
    POOLED,
    backpatching,
    first_layer_shares,
    pooled,
    projection,
    rate_grid,
    relative_depth,
    stage_rows,
)
from multihop.report.verdicts import MIN_GROUPS, cases_needed, judge, verdict


def stages_table(rows) -> pd.DataFrame:
    """stages.csv rows from dicts; stages not given never happen, flags not given are False."""
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    flags = ["fixable_t1", "fixable_t2", "unedited_correct"]
    table[flags] = table[flags].eq(True)
    return table


def test_estimate_and_its_interval():
    result = estimate([0, 1, 1, 1, np.nan])
    assert result["n"] == 4 and result["value"] == 0.75
    assert 0 <= result["ci_low"] < 0.75 < result["ci_high"] <= 1
    assert estimate([1.0, 1.0, 1.0]) == {"n": 3, "value": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    single = estimate([0.4], np.median)
    assert single["value"] == 0.4 and math.isnan(single["ci_low"]) and math.isnan(single["ci_high"])
    assert math.isnan(estimate([])["value"])
    assert estimate(range(10), seed=1) == estimate(range(10), seed=1)  # seeded: a rerun gives the same table


def _result(n, groups, value, low, high, variance=math.nan, naive_variance=math.nan):
    return {"n": n, "groups": groups, "value": value, "ci_low": low, "ci_high": high, "variance": variance,
            "naive_variance": naive_variance}  # fmt: skip


def test_a_difference_between_splits_draws_each_group_with_its_cases_of_both_splits():
    """Group g0 holds a case of each split: it is one group, drawn (or not) with both cases."""
    result = clustered_difference([5, 6, 7], ["g0", "g1", "g2"], [1, 2], ["g0", "g3"], statistic="median")
    assert result["n"] == 5 and result["groups"] == 4 and result["value"] == 6 - 1.5
    assert result["ci_low"] <= result["value"] <= result["ci_high"]
    assert math.isnan(clustered_difference([5], ["g0"], [1], ["g0"])["ci_low"])  # one group: no interval
    means = clustered_difference([1.0, 0.0], ["a", "b"], [0.0, 0.0], ["a", "b"], statistic="mean")
    assert means["value"] == 0.5 and means["naive_variance"] == pytest.approx(0.5 / 2)


def test_verdict_reads_the_whole_interval_of_enough_groups():
    assert verdict(_result(20, 20, 0.2, 0.1, 0.3), (-math.inf, 0.5)) == ("yes", "")
    assert verdict(_result(20, 20, 0.7, 0.6, 0.9), (-math.inf, 0.5))[0] == "no"
    assert verdict(_result(20, 20, 0.5, 0.4, 0.6), (-math.inf, 0.5))[0] == "inconclusive"
    holds, why = verdict(_result(30, 30, 0.0, 0.0, 0.0), (0.0, math.inf))  # a zero-width bootstrap bounds nothing
    assert holds == "inconclusive" and "zero width" in why
    assert verdict(_result(30, 30, 0.0, 0.0, 0.0), (-math.inf, 0.5), bootstrap=False)[0] == "yes"  # an exact one can
    # the minimum of groups: 19 groups give no verdict however narrow the interval, 20 do
    holds, why = verdict(_result(19, 19, 0.2, 0.1, 0.3), (-math.inf, 0.5))
    assert MIN_GROUPS == 20 and holds == "too few groups" and "19 independent groups" in why
    assert verdict(_result(40, 19, 0.2, 0.1, 0.3), (-math.inf, 0.5))[0] == "too few groups"  # groups, not cases
    assert verdict(_result(9, 30, math.nan, math.nan, math.nan), (0.0, 1.0))[0] == "too few groups"


def test_cases_needed_is_one_formula():
    """n = DE (z_0.975 + z_0.80)^2 sigma^2 / d^2, at least MIN_GROUPS groups of the present size."""
    z2 = (norm.ppf(0.975) + norm.ppf(0.8)) ** 2  # 7.849
    # a share of 0.6 over 100 cases in 100 groups: sigma^2 = 0.24, d = 0.1, no design effect
    alone = _result(100, 100, 0.6, 0.5, 0.7, variance=0.0024, naive_variance=0.0024)
    assert cases_needed(alone, (0.5, math.inf)) == (math.ceil(z2 * 0.24 / 0.01), "") == (189, "")
    # the same with a design effect of 2 (the clustered variance twice the naive one): twice the cases
    assert cases_needed({**alone, "variance": 0.0048}, (0.5, math.inf))[0] == math.ceil(2 * z2 * 0.24 / 0.01)
    # a design effect below 1 counts as 1
    assert cases_needed({**alone, "variance": 0.001}, (0.5, math.inf))[0] == 189
    # where the groups a verdict needs bind, no number near n: "needs >=20 groups" (10 groups of 5 cases)
    needed, why = cases_needed(_result(50, 10, 0.9, 0.6, 1.0, 0.0, 0.0), (0.5, math.inf))
    assert math.isnan(needed) and "needs ≥20 groups (has 10)" in why
    # on the bound: no number, and why
    needed, why = cases_needed({**alone, "value": 0.5}, (0.5, math.inf))
    assert math.isnan(needed) and why == "cannot decide at this estimate (it sits on the bound)"
    # the nearest bound of a two-sided region
    assert cases_needed({**alone, "value": 0.35}, (0.25, 0.75))[0] == math.ceil(z2 * 100 * 0.0024 / 0.1**2)
    # every undecided row carries it (inconclusive or too few groups); decided rows do not
    assert judge(alone, (0.5, math.inf))[2] == 189
    assert math.isnan(judge({**alone, "ci_low": 0.55}, (0.5, math.inf))[2])
    few = judge(_result(10, 10, 0.6, 0.5, 0.7, 0.0024, 0.0024), (0.5, math.inf))
    assert few[0] == "too few groups" and math.isnan(few[2]) and "needs ≥20 groups" in few[1]  # not 20 = 2n
    on_the_bound = judge({**alone, "value": 0.5}, (0.5, math.inf))
    assert math.isnan(on_the_bound[2]) and "cannot decide at this estimate" in on_the_bound[1]


def test_cases_needed_is_never_n_or_n_plus_one():
    """Three ways the power formula gave a number a row already has: a zero-width bootstrap
    interval (every resample the same median, the naive variance not 0), the floor of 20 groups
    at 19 groups (n + 1), and a percentile interval wider than 1.96 standard errors (a number
    below n). Each is blank now, and `why` says what blocks the verdict."""
    # the median 0.3 in every resample of 74 cases (the case bootstrap's variance is not 0): 52 before
    zero = judge(_result(74, 74, 0.3, 0.3, 0.3, 0.0, 0.004), (0.5, math.inf))
    assert zero[0] == "inconclusive" and math.isnan(zero[2]) and "zero-width interval measures no spread" in zero[1]
    # 17 of 19 cases in 19 groups: the floor of 20 groups gave 20 = n + 1
    share = clustered_share([1] * 17 + [0] * 2, range(19))
    floor = judge(share, (0.5, math.inf), bootstrap=False)
    assert floor[0] == "too few groups" and math.isnan(floor[2]) and "needs ≥20 groups (has 19)" in floor[1]
    # a percentile interval reaching the bound though 1.96 standard errors would not: the formula says 30 of 40
    skewed = judge(_result(40, 40, 0.2, 0.02, 0.6, 0.0036, 0.003), (0.0, 0.5))
    assert skewed[0] == "inconclusive" and math.isnan(skewed[2]) and "shape" in skewed[1]
    assert "not its size, blocks a verdict" in skewed[1]
    # never n or n + 1, whatever the row
    for n in (5, 19, 20, 40, 74):
        for groups in (2, n // 2 or 1, n):
            for variance in (0.0, 1e-4, 1e-3, 1e-2):
                got, _ = cases_needed(_result(n, groups, 0.6, 0.4, 0.8, variance, variance), (0.5, math.inf))
                assert math.isnan(got) or got > n + 1, (n, groups, variance, got)


def test_shares_have_clustered_exact_intervals():
    """Cases alone: the exact Clopper-Pearson interval. Pairs of identical cases: the design
    effect doubles the variance and halves the effective cases. 12 of 12 is not [1, 1]."""
    alone = clustered_share([1] * 6 + [0] * 6, range(12))
    exact = scipy_stats.binomtest(6, 12).proportion_ci(method="exact")
    assert (alone["ci_low"], alone["ci_high"]) == pytest.approx((exact.low, exact.high))
    assert alone["variance"] == pytest.approx(alone["naive_variance"])  # a design effect of 1
    paired = clustered_share([1] * 6 + [0] * 6, [k // 2 for k in range(12)])
    effect = 2 * (11 / 12) * (6 / 5)  # two alike per group; the finite corrections of 12 cases and 6 groups
    assert paired["groups"] == 6 and paired["variance"] == pytest.approx(effect * paired["naive_variance"])
    df = (scipy_stats.t.ppf(0.975, 11) / scipy_stats.t.ppf(0.975, 5)) ** 2  # Korn-Graubard: 12 cases, 6 groups
    size = 12 / effect * df  # Clopper-Pearson at the effective sample size, corrected for degrees of freedom
    low, high = scipy_stats.beta.ppf([0.025, 0.975], [size / 2, size / 2 + 1], [size / 2 + 1, size / 2])
    assert (paired["ci_low"], paired["ci_high"]) == pytest.approx((low, high))
    # 12 of 12 in 3 groups: no design effect to measure, but two degrees of freedom, not eleven
    every = clustered_share([1] * 12, [k // 4 for k in range(12)])
    size = 12 * (scipy_stats.t.ppf(0.975, 11) / scipy_stats.t.ppf(0.975, 2)) ** 2
    assert every["value"] == 1 and every["ci_high"] == 1 and every["ci_low"] == pytest.approx(0.025 ** (1 / size))
    assert every["ci_low"] < 1 - 0.2646  # wider than the cases alone would give
    assert math.isnan(clustered_share([], [])["value"])


def test_korn_graubard_degrees_of_freedom_widen_a_share_from_few_groups():
    """60 cases in 20 groups of three, half of them 1 (a design effect below 1, counted as 1):
    without the degrees-of-freedom correction the interval is Clopper-Pearson over 60 cases, some
    4% too narrow; with it, over 60 (t_59 / t_19)^2 effective cases."""
    flags, groups = [k % 2 for k in range(60)], [k // 3 for k in range(60)]
    share = clustered_share(flags, groups)
    assert share["groups"] == 20 and share["variance"] < share["naive_variance"]
    factor = (scipy_stats.t.ppf(0.975, 59) / scipy_stats.t.ppf(0.975, 19)) ** 2
    assert factor == pytest.approx(0.914, abs=1e-3)
    size = 60 * factor
    low, high = scipy_stats.beta.ppf([0.025, 0.975], [size / 2, size / 2 + 1], [size / 2 + 1, size / 2])
    assert (share["ci_low"], share["ci_high"]) == pytest.approx((low, high))
    uncorrected = scipy_stats.binomtest(30, 60).proportion_ci(method="exact")
    assert share["ci_high"] - share["ci_low"] > 1.04 * (uncorrected.high - uncorrected.low)


def test_connected_groups_join_cases_sharing_e2_or_e3_across_splits():
    correct = pd.DataFrame({"id": ["a", "b", "c", "e"], "e2": ["X", "X", "Y", "W"], "e3": ["P", "Q", "Q", "R"]})
    incorrect = pd.DataFrame({"id": ["d", "f", "g"], "e2": ["Z", "V", "V"], "e3": ["P", "S", "T"]})
    groups = connected_groups({"correct": correct, "incorrect": incorrect})
    # a-b by e2 X, b-c by e3 Q, a-d by e3 P (across the splits); f-g by e2 V; e alone
    assert len({groups["correct"][case] for case in "abc"} | {groups["incorrect"]["d"]}) == 1
    assert groups["incorrect"]["f"] == groups["incorrect"]["g"] != groups["correct"]["a"]
    assert groups["correct"]["e"] not in {groups["correct"]["a"], groups["incorrect"]["f"]}
    assert len(set(groups["correct"].values()) | set(groups["incorrect"].values())) == 3
    # an entity in another role does not join: X as e3 of h does not join h to a and b
    other = connected_groups({"correct": correct, "incorrect": pd.DataFrame({"id": ["h"], "e2": ["U"], "e3": ["X"]})})
    assert other["incorrect"]["h"] not in set(other["correct"].values())
    # a missing entity joins nothing: cases without e2 (None) or without e3 (NaN) stay apart
    missing = pd.DataFrame({"id": ["m", "n", "o"], "e2": [None, None, "Q"], "e3": ["A", np.nan, np.nan]})
    apart = connected_groups({"correct": missing})["correct"]
    assert len(set(apart.values())) == 3, apart


def test_duplicated_clusters_give_the_interval_of_one_case_per_cluster():
    values = np.array([0.1, 0.3, 0.2, 0.6, 0.5, 0.4, 0.9, 0.7])
    single = clustered(values, np.arange(8))
    twice = clustered(np.repeat(values, 3), np.repeat(np.arange(8), 3))  # each case in triplicate
    assert twice["groups"] == single["groups"] == 8 and twice["n"] == 24
    assert (twice["ci_low"], twice["ci_high"]) == (single["ci_low"], single["ci_high"])
    # as independent cases the copies would narrow the interval
    naive = clustered(np.repeat(values, 3), np.arange(24))
    assert naive["ci_high"] - naive["ci_low"] < single["ci_high"] - single["ci_low"]
    assert twice["variance"] > 2 * twice["naive_variance"]  # a design effect of about 3
    difference = clustered_difference(values, np.arange(8), values - 0.5, np.arange(8))
    assert difference["value"] == pytest.approx(0.5) and difference["groups"] == 8  # one group in both splits


def test_no_resample_of_a_difference_lacks_a_split():
    """The second split is one case in a group of its own: resampling all 31 groups at once left it
    out of a third of the resamples, which dropped out of the interval unsaid. Drawn within strata
    (groups of the first split, of the second, of both), every resample holds it, and the interval
    is the first split's own, shifted by that case's value."""
    values = np.array([0.1, 0.3, 0.2, 0.6, 0.5, 0.4, 0.9, 0.7, 0.8, 0.35] * 3)
    alone = clustered(values, np.arange(30), "median")
    difference = clustered_difference(values, np.arange(30), [0.25], ["solo"], statistic="median")
    assert difference["groups"] == 31
    shifted = (alone["ci_low"] - 0.25, alone["ci_high"] - 0.25)
    assert (difference["ci_low"], difference["ci_high"]) == pytest.approx(shifted)
    assert difference["variance"] == pytest.approx(alone["variance"])


STAGES = {
    "correct": stages_table(
        [
            {
                "id": "a",
                "first_hop_resolved": 1,
                "e3_decoded_t2": 15,
                "prediction_extracted": 18,
                "unedited_correct": True,
            },
            {"id": "b", "first_hop_resolved": 2, "e3_decoded_t2": 16, "fixable_t1": True, "unedited_correct": True},
        ]
    ),
    "incorrect": stages_table(
        [
            {"id": "c", "first_hop_resolved": 3, "information_propagation": 9.0, "fixable_t2": True},
            {"id": "d", "first_hop_resolved": 5},
            {"id": "e", "fixable_t1": True, "unedited_correct": True},  # drift: left out of the fix rate
        ]
    ),
}


def test_stage_rows_and_first_layer_shares():
    stages = stage_rows(STAGES)
    assert len(stages) == 3 + 2 + 2 + 1  # every stage a case reaches, and no row for the others
    assert set(stages["stage"]) == {
        "first hop resolved",
        "information propagation",
        "second hop resolved",
        "prediction extracted",
    }
    shares = first_layer_shares(STAGES, num_layers=20).set_index(["split", "event", "layer"])["percent"]
    assert shares["incorrect", "e2 decoded from t1", 3] == pytest.approx(100 / 3)
    assert shares["correct", "e3 decoded from t2", 16] == 50
    # a split's percents sum to the share of its cases where the event happens at all
    assert shares["incorrect", "e2 decoded from t1"].sum() == pytest.approx(200 / 3)
    assert shares["incorrect", "e3 decoded from t2"].sum() == 0
    # the study pools the splits: one line over all the cases
    both = first_layer_shares(pooled(STAGES), num_layers=20).set_index(["split", "event", "layer"])["percent"]
    cases = sum(len(table) for table in STAGES.values())
    assert set(both.index.get_level_values("split")) == {POOLED}
    assert both[POOLED, "e2 decoded from t1", 3] == pytest.approx(100 / cases)
    assert both[POOLED, "e3 decoded from t2"].sum() == pytest.approx(100 * 2 / cases)  # per split: 100 and 0


def test_rate_grid_is_target_by_source_and_blank_where_nothing_ran():
    table = pd.DataFrame({"source_layer": [2, 2, 1, 2], "target_layer": [0, 0, 0, 1], "hit": [True, False, True, True]})
    grid = rate_grid(table, table["hit"], num_layers=3)
    assert grid.shape == (3, 3) and grid.index.name == "target_layer"
    assert grid.loc[0, 2] == 0.5 and grid.loc[0, 1] == 1 and grid.loc[1, 2] == 1
    assert np.isnan(grid.loc[2, 0]) and np.isnan(grid.loc[1, 1])


def test_backpatching_table():
    table = backpatching(STAGES).set_index(["split", "position"])
    # case e of the incorrect split answers right unedited (drift): left out of n, counted apart
    assert table.loc[("incorrect", "t1"), ["n", "fixable", "unedited_correct"]].tolist() == [2, 0, 1]
    assert table.loc[("incorrect", "t1 or t2"), ["fixable", "share"]].tolist() == [1, 0.5]
    assert table.loc[("correct", "t1"), ["n", "fixable", "share"]].tolist() == [2, 1, 0.5]
    # 0 of 2: the exact interval, not [0, 0]
    none = table.loc[("correct", "t2")]
    assert (none["fixable"], none["share"], none["ci_low"]) == (0, 0, 0) and none["ci_high"] > 0.8
    # the two correct cases share an answer: one group, and the interval widens with it
    together = backpatching(STAGES, {"correct": {"a": "g", "b": "g"}}).set_index(["split", "position"])
    assert together.loc[("correct", "t1"), "groups"] == 1 and table.loc[("correct", "t1"), "groups"] == 2
    twelve = backpatching({"correct": stages_table([{"id": f"c{k}", "fixable_t1": True} for k in range(12)])})
    assert twelve.set_index("position").loc["t1", "ci_low"] == pytest.approx(1 - 0.2646, abs=1e-4)  # not [1, 1]


def test_projection_table():
    rows = [
        ("a", "mlp", 3, 1, 9, 1),
        ("a", "mlp", 5, 1, 1, 1),
        ("b", "mlp", 7, 2, 2, 1),
        ("b", "attention", 2, 1, 4, 4),
    ]
    table = pd.DataFrame(rows, columns=["id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank"])
    got = projection({"correct": table}).set_index(["sublayer", "token"])
    assert got.loc[("mlp", "prediction"), ["n", "cases", "share", "mean_layer"]].tolist() == [2, 2, 1.0, 5.0]
    assert got.loc[("attention", "e3"), "cases"] == 0 and np.isnan(got.loc[("attention", "e3"), "mean_layer"])
    # the study's mean is over every layer where e2 ranks first (a: 3 and 5), ours over each case's first
    assert got.loc[("mlp", "e2"), ["cases", "mean_layer"]].tolist() == [1, 4.0]
    first = projection({"correct": table}, mean="first").set_index(["sublayer", "token"])
    assert first.loc[("mlp", "e2"), ["cases", "mean_layer"]].tolist() == [1, 3.0]


CASES = 24  # enough groups for a verdict (MIN_GROUPS), each case alone


def many_cases(first_hops_correct=(1, 2), first_hops_incorrect=(3, 5, 4, 6, None, None, 5, 4)):
    """24 correct and 24 incorrect cases (plus one drifting) following the study's picture."""
    correct = [
        {"id": f"c{i}", "first_hop_resolved": first_hops_correct[i % 2], "information_propagation": 9 + i % 2,
         "e3_decoded_t2": 14 + i % 5, "prediction_extracted": 18 + i % 2, "fixable_t1": True,
         "unedited_correct": True}
        for i in range(CASES)
    ]  # fmt: skip
    incorrect = [
        {"id": f"i{i}", "first_hop_resolved": first_hops_incorrect[i % len(first_hops_incorrect)],
         "fixable_t2": i % 2 == 0}
        for i in range(CASES)
    ]  # fmt: skip
    incorrect.append({"id": "drift", "fixable_t1": True, "unedited_correct": True})
    return {"correct": stages_table(correct), "incorrect": stages_table(incorrect)}


def row(table, statement: str, split: str):
    found = table[table["statement"].str.startswith(statement) & (table["split"] == split)]
    assert len(found) == 1, (statement, split)
    return found.iloc[0]


@pytest.mark.parametrize("reading", ["reached", "share"])
def test_findings_hold_where_the_cases_follow_the_study(reading):
    got = findings(many_cases(), num_layers=21, reading=reading)  # relative depth = layer / 20
    assert list(got["claim"]) == [1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4]
    assert list(got["split"]) == ["correct", "incorrect"] * 5 + ["both", "incorrect", "incorrect", "incorrect"]
    correct = got[got["split"] == "correct"]
    assert set(correct["holds"]) == {"yes"}, correct[["statement", "value", "ci_low", "ci_high", "holds", "why"]]
    assert correct["cases_needed"].isna().all()  # decided rows need no more cases
    early = row(got, "the bridge entity", "correct")
    assert early.reached == CASES and early.studied == CASES
    # incorrect: 3,5,4,6,5,4 (x3) and six never resolved (the drifting case too)
    late = row(got, "the bridge entity", "incorrect")
    assert (late.studied, late.reached) == (CASES + 1, 18) and late.reached_low < 18 / 25 < late.reached_high
    later = row(got, "in incorrect cases", "both")
    assert later.holds == "yes" and later.studied == 2 * CASES + 1
    if reading == "reached":  # medians of the cases that reach the stage
        assert early.why.startswith(f"among {CASES} of {CASES} studied cases (reached share ")
        assert late.why.startswith(f"among 18 of {CASES + 1} studied cases (reached share ")
        assert early.n == CASES and early.value == pytest.approx(1.5 / 20)
        assert late.n == 18 and late.value == pytest.approx(4.5 / 20)
        assert later.value == pytest.approx(4.5 / 20 - 1.5 / 20)
    else:  # shares of the studied cases that reach it inside the claim's region
        assert early.n == CASES and early.value == 1
        assert late.n == CASES + 1 and late.value == pytest.approx(18 / 25)
        assert later.value == pytest.approx(1 - 18 / 25)  # resolving early: correct minus incorrect
    fix = row(
        got,
        "back-patching a later layer's state into an earlier layer fixes some incorrect cases, at t2 (",
        "incorrect",
    )
    assert fix.n == CASES and fix.value == 0.5  # the drifting case is left out
    assert fix.holds == "inconclusive" and fix.why == "no null to compare with"  # the share alone decides nothing


def varied_stages():
    """Both splits, every stage (some never reached), with chance baselines, 30 cases each."""
    rows = {"correct": [], "incorrect": []}
    for k in range(30):

        def maybe(layer, every, k=k):
            return None if k % every == 0 else layer

        for split, shift in (("correct", 0), ("incorrect", 4)):
            rows[split].append(
                {"id": f"{split}{k}", "first_hop_resolved": maybe(1 + k % 5 + shift, 4),
                 "information_propagation": maybe(6 + k % 7, 5), "e3_decoded_t2": maybe(8 + k % 9, 3),
                 "e2_decoded_t2": maybe(5 + k % 6, 4), "prediction_extracted": maybe(12 + k % 6, 2),
                 "fixable_t1": k % 3 == 0, "fixable_t2": k % 4 == 0, "unedited_correct": split == "correct",
                 "baseline_donor": f"{split}{(k + 1) % 30}",
                 "baseline_first_hop_resolved": maybe(2 + k % 11, 2), "baseline_e3_decoded_t2": maybe(k % 20, 3)}
            )  # fmt: skip
    columns = [*COLUMNS, *stages_module.BASELINE]
    return {split: stages_table(own).join(pd.DataFrame(own).reindex(columns=stages_module.BASELINE))[columns]
            for split, own in rows.items()}  # fmt: skip


@pytest.mark.parametrize("reading", ["reached", "share"])
def test_no_verdict_depends_on_the_depth_given_to_never(reading):
    """The same stored stages, "never reached" scored just past the last layer (1.06) and far
    past it (5.0): every verdict (and every value) is the same, under either reading."""
    stages = varied_stages()
    groups = {split: {f"{split}{k}": f"g{k % 25}" for k in range(30)} for split in stages}  # shared across splits
    near = findings(stages, num_layers=18, groups=groups, reading=reading)
    far = findings(stages, num_layers=18, groups=groups, reading=reading, never=5.0)
    assert relative_depth(18, 18) == pytest.approx(1.06, abs=0.01)
    assert list(near["holds"]) == list(far["holds"]), near.compare(far)
    pd.testing.assert_frame_equal(near, far)
    assert {"yes", "no"} & set(near["holds"])  # (some verdicts to keep)
    assert (near["claim"].astype(str) == "chance").sum() == 4


@pytest.mark.parametrize("never", [None, 5.0])
def test_a_late_claim_that_nobody_reaches_cannot_hold(never):
    rows = [{"id": f"c{k}", "first_hop_resolved": 2} for k in range(CASES)]  # e3 and the prediction: never
    stages = {"correct": stages_table(rows), "incorrect": stages_table(rows[:0])}
    for reading in ("reached", "share"):
        got = findings(stages, num_layers=21, reading=reading, never=never)
        late = got[got["claim"].eq(3) & got["split"].eq("correct")]
        assert "yes" not in set(late["holds"]), late[["statement", "value", "holds", "why"]]
        if reading == "share":  # no case reaches it after the bound: a share of 0, clearly below one half
            assert set(late["holds"]) == {"no"} and (late["value"] == 0).all()
        else:  # no case to judge
            assert set(late["holds"]) == {"too few groups"}


def test_the_two_readings_of_an_early_claim():
    """14 cases resolve the first hop early and 12 never do: the authors' reading (the cases that
    reach it) says "early"; ours (the share of the studied cases resolving it early) cannot."""
    rows = [{"id": f"r{i}", "first_hop_resolved": 1 + i % 3} for i in range(22)]
    rows += [{"id": f"n{i}"} for i in range(20)]
    stages = {"correct": stages_table(rows), "incorrect": stages_table([])}
    authors = row(findings(stages, num_layers=21), "the bridge entity", "correct")
    assert (authors.studied, authors.reached, authors.n) == (42, 22, 22) and authors.holds == "yes"
    ours = row(findings(stages, num_layers=21, reading="share"), "the bridge entity", "correct")
    assert ours.n == 42 and ours.value == pytest.approx(22 / 42) and ours.holds == "inconclusive"
    assert ours.cases_needed > 42  # the cases at which a share of 0.52 would clear one half


def test_a_yes_among_the_minority_that_reach_a_stage_says_so():
    """90 cases in 90 groups of which 30 reach every stage (a reached share of 0.33, its interval
    below one half): the authors' reading holds among those 30 only, and says so in its verdict
    on every stage row, the order row and claim 4, and in why; ours, over all 90, does not hold."""
    reach = [
        {"id": f"r{i}", "first_hop_resolved": 1 + i % 3, "information_propagation": 9 + i % 3,
         "e3_decoded_t2": 14 + i % 5, "prediction_extracted": 18 + i % 2}
        for i in range(30)
    ]  # fmt: skip
    late = [{"id": f"l{i}", "first_hop_resolved": 4 + i % 3} for i in range(30)]
    stages = {
        "correct": stages_table(reach + [{"id": f"n{i}"} for i in range(60)]),
        "incorrect": stages_table(late + [{"id": f"m{i}"} for i in range(60)]),
    }
    authors = findings(stages, num_layers=21)
    rows = authors[authors["claim"].isin([1, 2, 3]) & authors["split"].eq("correct")]
    rows = pd.concat([rows, authors[authors["claim"].eq(4) & authors["split"].eq("both")]])
    assert len(rows) == 6 and (rows["reached_high"] < 0.5).all()
    assert set(rows["holds"]) == {MINORITY_YES}, rows[["statement", "holds", "why"]]
    assert rows["why"].iloc[:5].str.startswith("among 30 of 90 studied cases (reached share ").all()
    assert rows["why"].iloc[5].startswith("among 60 of 180 studied cases (reached share ")  # claim 4: both splits
    assert rows["why"].str.contains("a minority: the claim is shown only for the cases that reach the stage").all()
    claim4 = rows.iloc[-1]
    assert "incorrect 30 of 90" in claim4.why and "correct 30 of 90" in claim4.why
    ours = findings(stages, num_layers=21, reading="share")
    assert "yes" not in set(ours[ours["claim"].isin([1, 2, 3]) & ours["split"].eq("correct")]["holds"])


def test_claim_4_in_the_share_reading_shows_where_reach_drives_it():
    """Both splits resolve the first hop at the same early layer where they resolve it; half the
    incorrect cases never do. "Correct minus incorrect" resolving early is 0.5, all of it reach:
    the row says what never counts as (for the claim in the incorrect split), its interval (a
    clustered bootstrap, not an exact one), and the difference in reached share beside the timing."""
    correct = [{"id": f"c{i}", "first_hop_resolved": 2} for i in range(48)]
    incorrect = [{"id": f"i{i}", "first_hop_resolved": 2 if i % 2 else None} for i in range(48)]
    stages = {"correct": stages_table(correct), "incorrect": stages_table(incorrect)}
    later = row(findings(stages, num_layers=21, reading="share"), "in incorrect cases", "both")
    assert later.value == pytest.approx(0.5) and later.holds == "yes"
    assert "never reached counts as not early: for the claim in the incorrect split" in later.treatment
    assert "bootstrap" in later.treatment and "exact" not in later.treatment
    assert "reached share, correct minus incorrect: 0.50 (" in later.why
    assert "among the cases that reach it, correct minus incorrect: 0.00" in later.why


@pytest.mark.parametrize("never", [1.0, 0.5, math.nan])
def test_never_must_lie_past_the_last_layer(never):
    with pytest.raises(ValueError, match="past the last layer"):
        findings(many_cases(), num_layers=21, never=never)


def test_the_second_hop_before_the_first_counts_against_the_claim_in_the_share_reading():
    """Cases that decode e3 at t2 but never e2 at t1 are the ones against "second hop after the
    first": ours counts them against the claim; the authors' reading leaves them out."""
    after = [{"id": f"a{i}", "first_hop_resolved": 2, "e3_decoded_t2": 15 + i % 2} for i in range(22)]
    against = [{"id": f"b{i}", "e3_decoded_t2": 10 + i % 3} for i in range(24)]
    stages = {"correct": stages_table(after + against), "incorrect": stages_table([])}
    ours = row(findings(stages, num_layers=21, reading="share"), "the second hop is resolved after", "correct")
    assert ours.n == 46 and ours.reached == 22 and ours.value == pytest.approx(22 / 46) and ours.holds != "yes"
    authors = row(findings(stages, num_layers=21), "the second hop is resolved after", "correct")
    assert authors.n == 22 and authors.holds == "yes"


def test_cases_sharing_an_entity_are_one_group():
    rows = [{"id": f"c{i}", "first_hop_resolved": 1 + i % 4} for i in range(24)]
    stages = {"correct": stages_table(rows), "incorrect": stages_table([])}
    shared = {"correct": {f"c{i}": f"Q{i % 3}" for i in range(24)}}  # three groups among 24 cases
    early = row(findings(stages, num_layers=21, groups=shared), "the bridge entity", "correct")
    assert early.groups == 3 and early.holds == "too few groups" and "3 independent groups" in early.why
    assert math.isnan(early.cases_needed) and "no cases_needed" in early.why  # not a number near 24
    alone = row(findings(stages, num_layers=21), "the bridge entity", "correct")
    assert alone.groups == 24 and alone.holds == "yes"


def test_findings_fail_or_abstain_where_the_cases_do_not_follow():
    late_first_hops = findings(many_cases((15, 16), (11, 11, 12, 12, 11, 12, 11, 12)), num_layers=21)
    assert row(late_first_hops, "the bridge entity", "correct").holds == "no"  # in the second half
    assert row(late_first_hops, "in incorrect cases", "both").holds == "no"  # earlier, not later
    few = findings(STAGES, num_layers=21)
    share = few["statement"].str.startswith("back-patching")
    assert set(few[~share]["holds"]) == {"too few groups"}  # 2 to 4 values a row
    assert set(few[share]["holds"]) == {"inconclusive"}  # back-patching's share: no null ran
    assert few[~share]["why"].str.contains("independent groups|no case to judge").all()


def test_the_stage_figure_counts_never_reached_cases_in_a_row_of_their_own():
    rows = stage_rows(STAGES, never=21)
    never = rows[rows["layer"] == 21]
    # correct: b never extracts the prediction; incorrect: d and e never decode e3, ...
    assert ("correct", "b", "prediction extracted") in set(
        zip(never["split"], never["id"], never["stage"], strict=True)
    )
    assert len(rows) == 5 * 4  # every studied case, every stage
    figure = figures.stage_boxplot(rows, {"correct": 2, "incorrect": 3}, 21, "t")
    assert figure.axes[0].get_yticklabels()[-1].get_text() == "never"
    assert "2/2" in figure.axes[0].get_xticklabels()[0].get_text()  # both correct cases resolve the first hop
    figures.plt.close(figure)


def test_comparison_rows_use_relative_depth():
    rows = model_rows("m", STAGES, 21, backpatching(STAGES)).set_index(["split", "measure"])
    second = rows.loc[("correct", "second hop resolved: median relative depth of the cases reaching it")]
    assert second["value"] == pytest.approx(15.5 / 20) and (second["studied"], second["reached"]) == (2, 2)
    # layers 3 and 5, and one case that never resolves it: the median of the two that do
    first = rows.loc[("incorrect", "first hop resolved: median relative depth of the cases reaching it")]
    assert (first["studied"], first["reached"], first["n"]) == (3, 2, 2) and first["value"] == pytest.approx(4 / 20)
    assert rows.loc[("incorrect", "fixable share at t1 or t2"), "n"] == 2  # without the drifting case
    depth = relative_stages("m", STAGES, 21)["depth"]
    assert depth[depth <= 1].between(0, 1).all() and set(depth[depth > 1]) == {21 / 20}  # never: past the last


def overlapping(labels) -> bool:
    boxes = [label.get_window_extent() for label in labels if label.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize("num_layers", [4, 18, 80])
def test_tick_labels_do_not_overlap(num_layers):
    rng = np.random.default_rng(0)
    grid = pd.DataFrame(rng.random((num_layers, num_layers)))
    heatmaps = figures.heatmaps({("correct", "t1"): grid, ("incorrect", "t1"): grid * np.nan}, num_layers, "t", "share")
    stages = {"correct": stages_table([{"id": "a", "first_hop_resolved": 0, "e3_decoded_t2": num_layers - 1}])}
    lines = figures.first_layer_lines(first_layer_shares(stages, num_layers), {"correct": 1}, num_layers, "t")
    boxes = figures.stage_boxplot(stage_rows(stages), {"correct": 1}, num_layers, "t")
    axes = heatmaps.axes[:-1] + lines.axes + boxes.axes  # the heatmaps' last axes is the colour bar
    for figure in (heatmaps, lines, boxes):
        figure.canvas.draw()
    for ax in axes:
        assert not overlapping(ax.get_xticklabels()) and not overlapping(ax.get_yticklabels())
    for figure in (heatmaps, lines, boxes):
        figures.plt.close(figure)


def test_every_figure_is_written_as_png_and_pdf_also_without_cases(tmp_path):
    empty = {split: stages_table([]) for split in STAGES}
    for name, stages in (("cases", STAGES), ("empty", empty)):
        counts = {split: len(table) for split, table in stages.items()}
        drawn = {
            "stages": figures.stage_boxplot(stage_rows(stages, 21), counts, 21, name),
            "first_layers": figures.first_layer_lines(first_layer_shares(stages, 21), counts, 21, name),
            "comparison": figures.comparison(
                pd.concat([relative_stages(m, stages, 21) for m in ("a", "b")]),
                pd.concat([backpatching(stages).assign(model="a"), backpatching(stages).assign(model="b", share=0.9)]),
                name,
            ),
        }
        for figure_name, figure in drawn.items():
            figure.canvas.draw()
            if figure_name == "stages":
                assert not overlapping(figure.axes[0].get_xticklabels())
            figures.save(figure, tmp_path / f"{name}_{figure_name}.png", tmp_path / f"{name}_{figure_name}.pdf")
            assert (tmp_path / f"{name}_{figure_name}.png").read_bytes()[:4] == b"\x89PNG"
            assert (tmp_path / f"{name}_{figure_name}.pdf").read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left behind


def test_html_table_is_escaped_and_formatted(tmp_path):
    table = pd.DataFrame({"statement": ["a <b> & c"], "value": [0.123456], "missing": [np.nan]})
    write_html_table(table, tmp_path / "t.html", "claims & checks")
    page = (tmp_path / "t.html").read_text()
    assert "a &lt;b&gt; &amp; c" in page and "0.123<" in page and "claims &amp; checks" in page
    assert "td:nth-child(2){text-align:right}" in page  # numbers right-aligned, text left


def test_the_chance_baseline_reads_the_generations_for_another_cases_names():
    """Case a's generations name Paris and France, case b's entities: read for b's names, a's
    e2 is "resolved" at layer 2 and its e3 "decoded" at layer 1 by chance; b's donor is a."""
    entity = {"e1_aliases": "[]", "e2_aliases": "[]", "e3_aliases": "[]"}
    studied = pd.DataFrame(
        [
            {
                "id": "a",
                "e1_label": "Imagine",
                "e2": "Q1",
                "e2_label": "John Lennon",
                "e3": "Q2",
                "e3_label": "Yoko Ono",
            },
            {"id": "b", "e1_label": "Louvre", "e2": "Q3", "e2_label": "Paris", "e3": "Q4", "e3_label": "France"},
        ]
    ).assign(**entity)
    rows = [("a", "t1", 0, "x: nothing"), ("a", "t1", 2, ": Paris is a city"), ("a", "t1", 3, ": Paris, again")]
    rows += [("a", "t2", 1, " France: a country"), ("b", "t1", 0, ": John Lennon"), ("b", "t2", 0, ": Paris")]
    patchscopes = pd.DataFrame(rows, columns=["id", "position", "source_layer", "generation"])
    # ": John Lennon" ends the text: the study's patterns want a space or ",.:" after the name
    studys = stages_module.chance_baseline(studied, patchscopes, seed=0).set_index("id")
    assert math.isnan(studys.loc["b", "baseline_first_hop_resolved"])
    baseline = stages_module.chance_baseline(studied, patchscopes, seed=0, reading="regex").set_index("id")
    assert baseline.loc["a", "baseline_donor"] == "b" and baseline.loc["b", "baseline_donor"] == "a"
    assert baseline.loc["a", "baseline_first_hop_resolved"] == 2 and baseline.loc["a", "baseline_e3_decoded_t2"] == 1
    assert baseline.loc["b", "baseline_first_hop_resolved"] == 0 and math.isnan(
        baseline.loc["b", "baseline_e3_decoded_t2"]
    )
    # in the findings: per case, own depth minus chance's
    table = stages_table([{"id": "a", "first_hop_resolved": 1}, {"id": "b", "first_hop_resolved": 5}])
    table = stages_module.with_chance_baseline(table, studied, patchscopes, seed=0, reading="regex")
    chance = row(findings({"correct": table}, num_layers=21), "e2 is decoded from t1 earlier", "correct")
    # a: its own e2 at layer 1, b's at 2 (+1); b: its own at 5, a's at 0 (-1)
    assert chance.reached == 2 and chance.value == 0
    assert chance.holds == "too few groups"  # two cases


def test_verdicts_under_both_judges_from_the_stored_generations():
    """ "US" is in "famous" for the study's substring rule, not for whole words: the same stored
    back-patching rows fix six cases under one judge and none under the other."""
    studied = pd.DataFrame(
        {"id": [f"i{n}" for n in range(6)], "e3_label": "United States", "e3_aliases": '["US", "USA"]'}
    )
    rows = pd.DataFrame(
        {
            "id": studied["id"],
            "position": "t1",
            "generation": " a famous singer",
            "correct": True,
            "unedited_correct": False,
        }
    )
    word = judges.rejudged(rows, studied, "word")
    assert not word["correct"].any() and judges.rejudged(rows, studied, "substring")["correct"].all()
    assert judges.rejudged(rows.assign(generation=" the US."), studied, "word")["correct"].all()

    # in the findings: eight cases, six fixable under the lenient judge, none under whole words
    cases = [{"id": f"i{n}", "fixable_t1": n < 6} for n in range(8)]
    lenient = findings({"incorrect": stages_table(cases)}, num_layers=21)
    strict = findings({"incorrect": stages_table([{"id": f"i{n}"} for n in range(8)])}, num_layers=21)
    both = judges.with_other_judge(lenient, strict, "word")
    fix = row(
        both,
        "back-patching a later layer's state into an earlier layer fixes some incorrect cases, at t1 (",
        "incorrect",
    )
    assert fix.value == 0.75 and fix.value_word == 0.0 and fix.ci_high_word > 0  # 0 of 8: an exact interval
    assert fix.holds == fix.holds_word == "inconclusive" and not fix.flips  # no null: no verdict either way
    with pytest.raises(ValueError, match="same rows"):
        judges.with_other_judge(lenient, strict.iloc[::-1], "word")


def test_the_figures_name_their_quantity_and_scale_and_count_cases_per_stage():
    """The stage figure's legend has no count per split (each stage has its own, under it); a
    heatmap's colour bar says a square-root scale where it uses one; back-patching's is linear
    and named as its title names it."""
    boxes = figures.stage_boxplot(stage_rows(STAGES, 21), {"correct": 2, "incorrect": 3}, 21, "t")
    legend = [text.get_text() for text in boxes.axes[0].get_legend().get_texts()]
    assert legend == ["correct", "incorrect"]
    grid = pd.DataFrame(np.full((4, 4), 0.25))
    stretched = figures.heatmaps({("correct", "t1"): grid}, 4, "t", "share of generations", stretch=True)
    linear = figures.heatmaps({("correct", "t1"): grid}, 4, "t", "share of runs answering e3")
    assert stretched.axes[-1].get_ylabel() == "share of generations (colour: square-root scale)"
    assert linear.axes[-1].get_ylabel() == "share of runs answering e3"
    assert linear.axes[0].get_images()[0].norm(0.25) == pytest.approx(0.25)  # linear
    assert stretched.axes[0].get_images()[0].norm(0.25) == pytest.approx(0.5)  # its square root
    for figure in (boxes, stretched, linear):
        figures.plt.close(figure)
