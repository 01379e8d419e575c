import json

import pandas as pd
import pytest

from multihop.dataset.chains import (
    build_chains,
    chain_id,
    dataset_stats,
    e1_offset,
    prompts,
    relation_phrase,
    require_chains,
    select_bridges,
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
    assert (
        relation_phrase("the spouse of {}", "the company that produced {}") == "the spouse of the company that produced"
    )
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
