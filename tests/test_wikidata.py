import json

import pytest

from multihop.dataset.wikidata import WikidataError, extract_from_dump


def extract(path, config):
    return extract_from_dump(path, config["entity_types"], list(config["relations"]))


def test_dump_extraction_keeps_typed_labelled_items_and_study_facts(tiny_dump, config):
    entities, facts = extract(tiny_dump, config)
    # The Beatles only has a non-study statement (P361), so nothing keeps it.
    assert "Q1299" not in set(entities["qid"])
    assert len(entities) == 7 and len(facts) == 7
    tokyo = entities.set_index("qid").loc["Q1490"]
    assert tokyo["label"] == "Tokyo" and json.loads(tokyo["aliases"]) == ["Tōkyō"]
    assert tokyo["popularity"] == 280  # wikibase:sitelinks wins over counting schema:about
    assert entities.set_index("qid").loc["Q84", "type"] == "city"  # big city counts as city
    assert ("Q1203", "P26", "Q117012") in set(facts.itertuples(index=False, name=None))


def test_popularity_falls_back_to_counting_sitelinks(tiny_dump, config):
    lines = [line for line in tiny_dump.read_text().splitlines() if "wikiba.se/ontology#sitelinks" not in line]
    tiny_dump.write_text("\n".join(lines) + "\n")
    entities, _ = extract(tiny_dump, config)
    assert set(entities["popularity"]) == {1}


def test_items_must_be_listed_together(tiny_dump, config):
    lines = tiny_dump.read_text().splitlines()
    moved = lines.pop(2)  # The Beatles' P31, moved to the end
    tiny_dump.write_text("\n".join(lines + [moved]) + "\n")
    with pytest.raises(WikidataError, match="Q1299 are not together"):
        extract(tiny_dump, config)


YOKO_TYPE = "<http://www.wikidata.org/entity/Q117012> <http://www.wikidata.org/prop/direct/P31>"


def test_untyped_items_drop_with_their_facts(tiny_dump, config):
    lines = [line for line in tiny_dump.read_text().splitlines() if not line.startswith(YOKO_TYPE)]
    tiny_dump.write_text("\n".join(lines) + "\n")
    entities, facts = extract(tiny_dump, config)
    assert "Q117012" not in set(entities["qid"])
    assert not (facts == "Q117012").any().any()


def test_unlabelled_items_stay_with_an_empty_label(tiny_dump, config):
    """The dataset's rules name them by their QID, as the authors' label service, or drop them."""
    text = tiny_dump.read_text().replace('"Yoko Ono"@en', '"Yoko Ono"@fr')
    tiny_dump.write_text(text)
    entities, facts = extract(tiny_dump, config)
    assert entities.set_index("qid").loc["Q117012", "label"] == ""
    assert ("Q1203", "P26", "Q117012") in set(facts.itertuples(index=False, name=None))


def test_an_items_type_is_its_first_study_class_as_the_dump_lists_them(tiny_dump, config):
    """As the authors' first row per item; the classes column keeps the dump's order."""
    character = f"{YOKO_TYPE} <http://www.wikidata.org/entity/Q3658341> ."
    tiny_dump.write_text(tiny_dump.read_text().replace(YOKO_TYPE, character + "\n" + YOKO_TYPE, 1))
    yoko = extract(tiny_dump, config)[0].set_index("qid").loc["Q117012"]
    assert yoko["type"] == "literary character" and yoko["classes"] == "Q3658341|Q5"


@pytest.mark.parametrize(
    "content, message",
    [("", "no Wikidata item in the dump"), ("<http://a/s> <http://a/p> <http://a/o> .\n", "no Wikidata item")],
    ids=["empty", "not-wikidata"],
)
def test_a_dump_without_items_is_a_plain_error(tmp_path, config, content, message):
    path = tmp_path / "dump.nt"
    path.write_text(content)
    with pytest.raises(WikidataError, match=message):
        extract(path, config)


def test_a_dump_without_items_of_the_types_is_a_plain_error(tiny_dump, config):
    with pytest.raises(WikidataError, match="no item in the dump is an instance of the config's entity_types"):
        extract(tiny_dump, {**config, "entity_types": {"Q999999999": "nothing"}})
