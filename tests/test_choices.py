"""The run says which settings follow the study and which are ours."""

import copy

from multihop.report.choices import DATASET_RULES, STUDY, choices, chosen, summary


def test_the_default_config_follows_the_study_but_for_the_default_models_prefix(config):
    table = choices(chosen(config, "gemma3-270m"))
    assert len(table) == len(STUDY) and list(table["setting"]) == list(STUDY)
    differs = table[table["follows_study"].eq(False)]
    assert list(differs["setting"]) == ["model.prompt_prefix"]  # three demonstration facts: ours, named
    # known once the model ran and the splits exist
    assert table.set_index("setting")["follows_study"].isna().sum() == 3  # and the model, a choice
    assert "Q4_K_M quantization (GGUF)" in table.set_index("setting").loc["model.source", "meaning"]
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
    differing = ["evaluation.match", "analyses.sampling", "analyses.knockout_count", "analyses.propagation"]
    assert list(table.index[table["follows_study"].eq(False)]) == differing
    assert summary(table.reset_index()).startswith("differs from the study: evaluation.match=word;")


def test_the_dataset_rules_do_not_apply_to_chains_from_a_file(config):
    released = copy.deepcopy(config)
    released["models"][0]["prompt_prefix"] = ""
    released["dataset"] |= {"source": "file", "file": "resources/study/two_hop.csv", "selection": "all"}
    table = choices(chosen(released, "gemma3-270m")).set_index("setting")
    assert table.loc["dataset.selection", "value"].startswith("all (not applied")
    assert table.loc["dataset.aliases", "value"].startswith("required (not applied")
    assert (
        table["follows_study"].isna().sum() == len(DATASET_RULES) + 3 and summary(table.reset_index()) == "the study's"
    )


def test_a_run_in_bfloat16_or_on_a_sample_of_the_splits_is_named(config):
    """The precision the model ran in and the cases studied, once known, are rows like the others."""
    study = copy.deepcopy(config)
    study["models"][0]["prompt_prefix"] = ""
    table = choices(chosen(study, "gemma3-270m"), "float32", {"correct": 12, "incorrect": 12})
    assert summary(table) == "the study's"  # every analysis studies the whole of both splits
    table = choices(chosen(study, "gemma3-270m"), "bfloat16", {"correct": 12, "incorrect": 152})
    assert summary(table) == (
        "differs from the study: analyses.cases_per_split={'patchscopes': 12, 'projection': 60, 'knockout': 60, "
        "'backpatching': 60, 'forwardpatching': 60, 'controls': 60}; model.dtype=bfloat16 (auto)"
    )
    study["models"][0] |= {"source": "meta-llama/Meta-Llama-3-70B", "dtype": "auto"}  # loaded as the authors
    assert summary(choices(chosen(study, "gemma3-270m"), "bfloat16", {"correct": 12, "incorrect": 12})) == "the study's"
    study["evaluation"]["staged"] = False  # asking every prompt studies the same cases
    assert choices(chosen(study, "gemma3-270m")).set_index("setting").loc["evaluation.staged", "follows_study"]
