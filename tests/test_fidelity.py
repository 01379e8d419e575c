"""The study's rules and ours: each switch of docs/fidelity.md does what its row says, and the
ledger has a row for every config key that changes results."""

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from multihop.analyses.catalog import case_counts
from multihop.analyses.naming import named_at_colon
from multihop.analyses.projection import first_token_ids, spaced_forms
from multihop.evaluation.judging import as_decoded, entity_names, mentions
from multihop.models import tiny
from multihop.report.choices import STUDY
from multihop.report.stages import case_stages
from multihop.report.tables import patchscopes_panels

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "docs" / "fidelity.md"


def test_one_character_names_the_studys_way_and_ours():
    """The authors drop one-character aliases, not labels: Q918's label "X" counts for them."""
    assert entity_names("X", '["Twitter", "x"]') == ["X", "Twitter"]
    assert mentions("the company is xAI", entity_names("X", "[]"))  # found in any word with an x
    assert entity_names("X", '["Twitter", "x"]', "any") == ["Twitter"]
    assert not mentions("the company is xAI", entity_names("X", "[]", "any"))


def test_generations_are_judged_and_compared_as_the_authors_decode_them():
    """Stripped, each newline a space (decode_generated): a name across a line break counts, and
    a knockout that only adds a trailing newline changes nothing."""
    assert mentions("New\nYork, of course", ["New York"]) and mentions("New\nYork", ["new york"], "word")
    assert as_decoded(" Paris\n") == as_decoded("Paris") == "Paris"


def test_substring_judging_lower_cases_as_the_authors():
    """str.lower, not casefold: "ß" stays "ß" (casefold makes it "ss")."""
    assert not mentions("Strasse 5", ["Straße"]) and mentions("STRAßE 5", ["straße"])


@pytest.mark.parametrize(
    "generation,patterns,regex",
    [
        (": Paris is a city", "e2", "e2"),
        (": Paris, France", "e2", "e2"),
        ("Paris: the capital", "e2", "e2"),
        ("\n: Paris\nand more", "e2", "e2"),  # newlines are spaces, as the authors decode
        (": Paris", "other", "e2"),  # at the end: none of the five patterns
        (": Paris; more", "other", "e2"),
        (":Paris is", "other", "e2"),  # no space after the colon
        ("Paris : the capital", "other", "e2"),
        (": Parisian food", "other", "other"),
    ],
)
def test_patchscopes_reads_a_name_by_the_authors_five_patterns_or_our_regex(generation, patterns, regex):
    names = {"e1": ["Louvre"], "e2": ["Paris"], "e3": ["France"]}
    assert named_at_colon(generation, names) == patterns
    assert named_at_colon(generation, names, "regex") == regex


def _knockout_case(clean_correct: bool):
    ps = pd.DataFrame(
        columns=["id", "position", "seed", "source_layer", "target_layer", "generation", "classification"]
    )
    pr = pd.DataFrame(columns=["id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank", "top_tokens"])
    bp = pd.DataFrame(
        columns=["id", "position", "source_layer", "target_layer", "generation", "correct", "unedited_correct"]
    )
    # layer 2: the knockout's answer is right; layer 5: wrong (both differ from the clean run's)
    ko = pd.DataFrame(
        [("a", "e1", 2, "", True, True, "", clean_correct), ("a", "e1", 5, "", False, True, "", clean_correct)],
        columns=["id", "target", "layer", "generation", "correct", "changed", "clean_generation", "clean_correct"],
    )
    tables = {"patchscopes": ps, "projection": pr, "knockout": ko, "backpatching": bp}
    return pd.DataFrame({"id": ["a"], "order": [0]}), case_counts(1), tables


def _knockout_matters(studied, counts, tables, knockout_count="changed"):
    rules = {"propagation": "any", "knockout_count": knockout_count}
    return case_stages(studied, counts, tables, rules).set_index("id").loc["a", "knockout_matters"]


def test_knockout_counts_a_change_to_the_right_answer_where_the_clean_run_is_wrong_as_the_authors():
    case = _knockout_case(clean_correct=False)
    assert _knockout_matters(*case) == 2
    assert _knockout_matters(*case, knockout_count="broken") == 5
    # where the clean run is right, both runs right means unchanged in meaning: the rules agree
    assert _knockout_matters(*_knockout_case(clean_correct=True)) == 5


def test_projection_leaves_out_spaced_names_for_llama_2():
    names = ["Paris"]
    bytelevel = tiny.tokenizer("bytelevel")
    assert spaced_forms(bytelevel, "tokenizer")  # GPT-2, LLaMA 3 and Gemma keep them, as the authors
    spaced = first_token_ids(bytelevel, names, spaced=True)
    assert set(first_token_ids(bytelevel, names, spaced=False)) < set(spaced)
    bytelevel.name_or_path = "meta-llama/Llama-2-7b-hf"  # the authors' rule is by the checkpoint's name
    assert not spaced_forms(bytelevel, "tokenizer") and spaced_forms(bytelevel, "always")


