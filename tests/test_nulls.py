"""Back-patching against its nulls, on hand-made sweeps: the paired tests, the cell-by-cell
comparison, the held-out test with grouped folds, and the verdicts they give."""

import math
import random
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from multihop.report import figures, heldout, nulls
from multihop.report.comparison import model_rows
from multihop.report.findings import findings
from multihop.report.products import Inputs, forwardpatching_figure
from multihop.report.stages import COLUMNS
from multihop.report.stats import sign_flip
from multihop.report.tables import backpatching
from multihop.report.verdicts import paired

LAYERS = 4


def sweep(cases, hit, forward=False, unedited=()):
    """Rows of back-patching's grid (s > t), or forward patching's (s < t), of `cases` on a
    4-layer model; `hit(case, position, s, t)` says whether the cell answers e3."""
    rows = [
        (case, position, s, t, bool(hit(case, position, s, t)), case in unedited)
        for case in cases
        for position in ("t1", "t2")
        for s in range(LAYERS)
        for t in range(LAYERS)
        if (s < t if forward else s > t)
    ]
    return pd.DataFrame(rows, columns=["id", "position", "source_layer", "target_layer", "correct", "unedited_correct"])


def random_hits(rate, seed):
    """A hit function: each (case, cell) answers e3 with probability `rate`, seeded."""
    return lambda *cell: random.Random(f"{seed}|{cell}").random() < rate


INCORRECT = [f"i{k}" for k in range(24)]
CORRECT = [f"c{k}" for k in range(8)]
GROUPS = {
    "incorrect": {case: f"answer{k % 12}" for k, case in enumerate(INCORRECT)},  # 12 answers, two cases each
    "correct": {case: f"answer{k % 4}" for k, case in enumerate(CORRECT)},
}


def example(null_rate=0.05):
    """Back-patching fixes 18 of 24 incorrect cases through t2, 3 -> 0 (and hits 20% of all cells
    at t2); forward patching and noise hit cells at `null_rate`; the drifting case is left out."""

    def strong(case, position, s, t):
        if position == "t1":
            return random_hits(0.05, 2)(case, position, s, t)
        return ((s, t) == (3, 0) and case in INCORRECT[:18]) or random_hits(0.2, 1)(case, position, s, t)

    backpatching = {
        "incorrect": sweep([*INCORRECT, "drift"], strong, unedited=["drift"]),
        "correct": sweep(CORRECT, lambda case, position, s, t: (position, s, t) == ("t2", 3, 0) or case == "c0"),
    }
    forward = {
        "incorrect": sweep(INCORRECT, random_hits(null_rate, 3), forward=True),
        "correct": sweep(CORRECT, lambda *cell: True, forward=True),
    }
    noise = sweep(INCORRECT[:12], random_hits(null_rate, 4)).assign(control="noise")
    controls = {"incorrect": noise, "correct": sweep(CORRECT[:4], lambda *cell: False).assign(control="noise")}
    return backpatching, forward, controls


@pytest.fixture(scope="module")
def rare():
    """The example whose nulls rarely answer, and its table."""
    bp, fp, ctl = example(null_rate=0.02)
    return bp, nulls.compared(bp, fp, ctl, groups=GROUPS, num_layers=LAYERS, seed=0)


def row(table, split, position, null, measure):
    found = table[
        (table["split"] == split)
        & (table["position"] == position)
        & (table["null"] == null)
        & (table["measure"] == measure)
    ]
    assert len(found) == 1, (split, position, null, measure)
    return found.iloc[0]


def _result(n, groups, value, low, high):
    return {"n": n, "groups": groups, "value": value, "ci_low": low, "ci_high": high}


def test_the_sign_flip_test_flips_the_groups_summed_differences():
    # five groups, all above 0: of the 32 sign flips only the observed one is as large
    result = sign_flip([0.3, 0.1, 0.2, 0.05, 0.4], range(5))
    assert result["p_greater"] == pytest.approx(1 / 32) and result["p_less"] == 1 and result["differing"] == 5
    assert "exact" in result["test"]
    # two cases of one group count as their sum; a group summing to 0 does not count
    grouped = sign_flip([0.3, 0.1, 0.2, -0.2, 0.5], ["a", "a", "b", "b", "c"])
    assert grouped["differing"] == 2 and grouped["p_greater"] == pytest.approx(1 / 4)
    # the statistic is the case-weighted sum: weights count
    weighted = sign_flip([1.0, -1.0], ["a", "b"], weights=[3.0, 1.0])
    assert weighted["p_greater"] == pytest.approx(2 / 4)  # +3 -1 = 2: flips give 2, 4, -4, -2
    assert sign_flip([1.0, -1.0], ["a", "b"])["p_greater"] == pytest.approx(3 / 4)  # alike: 0, 2, -2, 0
    assert sign_flip([0.0, 0.0], ["a", "b"])["p_greater"] == 1.0
    # against the exact distribution scipy enumerates
    values = np.array([0.3, -0.1, 0.2, 0.05, 0.4, 0.15, -0.05])
    expected = scipy_stats.permutation_test(
        (values,), np.sum, permutation_type="samples", alternative="greater", n_resamples=np.inf
    ).pvalue
    assert sign_flip(values, range(7))["p_greater"] == pytest.approx(expected)


