"""Tables, findings and figures on hand-made results (the numbers are checked by hand)."""

import math

import numpy as np
import pandas as pd
import pytest

from multihop.report import figures, judges
from multihop.report import stages as stages_module
from multihop.report.comparison import model_rows, relative_stages
from multihop.report.findings import findings
from multihop.report.pages import write_html_table
from multihop.report.stages import COLUMNS
from multihop.report.stats import clustered, clustered_difference, estimate, median_difference, share
from multihop.report.tables import backpatching, first_layer_shares, projection, rate_grid, stage_rows
from multihop.report.verdicts import verdict


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


def test_median_difference():
    result = median_difference([5, 6, 7], [1, 2])
    assert result["n"] == 5 and result["value"] == 6 - 1.5
    assert 0 < result["ci_low"] <= result["value"] <= result["ci_high"]
    assert math.isnan(median_difference([5], [1, 2])["ci_low"])


def test_verdict_reads_the_whole_interval():
    assert verdict(6, 0.1, 0.3, (-math.inf, 0.5)) == ("yes", "")
    assert verdict(6, 0.6, 0.9, (-math.inf, 0.5))[0] == "no"
    assert verdict(6, 0.4, 0.6, (-math.inf, 0.5))[0] == "inconclusive"
    holds, why = verdict(9, 0.0, 0.0, (0.0, math.inf))  # a zero-width interval bounds nothing
    assert holds == "inconclusive" and "zero width" in why
    holds, why = verdict(5, 0.1, 0.3, (-math.inf, 0.5))  # a bootstrap of 5 groups is too narrow
    assert holds == "too few cases" and "5 independent groups" in why
    assert verdict(9, math.nan, math.nan, (0.0, 1.0))[0] == "too few cases"


def test_shares_have_exact_intervals():
    none = share(0, 12)
    assert none["share"] == 0 and none["low"] == 0 and none["high"] == pytest.approx(0.2646, abs=1e-4)
    assert share(12, 12)["low"] == pytest.approx(1 - 0.2646, abs=1e-4) and math.isnan(share(0, 0)["share"])


def test_duplicated_clusters_give_the_interval_of_one_case_per_cluster():
    values = np.array([0.1, 0.3, 0.2, 0.6, 0.5, 0.4, 0.9, 0.7])
    single = clustered(values, np.arange(8))
    twice = clustered(np.repeat(values, 3), np.repeat(np.arange(8), 3))  # each case in triplicate
    assert twice["groups"] == single["groups"] == 8 and twice["n"] == 24
    assert (twice["ci_low"], twice["ci_high"]) == (single["ci_low"], single["ci_high"])
    # as independent cases the copies would narrow the interval
    naive = clustered(np.repeat(values, 3), np.arange(24))
    assert naive["ci_high"] - naive["ci_low"] < single["ci_high"] - single["ci_low"]
    difference = clustered_difference(values, np.arange(8), values - 0.5, np.arange(8))
    assert difference["value"] == pytest.approx(0.5) and difference["groups"] == 16


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
    assert table.loc[("correct", "t2"), ["fixable", "share", "ci_low", "ci_high"]].tolist() == [0, 0, 0, 0]


def test_projection_table():
    rows = [
        ("a", "mlp", 3, 1, 9, 1),
        ("a", "mlp", 5, 1, 1, 1),
        ("b", "mlp", 7, 2, 2, 1),
        ("b", "attention", 2, 1, 4, 4),
    ]
    table = pd.DataFrame(rows, columns=["id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank"])
    got = projection({"correct": table}).set_index(["sublayer", "token"])
    assert got.loc[("mlp", "prediction"), ["n", "cases", "share", "mean_first_layer"]].tolist() == [2, 2, 1.0, 5.0]
    assert got.loc[("mlp", "e2"), ["cases", "mean_first_layer"]].tolist() == [1, 3.0]
    assert got.loc[("attention", "e3"), "cases"] == 0 and np.isnan(got.loc[("attention", "e3"), "mean_first_layer"])


