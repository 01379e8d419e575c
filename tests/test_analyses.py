from dataclasses import replace

import pandas as pd
import pytest
import torch

from multihop import api
from multihop.analyses import runner
from multihop.analyses.cases import load_cases, locate_all
from multihop.analyses.catalog import CATALOG, CONTROLS, STAGE_ANALYSES, case_counts
from multihop.analyses.controls import donor, noise
from multihop.analyses.knockout import blocked_position
from multihop.analyses.patchscopes import classify
from multihop.analyses.projection import best_rank, first_token_ids
from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.engine.states import read_states
from multihop.errors import UserError
from multihop.models import tiny
from multihop.models.adapter import Adapter
from multihop.report.stages import case_stages, studied_for

SETTINGS = {"max_new_tokens": 4, "patchscopes_seeds": [0], "knockout_window": 1, "seed": 0}
SETTINGS |= {"match": "substring", "sampling": {"temperature": None, "top_k": None, "top_p": None}}
SETTINGS |= {"projection_tokens": "first", "knockout_relation": "noun", "projection_space": "tokenizer"}
SETTINGS |= {"knockout_occurrence": "last"}
SETTINGS |= {"patchscopes_reading": "patterns", "one_character": "alias"}
STAGE_RULES = {"propagation": "any", "knockout_count": "changed"}  # the study's


def stages_of(studied, counts, ps, pr, ko, bp, **rules):
    tables = {"patchscopes": ps, "projection": pr, "knockout": ko, "backpatching": bp}
    return case_stages(studied, counts, tables, STAGE_RULES | rules)


PREFIX = "the capital of Japan is Tokyo. "