def test_a_paired_verdict_comes_from_the_test_with_the_interval_agreeing_where_there_are_enough_groups():
    """Four groups that differ cannot reach p < 0.05 (1/16 at best): inconclusive, with the cases
    that would decide; five can, and with fewer than 20 groups the interval is not judged."""
    four = paired([1.0, 1.0, 1.0, 1.0, 0.0], ["a", "b", "c", "d", "e"])
    assert four["beats"] == "inconclusive" and "4 groups differ" in four["why"] and four["p_value"] == 1 / 16
    # what blocks it is the groups that differ, not a number of cases near the 5 it has
    assert math.isnan(four["cases_needed"]) and "needs ≥5 groups that differ (has 4)" in four["why"]
    five = paired([1.0] * 5, list("abcde"))
    assert five["beats"] == "yes" and five["p_value"] == 1 / 32 and "not judged" in five["why"]
    assert "(above 0)" in five["why"] and math.isnan(five["cases_needed"])
    below = paired([-1.0] * 6, list("abcdef"))  # decided by the test that it is below: its p-value, not p > 0.98
    assert below["beats"] == "no" and below["p_value"] == 1 / 64 and "p = 0.016 (below 0)" in below["why"]
    nothing = paired([0.0] * 30, range(30))
    assert nothing["beats"] == "inconclusive" and math.isnan(nothing["cases_needed"])
    assert "cannot decide at this estimate" in nothing["why"]
    # with 20 groups the interval must agree: here the test and the interval both say above 0
    many = paired([0.5, 0.2, 0.1, 0.3, -0.1] * 6, range(30))
    assert many["beats"] == "yes" and many["ci_low"] > 0


def test_back_patching_beats_a_null_that_rarely_answers(rare):
    bp, table = rare
    success = row(table, "incorrect", "t2", nulls.FORWARD, nulls.SUCCESS)
    assert success["n"] == 24 and success["groups"] == 12  # the drifting case left out; pairs of cases one group
    assert success["ci_low"] > 0 and success["p_value"] < 0.05 and success["beats"] == "yes"
    flag = row(table, "incorrect", "t2", nulls.FORWARD, nulls.FIXABLE)
    counts = re.findall(r"(\d+) cases fixable by back-patching only, (\d+) by the null only", flag["detail"])
    only_back, only_null = (int(count) for count in counts[0])
    assert flag["value"] == pytest.approx((only_back - only_null) / 24) == flag["backpatching"] - flag["null_value"]
    assert flag["groups"] == 12 and flag["beats"] == "yes" and "sign-flip" in flag["test"]
    verdict, why, needed = nulls.beats_every_null(table, "incorrect", "t2")
    assert verdict == "yes" and "forward patching" in why and "matched noise" in why and math.isnan(needed)
    claims = findings(stages_of(bp), LAYERS, table, GROUPS)
    headline = claims[claims["statement"].str.endswith("at t2 (the study's headline)")].iloc[0]
    assert headline["holds"] == "yes" and headline["n"] == 24 and headline["ci_low"] > 0


def test_back_patching_that_a_null_matches_is_not_distinguishable_from_chance():
    bp, fp, ctl = example(null_rate=0.25)  # the nulls hit about as many cells as back-patching
    table = nulls.compared(bp, fp, ctl, groups=GROUPS, num_layers=LAYERS, seed=0)
    verdict, why, _ = nulls.beats_every_null(table, "incorrect", "t1")
    assert verdict == "not distinguishable from chance" and "forward patching" in why
    claims = findings(stages_of(bp), LAYERS, table, GROUPS)
    headline = claims[claims["statement"].str.endswith("at t1 (the study's headline)")].iloc[0]
    assert headline["holds"] == "not distinguishable from chance"
    flag_row = claims[
        claims["statement"] == "back-patching fixes more cases than forward patching at t1 (the fixable flag)"
    ]
    assert len(flag_row) == 1 and flag_row.iloc[0]["holds"] in ("inconclusive", "no")
    null_row = claims[claims["statement"].str.startswith("back-patching beats forward patching at t1 (per-case")]
    null_row = null_row.iloc[0]
    assert null_row["holds"] in ("inconclusive", "no") and null_row["claim"] == "nulls"
    assert null_row["holds"] == "no" or null_row["cases_needed"] > 24  # an inconclusive row says how many


