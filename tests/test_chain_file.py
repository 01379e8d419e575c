"""Chains from a file: the study's released format (a hand-written file), this project's, bad files."""

import json
from pathlib import Path

import pandas as pd
import pytest

from multihop.dataset.chain_file import import_chains, read_chain_file
from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.errors import UserError

STUDY_FILE = Path(__file__).parent / "data" / "study_two_hop.csv"  # 34 rows written by hand


@pytest.fixture
def imported(config):
    return import_chains(read_chain_file(STUDY_FILE), config["relations"])


def test_the_studys_file_gives_the_wikidata_rows_where_the_facts_agree(imported, tiny_dump, config):
    chains, _, _ = imported
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    built = build_chains(entities, facts, config["relations"])
    common = chains[chains["id"].isin(built["id"])].reset_index(drop=True)
    assert len(common) == len(built) == 6  # the six chains of the excerpt are in the file
    # popularity is the one thing measured differently: page views there, sitelinks here
    same = [c for c in built.columns if not c.endswith("_popularity")]
    pd.testing.assert_frame_equal(common[same], built[same].reset_index(drop=True))


def test_rows_that_cannot_be_used_are_counted_by_reason_and_prompts_checked(imported):
    chains, dropped, disagreements = imported
    assert len(chains) == 32 and chains["id"].is_unique
    reasons = dict(zip(dropped["reason"], dropped["rows"], strict=True))
    assert reasons["an entity label is empty"] == 1
    assert reasons["e1, e2 and e3 are not three distinct items"] == 1
    # the one hand-made disagreement: the file's prompt names "Titanic (1997 film)"
    assert list(disagreements["file_prompt"]) == [
        "the country of citizenship of the director of Titanic (1997 film) is"
    ]
    assert list(disagreements["prompt"]) == ["the country of citizenship of the director of Titanic is"]


def test_quotes_and_apostrophes_survive(imported):
    chains, _, _ = imported
    by_label = chains.set_index("e1_label")
    assert '"The Boss" Springsteen' in json.loads(by_label.loc["Bruce Springsteen", "e1_aliases"].iloc[0])
    assert "Guns 'n' Roses" in json.loads(by_label.loc["Guns N' Roses", "e1_aliases"])
    weird = by_label.loc['"Weird Al" Yankovic']
    assert weird["source_prompt"] == 'the capital of the country of citizenship of "Weird Al" Yankovic is'
    assert "Al 'Weird Al' Yankovic" in json.loads(weird["e1_aliases"])
    tokyo = chains[chains["e3_label"] == "Tokyo"]
    assert [json.loads(a) for a in tokyo["e3_aliases"]] == [["Tōkyō"]]


def test_this_projects_own_file_and_parquet_come_back_unchanged(imported, config, tmp_path):
    chains, _, _ = imported
    again, dropped, disagreements = import_chains(chains, config["relations"])
    pd.testing.assert_frame_equal(again, chains)
    assert dropped["rows"].sum() == 0 and disagreements.empty
    parquet = chains.assign(e1_aliases=[json.loads(a) for a in chains["e1_aliases"]])  # aliases as lists
    parquet.to_parquet(tmp_path / "chains.parquet")
    pd.testing.assert_frame_equal(
        import_chains(read_chain_file(tmp_path / "chains.parquet"), config["relations"])[0], chains
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.drop(columns=["e2_aliases", "r1_template"]), "lacks columns e2_aliases, r1_template"),
        (lambda t: t.assign(e1_aliases=t["e1_aliases"].where(t.index != 3, "['Yoko', 'Ono'")), "row 4: e1_aliases"),
        (
            lambda t: t.assign(r2_template=t["r2_template"].where(t.index != 0, "the capital of")),
            "needs exactly one {}",
        ),
        (lambda t: t.assign(id=t["id"].where(t.index != 5, "4")), "duplicate ids"),
        (lambda t: pd.concat([t, t.iloc[[2]].assign(id="99")]), "the same chain twice"),
        (lambda t: t.iloc[32:], "no usable chain"),
    ],
)
def test_bad_files_are_plain_errors(change, message, config):
    table = change(read_chain_file(STUDY_FILE))
    with pytest.raises(UserError, match=message.replace("{}", r"\{\}")):
        import_chains(table, config["relations"])


def test_a_missing_or_unknown_file_is_a_plain_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_chain_file(tmp_path / "absent.csv")
    (tmp_path / "chains.json").write_text("{}")
    with pytest.raises(UserError, match="use a .csv or .parquet"):
        read_chain_file(tmp_path / "chains.json")


def test_a_missing_chain_file_is_named_and_the_studys_says_where_to_get_it():
    from multihop.dataset.chain_file import STUDY_FILE, STUDY_URL, missing_chain_file

    assert missing_chain_file("mine.csv") == (
        "config: dataset.file mine.csv does not exist; give the path of a CSV or Parquet of chains"
    )
    assert missing_chain_file(STUDY_FILE).endswith(f"download {STUDY_URL} to {STUDY_FILE}")
