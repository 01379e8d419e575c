import json

import pandas as pd
import pytest

from multihop.dataset.chains import (
    build_chains,
    chain_id,
    dataset_rules,
    dataset_stats,
    e1_offset,
    entity_rules,
    prompts,
    relation_phrase,
    require_chains,
    select_bridges,
    with_aliases,
)
from multihop.dataset.wikidata import extract_from_dump
from multihop.errors import UserError


def test_prompts_follow_the_study():
    texts = prompts("Imagine", "John Lennon", "the performer of {}", "the spouse of {}")
    assert texts == {
        "first_hop": "the performer of Imagine is",
        "second_hop": "the spouse of John Lennon is",
        "composition": "the spouse of the performer of Imagine is",
        "entity_shortcut": "the spouse of Imagine is",
        "relation_shortcut": "the spouse of the performer",
    }
    assert prompts("Imagine", "John Lennon", "the performer of {}", "the spouse of {}", capitalize=True)[
        "composition"
    ].startswith("The spouse of")


def test_relation_phrase_and_e1_offset_for_templates_without_of():
    """The authors cut four characters off the phrase (`[:-4]`), "...produ" where no " of" ends it."""
    assert relation_phrase("the spouse of {}", "the company that produced {}") == "the spouse of the company that produ"
    assert (
        relation_phrase("the spouse of {}", "the company that produced {}", "phrase")
        == "the spouse of the company that produced"
    )
    assert relation_phrase("the spouse of {}", "the performer of {}", "phrase") == "the spouse of the performer"
    r1, r2 = "the work that features {}", "the author of {}"
    composed = prompts("Sherlock Holmes", "x", r1, r2)["composition"]
    assert composed[e1_offset(r1, r2) :].startswith("Sherlock Holmes")