def test_no_null_means_no_verdict_on_back_patching():
    bp, _, _ = example(null_rate=0.02)
    empty = {split: rows.iloc[:0] for split, rows in bp.items()}
    table = nulls.compared(
        bp,
        empty,
        {split: rows.iloc[:0].assign(control="") for split, rows in bp.items()},
        groups={},
        num_layers=4,
        seed=0,
    )
    assert table.empty
    assert nulls.beats_every_null(table, "incorrect", "t2")[0] == "inconclusive"
    claims = findings(stages_of(bp), LAYERS, table, GROUPS)
    headline = claims[(claims["claim"] == 4) & claims["statement"].str.startswith("back-patching")]
    assert len(headline) == 3 and set(headline["holds"]) == {"inconclusive"}


def stages_of(bp):
    """stages.csv of each split from back-patching rows: only its flags."""
    out = {}
    for split, rows in bp.items():
        flags = rows.groupby(["id", "position"])["correct"].any().unstack()
        unedited = rows.groupby("id")["unedited_correct"].any()
        table = pd.DataFrame(
            {"id": flags.index, "fixable_t1": flags["t1"].values, "fixable_t2": flags["t2"].values}
        ).assign(unedited_correct=unedited.values, studied_by_backpatching=True)
        out[split] = table.reindex(columns=COLUMNS)
    return out


def test_grouped_folds_never_split_an_answer():
    cases = [f"x{k}" for k in range(23)]
    groups = {case: f"g{k % 7}" for k, case in enumerate(cases)}
    folds = heldout.grouped_folds(cases, groups, 5, random.Random(0))
    assert len(folds) == 5 and sorted(case for fold in folds for case in fold) == sorted(cases)
    for fold in folds:
        inside = {groups[case] for case in fold}
        outside = {groups[case] for other in folds if other is not fold for case in other}
        assert not inside & outside
    assert heldout.grouped_folds(cases, groups, 5, random.Random(0)) == folds  # seeded


def test_a_cell_that_emits_one_answer_does_not_carry_over_to_held_out_cases():
    """Cell (t2, 3, 0) answers e3 only for the cases whose answer is "answer0": chosen on training
    cases with that answer, it would fix held-out ones through the answer alone. Grouped folds
    never hold out an answer seen in training, so it fixes nothing held out."""
    answer0 = [case for case in INCORRECT if GROUPS["incorrect"][case] == "answer0"]
    through_answer = lambda case, position, s, t: (position, s, t) == ("t2", 3, 0) and case in answer0  # noqa: E731
    rows = {"incorrect": sweep(INCORRECT, through_answer), "correct": sweep(CORRECT, lambda *cell: True)}
    nothing = {"incorrect": sweep(INCORRECT, lambda *cell: False), "correct": sweep(CORRECT, lambda *cell: True)}
    methods = {nulls.BACK: rows, "nothing": nothing}
    out = heldout.held_out(methods, nulls.BACK, GROUPS, LAYERS, seed=0)
    fixes = next(r for r in out if r["measure"] == heldout.FIXES)
    assert fixes["backpatching"] == 0 and fixes["n"] == 24
    breaks = next(r for r in out if r["measure"] == heldout.BREAKS)
    assert breaks["backpatching"] == 0 and breaks["null_value"] == 0  # every cell keeps the correct answers
    net = next(r for r in out if r["measure"] == heldout.NET)  # neither fixes a held-out case: it says so
    assert net["why"].startswith("break rates only")


