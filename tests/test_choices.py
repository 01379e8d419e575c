"""The run says which settings follow the study and which are ours."""

import copy

from multihop.report.choices import STUDY, choices, summary


def test_the_default_config_follows_the_study_everywhere(config):
    table = choices(config)
    assert len(table) == len(STUDY) == 5 and table["follows_study"].all()
    assert summary(table) == "the study's"


def test_each_of_our_choices_is_named(config):
    ours = copy.deepcopy(config)
    ours["evaluation"]["match"] = "word"
    ours["analyses"]["propagation"] = "all"
    ours["analyses"]["sampling"] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
    table = choices(ours).set_index("setting")
    differing = ["evaluation.match", "analyses.sampling", "analyses.propagation"]
    assert list(table.index[~table["follows_study"]]) == differing
    assert summary(table.reset_index()).startswith("differs from the study: evaluation.match=word;")