@pytest.fixture
def dataset(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    return build_chains(entities, facts, config["relations"])


@pytest.mark.parametrize("style", ["bytelevel", "metaspace", "metaspace-prefixed"])
def test_positions_of_e1_and_the_relation_phrases(dataset, style):
    tokenizer = tiny.tokenizer(style)
    positions = locate_all(tokenizer, dataset, PREFIX)
    assert (positions["skipped"] == "").all()

    def upto(case, i):
        return tokenizer.decode(case.ids[: i + 1], skip_special_tokens=True)

    for case in load_cases(tokenizer, dataset.merge(positions, on="id"), PREFIX):
        row = dataset.set_index("id").loc[case.id]
        assert upto(case, case.t1).endswith(row.e1_label)
        assert upto(case, case.r1_end).endswith(row.r1_template.split("{}")[0].rstrip())
        assert upto(case, case.r2_end).endswith(PREFIX + row.r2_template.split("{}")[0].rstrip())
        # the relation nouns, which knockout blocks by default: "performer", "citizenship", "spouse"
        assert upto(case, case.r1_noun).endswith(row.r1_template.split(" ")[-3])  # the authors' rule
        assert upto(case, case.r2_noun).endswith(row.r2_template.split(" ")[-3])
        assert upto(case, case.r1_word).endswith(row.r1_template.split("{}")[0].removesuffix(" of ").split()[-1])
        assert case.r2_noun <= case.r2_end and case.r1_noun <= case.r1_end
        assert case.r2_end < case.r1_end < case.t1 < case.t2 == len(case.ids) - 1


def test_a_case_whose_entity_is_not_in_its_prompt_is_skipped_with_the_reason(dataset):
    broken = dataset.copy()
    broken.loc[0, "source_prompt"] = "the spouse of someone else entirely is"
    positions = locate_all(tiny.tokenizer(), broken, "")
    assert positions.loc[0, "skipped"].startswith("e1 ")
    assert (positions.loc[1:, "skipped"] == "").all()
    assert len(load_cases(tiny.tokenizer(), broken.merge(positions, on="id"), "")) == len(dataset) - 1


def test_patchscopes_classification_looks_around_colons():
    names = {"e1": ["Imagine"], "e2": ["John Lennon", "John Winston Lennon"], "e3": ["Yoko Ono"]}
    assert classify(": John Lennon is an English singer", names) == "e2"
    assert classify(": john lennon, the Beatle", names) == "e2"
    assert classify(" Yoko Ono: Yoko Ono is a Japanese artist", names) == "e3"
    assert classify(": Imagine: Imagine is a song. Yoko Ono:", names) == "e1"
    assert classify(" John Lennon is a singer", names) == "other"  # no colon next to the name
    assert classify(": John Lennonism", names) == "other"


def test_the_analyses_give_one_row_per_variant(dataset):
    tokenizer = tiny.tokenizer()
    adapter = Adapter(tiny.model("llama", vocab_size=len(tokenizer)))
    cases = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)
    cases = [cases[0], cases[3]]  # no e2 or e3 in common: each is the other's donor
    tables = {name: runner.run(name, adapter, tokenizer, cases, SETTINGS) for name in CATALOG}
    layers, positions = adapter.num_layers, 2
    assert len(tables["patchscopes"]) == 2 * positions * layers * layers
    assert len(tables["projection"]) == 2 * 2 * layers
    assert len(tables["knockout"]) == 2 * 3 * layers
    assert len(tables["backpatching"]) == 2 * positions * layers * (layers - 1) // 2
    assert len(tables["controls"]) == 2 * len(CONTROLS) * positions * layers * (layers - 1) // 2
    assert (tables["backpatching"]["source_layer"] > tables["backpatching"]["target_layer"]).all()
    # forward patching: the same pairs of layers, the other way round
    forward = tables["forwardpatching"]
    assert (forward["source_layer"] < forward["target_layer"]).all() and len(forward) == len(tables["backpatching"])
    cells = lambda table, a, b: set(zip(table["id"], table["position"], table[a], table[b], strict=True))  # noqa: E731
    assert cells(forward, "source_layer", "target_layer") == cells(
        tables["backpatching"], "target_layer", "source_layer"
    )
    assert set(tables["patchscopes"]["classification"]) <= {"e1", "e2", "e3", "other"}
    assert tables["projection"]["e2_rank"].between(1, len(tokenizer)).all()
    for name, table in tables.items():
        assert list(table.columns) == list(CATALOG[name].columns)
        parts = [CATALOG[name].cut(table, part, SETTINGS) for part in CATALOG[name].part_names(SETTINGS)]
        assert all(len(part) for part in parts) and sum(len(part) for part in parts) == len(table)
    assert CATALOG["patchscopes"].part_names(SETTINGS) == ["t1_s0", "t2_s0"]
    studied = pd.DataFrame({"id": [c.id for c in cases], "order": range(len(cases))})
    summary = case_stages(studied, case_counts(len(cases)), {n: tables[n] for n in STAGE_ANALYSES}, STAGE_RULES)
    assert list(summary["id"]) == [c.id for c in cases]
    assert runner.run("knockout", adapter, tokenizer, [], SETTINGS).empty


@pytest.mark.parametrize("style", ["bytelevel", "metaspace", "metaspace-prefixed"])
def test_first_tokens_as_the_study_or_informative_ones(style):
    tokenizer = tiny.tokenizer(style)
    names = ["The Beatles", "Yoko Ono", "Paris"]
    first = [tokenizer.decode([i]).strip() for i in first_token_ids(tokenizer, names)]
    assert any(p.casefold().startswith("t") for p in first), first  # "The" (or its first piece) counts
    ids = first_token_ids(tokenizer, names, informative=True)
    pieces = [tokenizer.decode([i]).strip() for i in ids]
    assert ids and all(len(p) > 1 and p.casefold() != "the" for p in pieces), pieces


def test_best_rank_agrees_with_sorting():
    logits = torch.randn(7, 300)  # an odd number of rows: the last group of rows counted holds one
    chosen = [3, 17, 241]
    by_sorting = [min(row.argsort(descending=True).tolist().index(t) for t in chosen) + 1 for row in logits]
    assert best_rank(logits, chosen).tolist() == by_sorting


def test_projecting_the_last_layer_at_t2_gives_the_models_next_token(dataset):
    tokenizer = tiny.tokenizer()
    adapter = Adapter(tiny.model("gemma3", vocab_size=len(tokenizer)))
    case = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, ""), on="id"), "")[0]
    states = read_states(adapter, case.ids)
    with torch.inference_mode():
        model_next = adapter.model(torch.tensor([case.ids])).logits[0, -1].argmax()
        projected_next = adapter.logits(states[-1, case.t2]).argmax()
    assert int(model_next) == int(projected_next)