@pytest.mark.parametrize("sizes", [{"incorrect": 152, "correct": 12}, None])
def test_a_net_effect_without_a_correct_case_held_out_is_undecided(sizes):
    """The null has no correct cases, so none is held out: the "net effect" would be the fix rate
    alone (back-patching's cell fixes every held-out case). It is reported, undecided, and says
    the break rate is not measured; so is back-patching's own net effect against no change."""
    fixes_all = lambda case, position, s, t: (position, s, t) == ("t2", 3, 0)  # noqa: E731
    methods = {
        nulls.BACK: {"incorrect": sweep(INCORRECT, fixes_all), "correct": sweep(CORRECT, lambda *cell: True)},
        "nothing": {"incorrect": sweep(INCORRECT, lambda *cell: False)},
    }
    out = heldout.held_out(methods, nulls.BACK, GROUPS, LAYERS, seed=0, sizes=sizes)
    fixes = next(r for r in out if r["measure"] == heldout.FIXES)
    assert fixes["beats"] == "yes" and fixes["backpatching"] == 1  # the fix rate is measured, and decided
    assert not [r for r in out if r["measure"] == heldout.BREAKS]
    for measure in (heldout.NET, heldout.OWN_NET):
        net = next(r for r in out if r["measure"] == measure)
        assert net["beats"] == "inconclusive" and net["why"].startswith("break rate not measured: no correct case")
        assert math.isnan(net["cases_needed"]) and "weighted by the model's split sizes" not in net["detail"]


def test_the_headline_needs_no_cases_where_a_null_already_says_no():
    """Back-patching is below one null (no) and undecided against another: at the observed
    estimates no number of cases makes it beat both, so the headline gives none."""
    table = pd.DataFrame(
        [
            {"split": "incorrect", "position": "t1", "measure": nulls.FIXABLE, "null": nulls.FORWARD,
             "beats": "no", "why": "one-sided p = 0.010 (below 0)", "cases_needed": math.nan},
            {"split": "incorrect", "position": "t1", "measure": nulls.FIXABLE, "null": "matched noise",
             "beats": "inconclusive", "why": "one-sided p = 0.200 (above 0)", "cases_needed": 300.0},
        ]
    )  # fmt: skip
    verdict, why, needed = nulls.beats_every_null(table, "incorrect", "t1")
    assert verdict == "not distinguishable from chance" and math.isnan(needed)
    assert "cannot decide at this estimate: back-patching is below forward patching" in why
    undecided = table.iloc[1:]
    assert nulls.beats_every_null(undecided, "incorrect", "t1")[2] == 300  # one undecided null: its number


def test_held_out_fix_and_break_rates_on_the_same_chosen_cells(rare):
    _, table = rare
    fixes = row(table, "incorrect", "chosen", nulls.FORWARD, heldout.FIXES)
    assert fixes["backpatching"] >= 0.75  # t2, 3 -> 0 fixes 18 of 24 (and chance some others)
    assert fixes["beats"] == "yes" and "t2, layer 3 -> 0" in fixes["detail"]
    breaks = row(table, "correct", "chosen", nulls.FORWARD, heldout.BREAKS)
    assert breaks["backpatching"] == 0  # the chosen cell keeps every correct case
    net = row(table, "both", "chosen", nulls.FORWARD, heldout.NET)
    assert net["n"] == 32 and net["value"] > 0
    alone = row(table, "both", "chosen", "", heldout.OWN_NET)  # on the forward comparison's 32 cases, the most
    assert alone["n"] == 32 and alone["value"] == pytest.approx(net["backpatching"]) and alone["null_value"] == 0


def test_cell_by_cell_back_patching_is_compared_with_the_same_layers_the_other_way():
    cases = [f"i{k}" for k in range(30)]
    back = sweep(cases, lambda case, position, s, t: (position, s, t) == ("t2", 3, 0))
    forward = sweep(cases, lambda case, position, s, t: (position, s, t) == ("t1", 1, 2), forward=True)
    cells = nulls.cell_differences(back, forward).set_index(["position", "source_layer", "target_layer"])
    assert len(cells) == 2 * LAYERS * (LAYERS - 1) // 2
    assert cells.loc[("t2", 3, 0), "value"] == 1 and cells.loc[("t2", 3, 0), "survives"]
    assert cells.loc[("t1", 2, 1), "value"] == -1 and cells.loc[("t1", 2, 1), "survives"]  # forward 1 -> 2
    others = cells.drop([("t2", 3, 0), ("t1", 2, 1)])
    assert (others["value"] == 0).all() and not others["survives"].any()
    # each position's p-values corrected together (Benjamini-Hochberg)
    t2 = cells.loc["t2"]
    assert np.allclose(t2["q_value"], scipy_stats.false_discovery_control(t2["p_value"]))