class SpaceFirst:
    """A tokenizer as LLaMA 2's encodes a spaced word: a bare "▁" first (" the" -> "▁", "▁the")."""

    name_or_path = "/models/my-local-copy"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [29871, 278] if text.startswith(" ") else [278]}

    def decode(self, ids):
        return "".join(" " if i == 29871 else "the" for i in ids)


def test_projection_leaves_out_spaced_names_where_a_space_is_a_bare_token():
    assert not spaced_forms(SpaceFirst(), "tokenizer") and spaced_forms(SpaceFirst(), "always")


def test_the_patchscopes_heatmap_counts_each_reading_once_per_case_and_cell_as_the_authors():
    rows = [("a", "t1", seed, 1, 0, "", kind) for seed, kind in enumerate(["e2", "e2", "other"])]
    rows += [("b", "t1", seed, 1, 0, "", "e2") for seed in range(3)]
    table = pd.DataFrame(
        rows, columns=["id", "position", "seed", "source_layer", "target_layer", "generation", "classification"]
    )
    deduped = patchscopes_panels({"correct": table}, 2)[("correct", "t1 → e2")]
    every = patchscopes_panels({"correct": table}, 2, dedupe=False)[("correct", "t1 → e2")]
    assert deduped.loc[0, 1] == pytest.approx(2 / 3)  # a: e2 and other; b: e2 once
    assert every.loc[0, 1] == pytest.approx(5 / 6)


def _ledger_switches() -> set[str]:
    """The config keys named in the ledger's table (its `switch` column)."""
    text = LEDGER.read_text()
    table = text[text.index("## The ledger") : text.index("## The choices table")]
    sections = "dataset|evaluation|splits|analyses|prompts|wikidata|model"
    return set(re.findall(rf"`((?:{sections})\.\w+)[`:]", table))  # `key` or `key: value`


def _keys(config: dict) -> set[str]:
    keys = {f"{section}.{key}" for section, values in config.items() if isinstance(values, dict) for key in values}
    keys = {key for key in keys if key.split(".")[0] not in ("entity_types", "relations")}
    model_keys = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
    model_keys = model_keys["properties"]["models"]["items"]["properties"]
    return keys | {f"model.{key}" for key in model_keys} | {"entity_types", "relations"}


# config keys that change how a run goes, never what it finds (each with why)
NO_EFFECT = {
    "wikidata.cache": "where SPARQL answers are kept",
    "wikidata.endpoint": "which server answers (the facts are the same Wikidata)",
    "wikidata.max_bad_lines": "a malformed line either stops the run or is skipped and counted",
    "wikidata.page_size": "rows per SPARQL page",
    "wikidata.batch_size": "items per SPARQL query",
    "wikidata.retries": "tries per query",
    "wikidata.timeout_s": "seconds per request",
    "analyses.shards": "jobs per sweep; the same rows",
    "analyses.batch_size": "variants per forward pass; the same outputs in fp32 (tested)",
    "model.batch_size": "prompts per forward pass; the same outputs in fp32 (tested)",
    "model.resources": "what a job asks of a machine",
    "model.name": "where results go",
    "model.device": "where the model runs (the dtype it runs in is model.dtype)",
    "engine.path": "how generations are computed; the same in float32 on a CPU (checked in every job)",
    "engine.self_check": "how many generations each job checks",
    "engine.warn_below": "when the self-check warns",
}


def test_every_config_key_that_changes_results_has_a_ledger_row(config):
    """A new setting that changes results must say there how the study does it."""
    missing = _keys(config) - set(NO_EFFECT) - _ledger_switches() - {"entity_types", "relations"}
    assert not missing, f"config keys that change results without a row in docs/fidelity.md: {sorted(missing)}"
    text = LEDGER.read_text()
    assert "`entity_types`" in text and "`relations`" in text
    assert set(NO_EFFECT) <= _keys(config)  # (a key renamed away is not silently exempt)


# switches of the ledger that say what a study runs on, not how: the run names its data and model
# elsewhere (the report's funnel and model pages), and the authors' order is unseeded
INPUTS = {
    "wikidata.source",
    "wikidata.dump",
    "dataset.source",
    "dataset.file",
    "model.source",
    "dataset.seed",
    "splits.seed",
    "analyses.seed",
}
# settings with the study's value and no rule of ours to switch to (a user may still change them,
# and the choices table then names them)
STUDY_ONLY = {
    "dataset.bridges_per_type",
    "dataset.chains_per_bridge",
    "prompts.capitalize",
    "evaluation.max_new_tokens",
    "evaluation.staged",
    "splits.max_per_e2_type",
    "analyses.cases_per_split",
    "analyses.max_new_tokens",
    "analyses.patchscopes_seeds",
    "analyses.knockout_window",
    "model.prompt_prefix",
    "model.dtype",
}


def test_every_switch_of_the_ledger_is_a_row_of_the_choices_table():
    # the model is an input, a row of the choices table only to say where its weights come from
    assert _ledger_switches() - INPUTS == set(STUDY) - {"model.source"}


def test_our_rules_name_every_switch_where_we_differ():
    ours = yaml.safe_load((ROOT / "configs" / "our-rules.yaml").read_text())
    named = {f"{section}.{key}" for section, values in ours.items() for key in values}
    assert named == set(STUDY) - STUDY_ONLY - {"model.source"}