def test_case_stages_from_hand_made_tables():
    ps = pd.DataFrame(
        [("a", "t1", 0, 3, 1, "", "e2"), ("a", "t1", 0, 2, 1, "", "e1"), ("a", "t2", 0, 5, 2, "", "e3"),
         ("a", "t2", 1, 4, 0, "", "e2"), ("b", "t1", 0, 1, 1, "", "other")],
        columns=["id", "position", "seed", "source_layer", "target_layer", "generation", "classification"],
    )  # fmt: skip
    pr = pd.DataFrame(
        [("a", "attention", 2, 1, 9, 5, ""), ("a", "attention", 6, 1, 1, 1, ""), ("a", "mlp", 7, 3, 1, 1, ""),
         ("b", "mlp", 1, 2, 2, 2, "")],
        columns=["id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank", "top_tokens"],
    )  # fmt: skip
    ko = pd.DataFrame(
        [("a", "e1", 3, "", False, False), ("a", "e1", 6, "", False, True), ("a", "r1", 1, "", False, True)],
        columns=["id", "target", "layer", "generation", "correct", "changed"],
    ).assign(clean_generation="", clean_correct=True)
    bp = pd.DataFrame(
        [("a", "t1", 5, 2, "", True, False), ("a", "t2", 5, 2, "", False, False), ("b", "t2", 3, 1, "", True, True),
         ("b", "t1", 3, 1, "", False, True)],
        columns=["id", "position", "source_layer", "target_layer", "generation", "correct", "unedited_correct"],
    )  # fmt: skip
    both, every = pd.DataFrame({"id": ["a", "b"], "order": [0, 1]}), case_counts(2)
    got = stages_of(both, every, ps, pr, ko, bp).set_index("id")
    a, b = got.loc["a"], got.loc["b"]
    assert (a.first_hop_resolved, a.e2_decoded_t2, a.e3_decoded_t2) == (3, 4, 5)
    assert (a.e2_in_attention, a.knockout_matters, a.prediction_extracted) == (2, 6, 7)
    assert a.information_propagation == pytest.approx((6 + 2 + 4) / 3)
    assert a.fixable_t1 and not a.fixable_t2 and not b.fixable_t1 and b.fixable_t2
    assert not a.unedited_correct and b.unedited_correct
    assert pd.isna(b.first_hop_resolved) and pd.isna(b.information_propagation)
    # without a knockout layer that matters: the study averages the two layers left; ours needs all three
    study = stages_of(both[:1], every, ps, pr, ko[ko["layer"] != 6], bp).set_index("id")
    assert study.loc["a", "information_propagation"] == pytest.approx((2 + 4) / 2)
    ours = stages_of(both[:1], every, ps, pr, ko[ko["layer"] != 6], bp, propagation="all").set_index("id")
    assert pd.isna(ours.loc["a", "information_propagation"]) and ours.loc["a", "e2_in_attention"] == 2


def test_stages_count_only_where_their_analyses_studied_the_case():
    """Patchscopes on the first case in order only; the other three on both."""
    ps = pd.DataFrame(
        [("a", "t1", 0, 3, 1, "", "e2"), ("b", "t1", 0, 2, 1, "", "e2")],
        columns=["id", "position", "seed", "source_layer", "target_layer", "generation", "classification"],
    )
    pr = pd.DataFrame(
        [(i, "attention", 2, 1, 9, 5, "") for i in "ab"],
        columns=["id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank", "top_tokens"],
    )
    ko = pd.DataFrame([(i, "e1", 3, "", False, True, "", False) for i in "ab"], columns=CATALOG["knockout"].columns)
    bp = pd.DataFrame([(i, "t1", 5, 2, "", True, False) for i in "ab"], columns=CATALOG["backpatching"].columns)
    counts = {**case_counts(2), "patchscopes": 1}
    got = stages_of(pd.DataFrame({"id": ["a", "b"], "order": [1, 0]}), counts, ps, pr, ko, bp).set_index("id")
    assert list(got["studied_by_patchscopes"]) == [False, True] and got["studied_by_knockout"].all()
    assert pd.isna(got.loc["a", "first_hop_resolved"]) and got.loc["b", "first_hop_resolved"] == 2
    # propagation needs all three analyses: none for a, though its knockout and projection exist
    assert pd.isna(got.loc["a", "information_propagation"]) and got.loc["a", "e2_in_attention"] == 2
    assert list(studied_for(got.reset_index(), "first_hop_resolved")["id"]) == ["b"]
    assert list(studied_for(got.reset_index(), "fixable_t1")["id"]) == ["a", "b"]