def test_the_nulls_figures_with_and_without_rows(tmp_path, rare):
    bp, fp, _ = example(null_rate=0.02)
    _, full = rare
    for name, table in (("full", full), ("none", full.iloc[:0])):
        figure = figures.nulls_bars(table, name)
        if name == "full":  # every bar a paired difference; the legend says over how many cases
            labels = [text.get_text() for text in figure.legends[0].get_texts()]
            assert labels == ["forward patching (24 cases)", "matched noise (12 cases)"]
            assert "minus null" in figure.axes[0].get_title()
        figures.save(figure, tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    inputs = Inputs({"backpatching": bp, "forwardpatching": fp}, "m", LAYERS)
    figures.save(forwardpatching_figure(inputs), tmp_path / "cells.png", tmp_path / "cells.pdf")
    assert (tmp_path / "cells.png").stat().st_size > 10_000
    rows = model_rows("m", stages_of(bp), LAYERS, backpatching(stages_of(bp)), full)
    assert rows["measure"].str.contains("back-patching minus forward patching").any()


def test_the_headline_is_judged_on_the_fixable_flag_it_reports():
    """Back-patching answers e3 in four of six cells at t1 for every case, forward patching and
    noise in one: per case, the share of cells says back-patching is far ahead, but every case is
    fixable under each, so on the fixable flag (the headline's quantity) nothing beats anything."""
    many = lambda case, position, s, t: position == "t1" and s - t >= 1 and (s, t) not in ((2, 1), (3, 2))  # noqa: E731
    one = lambda case, position, s, t: position == "t1" and (s, t) in ((0, 1), (2, 1))  # noqa: E731
    backpatching = {"incorrect": sweep(INCORRECT, many), "correct": sweep(CORRECT, lambda *cell: True)}
    assert per_case_share(backpatching["incorrect"], "t1") == pytest.approx(4 / 6)
    forward = {"incorrect": sweep(INCORRECT, lambda case, position, s, t: one(case, position, t, s), forward=True)}
    forward["correct"] = sweep(CORRECT, lambda *cell: True, forward=True)
    controls = {"incorrect": sweep(INCORRECT, one).assign(control="noise")}
    table = nulls.compared(backpatching, forward, controls, groups=GROUPS, num_layers=LAYERS, seed=0)
    success = row(table, "incorrect", "t1", nulls.FORWARD, nulls.SUCCESS)
    assert success["value"] == pytest.approx(4 / 6 - 1 / 6) and success["beats"] == "yes"  # the share of cells
    flag = row(table, "incorrect", "t1", nulls.FORWARD, nulls.FIXABLE)
    assert flag["backpatching"] == flag["null_value"] == 1 and flag["value"] == 0 and flag["beats"] == "inconclusive"
    assert "cannot decide at this estimate" in flag["why"] and math.isnan(flag["cases_needed"])
    claims = findings(stages_of(backpatching), LAYERS, table, GROUPS)
    headline = claims[claims["statement"].str.endswith("at t1 (the study's headline)")].iloc[0]
    assert headline["value"] == 1 and headline["holds"] == "not distinguishable from chance"
    cells = claims[
        claims["statement"] == "back-patching beats forward patching at t1 (per-case share of cells answering e3)"
    ]
    assert cells.iloc[0]["holds"] == "yes"  # its own row, labelled, deciding nothing else


def per_case_share(rows, position):
    return float(nulls.per_case(rows, position)["success"].mean())


def test_the_held_out_net_effect_weighs_the_splits_as_the_model_does(rare):
    bp, fp, ctl = example(null_rate=0.02)
    sizes = {"incorrect": 152, "correct": 12}
    table = nulls.compared(bp, fp, ctl, groups=GROUPS, num_layers=LAYERS, seed=0, sizes=sizes)
    fixes = row(table, "incorrect", "chosen", nulls.FORWARD, heldout.FIXES)
    breaks = row(table, "correct", "chosen", nulls.FORWARD, heldout.BREAKS)
    net = row(table, "both", "chosen", nulls.FORWARD, heldout.NET)
    for method in ("backpatching", "null_value"):  # 152 incorrect cases to 12 correct, as the model's splits
        expected = (152 * fixes[method] - 12 * breaks[method]) / (152 + 12)
        assert net[method] == pytest.approx(expected)
    assert "incorrect 152, correct 12" in net["detail"]
    _, design = rare  # without the sizes: every case studied alike (24 incorrect, 8 correct)
    unweighted = row(design, "both", "chosen", nulls.FORWARD, heldout.NET)
    assert unweighted["backpatching"] == pytest.approx((24 * fixes["backpatching"] - 8 * breaks["backpatching"]) / 32)
    two = pd.MultiIndex.from_tuples([("incorrect", "a"), ("correct", "b")], names=["split", "id"])
    assert heldout.split_weights(two, sizes).tolist() == [152, 12]
