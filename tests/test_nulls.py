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
from multihop.report.stats import mcnemar, mcnemar_cases_needed, mcnemar_power, signed_rank
from multihop.report.tables import backpatching
from multihop.report.verdicts import cases_needed

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


def test_signed_rank_is_scipys_exact_wilcoxon_over_the_groups_means():
    differences = np.array([0.3, 0.1, 0.0, 0.0, 0.2, -0.05, 0.15, 0.12, 0.4])
    p, how = signed_rank(differences, range(9))
    assert p == pytest.approx(scipy_stats.wilcoxon(differences, alternative="greater", method="exact").pvalue)
    assert "exact" in how and "9 groups" in how
    # two cases of one group count once, as their mean
    grouped, _ = signed_rank([0.3, 0.1, 0.2, -0.1], ["a", "a", "b", "c"])
    assert grouped == pytest.approx(scipy_stats.wilcoxon([0.2, 0.2, -0.1], alternative="greater").pvalue)
    assert signed_rank([0.0, 0.0], ["a", "b"])[0] == 1.0


def test_mcnemar_is_exact_and_its_power_grows_with_the_cases():
    assert mcnemar(8, 1) == pytest.approx(scipy_stats.binomtest(8, 9, 0.5, alternative="greater").pvalue)
    assert mcnemar(0, 0) == 1.0
    assert mcnemar_power(50, 0.25, 2 / 3) < mcnemar_power(200, 0.25, 2 / 3) < mcnemar_power(800, 0.25, 2 / 3)
    # the example: about two cases for back-patching to one against in 12
    needed = mcnemar_cases_needed(12, 2, 1)
    assert 150 < needed < 400 and mcnemar_power(int(needed), 0.25, 2 / 3) >= 0.8
    assert math.isnan(mcnemar_cases_needed(12, 1, 2))  # more cases would not favour back-patching


def test_cases_needed_scales_the_interval_to_reach_the_bound():
    # reaching 0.2 below 0.1 with 10 groups: (0.2 / 0.1)^2 = 4 times as many
    assert cases_needed(_result(20, 10, 0.1, -0.1, 0.3), (0.0, math.inf)) == 80
    assert cases_needed(_result(20, 10, 0.1, 0.0, 0.5), (0.0, math.inf)) == 21  # on the bound at 20 cases: more than 20
    assert math.isnan(cases_needed(_result(20, 10, 0.0, -0.1, 0.1), (0.0, math.inf)))  # on the bound: no number


def test_back_patching_beats_a_null_that_rarely_answers(rare):
    bp, table = rare
    success = row(table, "incorrect", "t2", nulls.FORWARD, nulls.SUCCESS)
    assert success["n"] == 24 and success["groups"] == 12  # the drifting case left out; pairs of cases one group
    assert success["ci_low"] > 0 and success["p_value"] < 0.05 and success["beats"] == "yes"
    flag = row(table, "incorrect", "t2", nulls.FORWARD, nulls.FIXABLE)
    only_back, only_null = (int(count) for count in re.findall(r"\d+", flag["detail"]))
    assert flag["backpatching"] > flag["null_value"] and flag["p_value"] == pytest.approx(mcnemar(only_back, only_null))
    verdict, why = nulls.beats_every_null(table, "incorrect", "t2")
    assert verdict == "yes" and "forward patching" in why and "matched noise" in why
    claims = findings(stages_of(bp), LAYERS, table, GROUPS)
    headline = claims[claims["statement"].str.endswith("at t2 (the study's headline)")].iloc[0]
    assert headline["holds"] == "yes" and headline["n"] == 24 and headline["ci_low"] > 0


def test_back_patching_that_a_null_matches_is_not_distinguishable_from_chance():
    bp, fp, ctl = example(null_rate=0.25)  # the nulls hit about as many cells as back-patching
    table = nulls.compared(bp, fp, ctl, groups=GROUPS, num_layers=LAYERS, seed=0)
    verdict, why = nulls.beats_every_null(table, "incorrect", "t1")
    assert verdict == "not distinguishable from chance" and "forward patching" in why
    claims = findings(stages_of(bp), LAYERS, table, GROUPS)
    headline = claims[claims["statement"].str.endswith("at t1 (the study's headline)")].iloc[0]
    assert headline["holds"] == "not distinguishable from chance"
    null_row = claims[claims["statement"] == "back-patching beats forward patching at t1"].iloc[0]
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
    assert set(claims[claims["claim"] == 4]["holds"]) == {"inconclusive"}


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
        figures.save(figures.nulls_bars(table, name), tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    inputs = Inputs({"backpatching": bp, "forwardpatching": fp}, "m", LAYERS)
    figures.save(forwardpatching_figure(inputs), tmp_path / "cells.png", tmp_path / "cells.pdf")
    assert (tmp_path / "cells.png").stat().st_size > 10_000
    rows = model_rows("m", stages_of(bp), LAYERS, backpatching(stages_of(bp)), full)
    assert rows["measure"].str.contains("back-patching minus forward patching").any()