def test_cases_per_split_is_one_number_or_one_per_analysis():
    assert case_counts(5) == dict.fromkeys(CATALOG, 5)
    assert case_counts({name: i for i, name in enumerate(CATALOG)})["backpatching"] == 3
    assert case_counts({"patchscopes": 3, "knockout": 5})["backpatching"] == 5  # not named: the whole sample
    with pytest.raises(UserError, match="is empty"):
        case_counts({})
    with pytest.raises(UserError, match="unknown analyses"):
        case_counts({**dict.fromkeys(CATALOG, 1), "patchscope": 2})


def test_knockout_blocks_the_relation_noun_or_the_phrase_end(dataset):
    tokenizer = tiny.tokenizer()
    case = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)[0]
    assert blocked_position(case, "e1", "noun", "located") == case.t1
    assert blocked_position(case, "r1", "noun", "located") == case.r1_noun != case.r1_end
    assert blocked_position(case, "r1", "phrase_end", "located") == case.r1_end
    assert blocked_position(case, "r2", "noun", "located") == case.r2_noun < case.r2_end
    # the study's: the last token with the same id, the located one or a later copy (the tiny
    # tokenizer's last piece of "citizenship" recurs later in the prompt)
    for target, rule in (("e1", "noun"), ("r1", "noun"), ("r1", "phrase_end"), ("r2", "noun")):
        located, last = (blocked_position(case, target, rule, occurrence) for occurrence in ("located", "last"))
        assert last >= located and case.ids[last] == case.ids[located]
        assert case.ids[last] not in case.ids[last + 1 :]


def test_knockout_blocks_that_in_the_company_that_produced_as_the_authors_or_produced_as_ours():
    """The authors' relation word is `template.split(" ")[-3]`: "that" for P272 and P1441."""
    tokenizer = tiny.tokenizer()
    model = api.Model("tiny", None, tokenizer, PREFIX)
    case = api.make_case(
        model,
        e1=("Q44578", "Titanic"),
        r1=("P272", "the company that produced {}"),
        e2=("Q130232", "Lightstorm"),
        r2=("P1441", "the work that features {}"),
        e3=("Q1", "Avatar"),
    )
    assert case.text == PREFIX + "the work that features the company that produced Titanic is"

    def blocked(target, rule, occurrence="located"):
        return tokenizer.decode(case.ids[: blocked_position(case, target, rule, occurrence) + 1]).split(". ")[-1]

    assert blocked("r1", "noun") == "the work that features the company that"
    assert blocked("r1", "last_word") == "the work that features the company that produced"
    assert blocked("r2", "noun") == "the work that"
    assert blocked("r2", "last_word") == "the work that features"
    assert blocked("r2", "phrase_end") == "the work that features"
    # the authors block the last token with r2's word's id: r1's "that", which repeats it
    assert blocked("r2", "noun", "last") == "the work that features the company that"
    assert blocked("r2", "last_word", "last") == "the work that features"
    assert blocked("r1", "last_word", "last") == blocked("r1", "last_word")
    assert blocked("e1", "noun", "last") == blocked("e1", "noun") == case.text.split(". ")[-1].removesuffix(" is")


def test_noise_of_the_back_patchs_size_seeded_per_cell():
    here = torch.randn(64, generator=torch.Generator().manual_seed(1))
    size = torch.tensor(3.5)
    a, b, c = noise(here, size, 7), noise(here, size, 7), noise(here, size, 8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a - here).norm().item() == pytest.approx(3.5, rel=1e-5)
    assert (c - here).norm().item() == pytest.approx(3.5, rel=1e-5)


