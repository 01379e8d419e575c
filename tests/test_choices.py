"""The run says which settings follow the study and which are ours."""

import copy

from multihop.report.choices import STUDY, choices, chosen, summary


def test_the_default_config_follows_the_study_but_for_the_default_models_prefix(config):
    table = choices(chosen(config, "gemma3-270m"))
    assert len(table) == len(STUDY) and list(table["setting"]) == list(STUDY)
    differs = table[~table["follows_study"]]
    assert list(differs["setting"]) == ["model.prompt_prefix"]  # three demonstration facts: ours, named
    assert summary(table).startswith("differs from the study: model.prompt_prefix=The capital of Egypt is Cairo.")
    without = copy.deepcopy(config)
    without["models"][0]["prompt_prefix"] = ""
    assert summary(choices(chosen(without, "gemma3-270m"))) == "the study's"


def test_each_of_our_choices_is_named(config):
    ours = copy.deepcopy(config)
    ours["models"][0]["prompt_prefix"] = ""
    ours["evaluation"]["match"] = "word"
    ours["analyses"]["propagation"] = "all"
    ours["analyses"]["sampling"] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
    ours["analyses"]["knockout_count"] = "broken"
    table = choices(chosen(ours, "gemma3-270m")).set_index("setting")
    differing = ["evaluation.match", "analyses.sampling", "analyses.propagation", "analyses.knockout_count"]
    assert list(table.index[~table["follows_study"]]) == differing
    assert summary(table.reset_index()).startswith("differs from the study: evaluation.match=word;")


def test_the_dataset_rules_do_not_apply_to_chains_from_a_file(config):
    released = copy.deepcopy(config)
    released["models"][0]["prompt_prefix"] = ""
    released["dataset"] |= {"source": "file", "file": "resources/study/two_hop.csv", "selection": "all"}
    table = choices(chosen(released, "gemma3-270m")).set_index("setting")
    assert table.loc["dataset.selection", "value"].startswith("all (not applied")
    assert table["follows_study"].isna().sum() == 2 and summary(table.reset_index()) == "the study's"