def test_chains_from_the_tiny_dump(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    chains = build_chains(entities, facts, config["relations"])
    assert len(chains) == 6
    assert chains["id"].is_unique and list(chains["id"]) == sorted(chains["id"])
    # the spouse of the spouse of John Lennon is John Lennon again: e1 == e3 is not a chain
    assert not ((chains["r1"] == "P26") & (chains["r2"] == "P26")).any()
    row = chains[chains["source_prompt"] == "the spouse of the performer of Imagine is"].iloc[0]
    assert (row.e1, row.e2, row.e3, row.e3_label) == ("Q193580", "Q1203", "Q117012", "Yoko Ono")
    assert row.id == chain_id("Q193580", "P175", "Q1203", "P26", "Q117012")
    assert json.loads(row.e2_aliases) == ["John Winston Lennon"]
    stats = dataset_stats(entities, facts, chains).set_index(["statistic", "value"])["count"]
    assert stats["total", "chains"] == 6 and stats["e3 type", "city"] == 2


def test_relations_missing_from_config_make_no_chains(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    relations = {pid: r for pid, r in config["relations"].items() if pid != "P26"}
    chains = build_chains(entities, facts, relations)
    assert set(chains["r1"]) | set(chains["r2"]) <= set(relations)
    assert len(chains) == 3


def test_build_chains_is_deterministic(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    first = build_chains(entities, facts, config["relations"])
    shuffled = build_chains(
        entities.sample(frac=1, random_state=1), facts.sample(frac=1, random_state=2), config["relations"]
    )
    pd.testing.assert_frame_equal(first, shuffled)


def test_the_studys_selection_of_bridge_entities(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    statements = entities.set_index("label")["statements"]
    assert statements["John Lennon"] == 4  # P31, P26, P27 and P361 (not a study relation, still a statement)
    chains = build_chains(entities, facts, config["relations"])
    assert select_bridges(chains, entities, per_type=2000, per_bridge=100, seed=0).equals(chains)  # nothing to cut
    one_each = select_bridges(chains, entities, per_type=2000, per_bridge=1, seed=0)
    assert len(one_each) == chains["e2"].nunique() and set(one_each["id"]) <= set(chains["id"])
    top = select_bridges(chains, entities, per_type=1, per_bridge=100, seed=0)
    assert (top.groupby("e2_type")["e2"].nunique() == 1).all()
    humans = chains[chains["e2_type"] == "human"]["e2"].unique()
    best = max(humans, key=lambda q: (entities.set_index("qid").loc[q, "statements"], -int(q[1:])))
    assert set(top[top["e2_type"] == "human"]["e2"]) == {best}


def test_facts_that_make_no_chain_are_a_plain_error(tiny_dump, config):
    """Only the first hops' relation kept: no fact continues another, so no chain."""
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    only = {"P26": config["relations"]["P26"]}
    chains = build_chains(entities, facts, only)
    assert chains.empty
    with pytest.raises(UserError, match="make no two-hop chain: no object of one fact is the subject of another"):
        require_chains(chains, entities, facts)
    assert require_chains(build_chains(entities, facts, config["relations"]), entities, facts).shape[0] == 6


def test_bridges_rank_among_all_members_of_their_class(tiny_dump, config):
    """The study's pool: a human with more statements than John Lennon that bridges no chain
    still takes the first of the humans' places (create_dataset.py ranks every member)."""
    q = "<http://www.wikidata.org/entity/Q9>"
    wdt = "<http://www.wikidata.org/prop/direct/"
    lines = [f"{q} {wdt}P31> <http://www.wikidata.org/entity/Q5> ."]
    lines += [f"{q} {wdt}P{n}> <http://www.wikidata.org/entity/Q{100 + n}> ." for n in range(1, 6)]
    with tiny_dump.open("a") as dump:
        dump.write("\n".join(lines) + "\n")
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    assert "Q9" not in set(entities["qid"])  # in no fact, so not in the table; its rank still counts
    ranks = entities.set_index("label")["class_ranks"]
    assert ranks["John Lennon"] == "Q5:2" and ranks["Yoko Ono"] == "Q5:3"
    assert ranks["Japan"] == "Q6256:1" and ranks["United Kingdom"] == "Q6256:2"  # a tie: lower QID first
    chains = build_chains(entities, facts, config["relations"])
    top = select_bridges(chains, entities, per_type=1, per_bridge=100, seed=0)
    assert set(top["e2"]) == {"Q17"}  # no human is among the first one of its class; Japan is
    assert set(select_bridges(chains, entities, per_type=2, per_bridge=100, seed=0)["e2"]) == {"Q17", "Q145", "Q1203"}


def test_each_class_has_its_own_quota():
    """An item ranked third among cities but first among big cities is kept with one per class."""
    entities = pd.DataFrame({"qid": ["Q1", "Q2"], "class_ranks": ["Q515:3|Q1549591:1", "Q515:2"]})
    chains = pd.DataFrame({"id": ["a", "b"], "e2": ["Q1", "Q2"]})
    assert list(select_bridges(chains, entities, per_type=1, per_bridge=100, seed=0)["e2"]) == ["Q1"]


def test_the_studys_dataset_drops_chains_without_aliases_after_the_cap():
    aliased, bare = '["x"]', "[]"
    chains = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "e2": ["Q1"] * 4,
            "e1_aliases": [aliased, bare, aliased, aliased],
            "e2_aliases": [aliased] * 4,
            "e3_aliases": [aliased, aliased, aliased, bare],
        }
    )
    assert list(with_aliases(chains)["id"]) == ["a", "c"]
    entities = pd.DataFrame({"qid": ["Q1"], "class_ranks": ["Q5:1"]})
    rules = {"selection": "study", "bridges_per_type": 1, "chains_per_bridge": 2, "seed": 0, "aliases": "required"}
    kept, funnel = dataset_rules(chains, entities, rules)
    # the cap takes 2 of the 4 first, as the authors' LIMIT precedes their dropna; then the aliases
    assert [step for step, _ in funnel][1:] == [
        "with a top bridge entity, capped per bridge (study)",
        "with an alias for e1, e2 and e3 (study)",
    ]
    assert [n for _, n in funnel][:2] == [4, 2] and funnel[2][1] == len(kept) <= 2
    capped = select_bridges(chains, entities, 1, 2, 0)
    assert list(kept["id"]) == list(with_aliases(capped)["id"])
    every, steps = dataset_rules(chains, entities, {**rules, "selection": "all", "aliases": "optional"})
    assert every.equals(chains) and steps == [("chains from the facts", 4)]


def test_rules_that_keep_no_chain_are_a_plain_error(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    chains = build_chains(entities, facts, config["relations"])
    kept, funnel = dataset_rules(chains, entities, {**config["dataset"], "selection": "all"})
    assert kept.empty  # each tiny chain has an entity without an alias (Yoko Ono, London, Japan or Imagine)
    with pytest.raises(UserError, match=r"the dataset's rules keep no chain \(with an alias for e1, e2 and e3"):
        require_chains(kept, entities, facts, after=funnel[1:])


def test_unlabelled_items_are_named_by_their_qid_as_the_authors_or_dropped(tiny_dump, config):
    tiny_dump.write_text(tiny_dump.read_text().replace('"Yoko Ono"@en', '"Yoko Ono"@fr'))
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    types = config["entity_types"]
    named = entity_rules(entities, config["dataset"], types)
    assert config["dataset"]["unlabelled"] == "id" and named.set_index("qid").loc["Q117012", "label"] == "Q117012"
    chains = build_chains(named, facts, config["relations"])
    assert "the country of citizenship of the spouse of Q117012 is" in set(chains["source_prompt"])
    dropped = entity_rules(entities, {**config["dataset"], "unlabelled": "drop"}, types)
    assert "Q117012" not in set(dropped["qid"])
    left = build_chains(dropped, facts, config["relations"])
    assert not left.empty and not left[["e1", "e2", "e3"]].isin(["Q117012"]).any().any()


def test_an_item_in_several_classes_is_typed_by_the_first_its_source_lists_or_by_the_configs_order():
    entities = pd.DataFrame(
        {"qid": ["Q1"], "label": ["Yoko Ono"], "type": ["literary character"], "classes": ["Q3658341|Q5"]}
    )
    types = {"Q5": "human", "Q3658341": "literary character"}
    rules = {"unlabelled": "id", "entity_type": "source_order"}
    assert entity_rules(entities, rules, types).loc[0, "type"] == "literary character"  # the table's, the source's
    assert entity_rules(entities, {**rules, "entity_type": "config_order"}, types).loc[0, "type"] == "human"