def test_controls_draw_another_cases_state_whichever_shard_runs_the_case(dataset):
    tokenizer = tiny.tokenizer()
    adapter = Adapter(tiny.model("llama", vocab_size=len(tokenizer)))
    cases = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)[:4]
    chosen = donor(cases[0], cases, seed=0)
    assert chosen.id == cases[3].id  # the others share John Lennon (e2) or the United Kingdom (e3) with it
    assert donor(cases[0], list(reversed(cases)), seed=0).id == chosen.id
    table = runner.run("controls", adapter, tokenizer, cases[:1], SETTINGS, pool=cases)
    cells = 2 * adapter.num_layers * (adapter.num_layers - 1) // 2
    assert table.groupby("control").size().to_dict() == {"noise": cells, "other_case": cells}
    assert set(table["donor"]) == {chosen.id}
    # a donor never shares e2 or e3 with the case (it could inject the answer)
    twin = replace(cases[3], id="twin", names={**cases[3].names, "e3": cases[0].names["e3"]})
    assert donor(cases[0], [cases[0], twin], seed=0) is None
    alone = runner.run("controls", adapter, tokenizer, cases[:1], SETTINGS, pool=cases[:1])
    assert set(alone["control"]) == {"noise"}  # no other case to draw on
    assert alone.equals(table[table["control"] == "noise"].reset_index(drop=True).assign(donor=""))


def test_projection_of_cases_taken_together_equals_one_at_a_time_and_resumes_per_case(dataset, tmp_path):
    from multihop.analyses.finished import FinishedCases

    tokenizer = tiny.tokenizer()
    adapter = Adapter(tiny.model("gemma3", vocab_size=len(tokenizer)))
    cases = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)[:5]
    lengths = [len(case.ids) for case in cases]
    assert len(set(lengths)) < len(lengths), lengths  # some of one length: one forward
    rows = 2 * adapter.num_layers
    alone = runner.run("projection", adapter, tokenizer, cases, SETTINGS, batch_size=rows)  # one case a batch
    together = runner.run("projection", adapter, tokenizer, cases, SETTINGS, batch_size=3 * rows)  # 3, then 2
    pd.testing.assert_frame_equal(alone, together)
    # a resumed run skips the groups whose cases were all stored, and forms the same groups as before
    context = runner.Context(adapter, tokenizer, SETTINGS, None, batch_size=3 * rows)
    run_cases, groups = runner.cases_runner("projection", context)
    first, second = groups(cases)
    finished = FinishedCases(tmp_path / "shard.unfinished", "digest")
    for index in first:
        finished.put(index, alone[alone["id"] == cases[index].id].reset_index(drop=True))
    ran = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            runner, "cases_runner", lambda name, context: (lambda group: ran.append(group) or run_cases(group), groups)
        )
        resumed = runner.run("projection", adapter, tokenizer, cases, SETTINGS, batch_size=3 * rows, finished=finished)
    assert [[c.id for c in group] for group in ran] == [[cases[i].id for i in second]]
    pd.testing.assert_frame_equal(alone, resumed)


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_knockout_of_cases_taken_together_equals_one_at_a_time(dataset, family):
    tokenizer = tiny.tokenizer()
    overrides = {"sliding_window": 512} if family == "gemma3" else {}  # a window that lets prefixes be cached
    adapter = Adapter(tiny.model(family, vocab_size=len(tokenizer), **overrides))
    cases = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)
    groups = runner._groups(8, True, cases)
    assert max(len(group) for group in groups) > 1  # some cases do go together
    variants = 1 + 3 * adapter.num_layers
    alone = runner.run("knockout", adapter, tokenizer, cases, SETTINGS, batch_size=variants)  # one case a batch
    together = runner.run("knockout", adapter, tokenizer, cases, SETTINGS, batch_size=8 * variants)
    pd.testing.assert_frame_equal(alone, together)


def test_cases_taken_at_once_are_grouped_shortest_first_and_by_length_where_asked():
    from types import SimpleNamespace

    cases = [SimpleNamespace(ids=[0] * n) for n in (5, 3, 5, 4, 5, 5, 3)]
    assert runner._groups(3, False, cases) == [[1, 6, 3], [0, 2, 4], [5]]
    assert runner._groups(3, True, cases) == [[1, 6], [3], [0, 2, 4], [5]]
    assert runner._groups(1, False, cases) == [[1], [6], [3], [0], [2], [4], [5]]