def many_cases(first_hops_correct=(1, 2), first_hops_incorrect=(3, 5, 4, 6, None, None, 5, 4)):
    """Eight correct and eight incorrect cases (plus one drifting) following the study's picture."""
    correct = [
        {"id": f"c{i}", "first_hop_resolved": first_hops_correct[i % 2], "information_propagation": 9 + i % 2,
         "e3_decoded_t2": 15 + (i // 2) % 2, "prediction_extracted": 18 + i % 2, "fixable_t1": True,
         "unedited_correct": True}
        for i in range(8)
    ]  # fmt: skip
    incorrect = [
        {"id": f"i{i}", "first_hop_resolved": layer, "fixable_t2": i % 2 == 0}
        for i, layer in enumerate(first_hops_incorrect)
    ]
    incorrect.append({"id": "drift", "fixable_t1": True, "unedited_correct": True})
    return {"correct": stages_table(correct), "incorrect": stages_table(incorrect)}


def row(table, statement: str, split: str):
    found = table[table["statement"].str.startswith(statement) & (table["split"] == split)]
    assert len(found) == 1, (statement, split)
    return found.iloc[0]


def test_findings_hold_where_the_cases_follow_the_study():
    got = findings(many_cases(), num_layers=21)  # relative depth = layer / 20
    assert list(got["claim"]) == [1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4]
    assert list(got["split"]) == ["correct", "incorrect"] * 5 + ["both", "incorrect", "incorrect", "incorrect"]
    correct = got[got["split"] == "correct"]
    assert set(correct["holds"]) == {"yes"}, correct[["statement", "value", "ci_low", "ci_high", "holds", "why"]]
    early = row(got, "the bridge entity", "correct")
    assert early.n == 8 and early.reached == 8 and early.value == pytest.approx(1.5 / 20)
    # incorrect: 3,4,4,5,5,6 and three never resolved (the drifting case too), past the last layer
    late = row(got, "the bridge entity", "incorrect")
    assert (late.studied, late.reached, late.value) == (9, 6, pytest.approx(5 / 20))
    assert late.reached_low < 6 / 9 < late.reached_high  # the exact interval of the reached share
    later = row(got, "in incorrect cases", "both")
    assert later.n == 17 and later.value == pytest.approx(5 / 20 - 1.5 / 20) and later.holds == "yes"
    fix = row(
        got,
        "back-patching a later layer's state into an earlier layer fixes some incorrect cases, at t2 (",
        "incorrect",
    )
    assert fix.n == 8 and fix.value == 0.5  # the drifting case is left out
    assert fix.holds == "inconclusive" and fix.why == "no null to compare with"  # the share alone decides nothing


def test_a_stage_never_reached_is_counted_not_dropped():
    """Seven cases resolve the first hop early and six never do: dropping the six says "early",
    counting them as past the last layer cannot say so."""
    rows = [{"id": f"r{i}", "first_hop_resolved": 1 + i % 3} for i in range(7)]
    rows += [{"id": f"n{i}"} for i in range(6)]
    stages = {"correct": stages_table(rows), "incorrect": stages_table([])}
    dropped = estimate(pd.Series([1 + i % 3 for i in range(7)]) / 20, np.median)
    assert verdict(7, dropped["ci_low"], dropped["ci_high"], (-math.inf, 0.5))[0] == "yes"
    early = row(findings(stages, num_layers=21), "the bridge entity", "correct")
    assert (early.studied, early.reached) == (13, 7) and early.holds == "inconclusive"
    assert early.ci_high > 1  # the interval reaches past the last layer


def test_the_second_hop_before_the_first_counts_against_the_claim():
    """Cases that decode e3 at t2 but never e2 at t1 are the ones against "second hop after the
    first": they count, as negative differences, rather than dropping out."""
    after = [{"id": f"a{i}", "first_hop_resolved": 2, "e3_decoded_t2": 15 + i % 2} for i in range(4)]
    against = [{"id": f"b{i}", "e3_decoded_t2": 10 + i % 3} for i in range(5)]
    stages = {"correct": stages_table(after + against), "incorrect": stages_table([])}
    order = row(findings(stages, num_layers=21), "the second hop is resolved after", "correct")
    assert order.n == 9 and order.reached == 4 and order.value < 0 and order.holds != "yes"


def test_cases_sharing_an_answer_are_one_group():
    rows = [{"id": f"c{i}", "first_hop_resolved": 1 + i % 4} for i in range(12)]
    stages = {"correct": stages_table(rows), "incorrect": stages_table([])}
    shared = {"correct": {f"c{i}": f"Q{i % 3}" for i in range(12)}}  # three answers among twelve cases
    early = row(findings(stages, num_layers=21, groups=shared), "the bridge entity", "correct")
    assert early.groups == 3 and early.holds == "too few cases" and "3 independent groups" in early.why
    alone = row(findings(stages, num_layers=21), "the bridge entity", "correct")
    assert alone.groups == 12 and alone.holds == "yes"


def test_findings_fail_or_abstain_where_the_cases_do_not_follow():
    late_first_hops = findings(many_cases((15, 16), (11, 11, 12, 12, 11, 12, 11, 12)), num_layers=21)
    assert row(late_first_hops, "the bridge entity", "correct").holds == "no"  # in the second half
    assert row(late_first_hops, "in incorrect cases", "both").holds == "no"  # earlier, not later
    few = findings(STAGES, num_layers=21)
    share = few["statement"].str.startswith("back-patching")
    assert set(few[~share]["holds"]) == {"too few cases"}  # 2 to 4 values a row
    assert set(few[share]["holds"]) == {"inconclusive"}  # back-patching's share: no null ran


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
    second = rows.loc[("correct", "second hop resolved: median relative depth (never: past the last layer)")]
    assert second["value"] == pytest.approx(15.5 / 20) and (second["studied"], second["reached"]) == (2, 2)
    first = rows.loc[("incorrect", "first hop resolved: median relative depth (never: past the last layer)")]
    assert (first["studied"], first["reached"]) == (3, 2) and first["value"] == pytest.approx(5 / 20)
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
    assert chance.reached == 2 and chance.value == pytest.approx(((1 - 2) + (5 - 0)) / 2 / 20)
    assert chance.holds == "too few cases"  # two cases


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
