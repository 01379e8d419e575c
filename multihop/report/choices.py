"""Which of the settings where the study and this project's own judgement differ a run used.

Each default follows the study (Biran et al. 2024, checked against the authors' released code);
the alternatives are ours. The report and findings.csv say which a run used.
"""

import pandas as pd

# config key -> (the study's value, what it means)
STUDY = {
    "evaluation.match": ("substring", "an answer counts when a name occurs anywhere in it (word: whole words)"),
    "analyses.sampling": (
        {"temperature": None, "top_k": None, "top_p": None},
        "Patchscopes samples with the model's generation config, else transformers' defaults",
    ),
    "analyses.projection_tokens": ("first", "projection ranks the first token of each name (informative: skips 'The')"),
    "analyses.propagation": ("any", "information propagation averages the layers that exist (all: needs all three)"),
    "analyses.knockout_relation": ("noun", "knockout blocks the relation noun (phrase_end: the phrase's last token)"),
}


def _value(config: dict, key: str):
    section, name = key.split(".")
    return config[section][name]


def chosen(config: dict) -> dict:
    """The part of a config that `choices` reads: the settings of STUDY, by section."""
    out = {}
    for key in STUDY:
        section, name = key.split(".")
        out.setdefault(section, {})[name] = config[section][name]
    return out


def choices(config: dict) -> pd.DataFrame:
    """[setting, value, study, follows_study, meaning] for each setting of STUDY."""
    rows = []
    for key, (study, meaning) in STUDY.items():
        value = _value(config, key)
        rows.append((key, str(value), str(study), value == study, meaning))
    return pd.DataFrame(rows, columns=["setting", "value", "study", "follows_study", "meaning"])


def summary(table: pd.DataFrame) -> str:
    """One line: "the study's" or the settings that differ from it."""
    own = table[~table["follows_study"]]
    if own.empty:
        return "the study's"
    return "differs from the study: " + "; ".join(f"{s}={v}" for s, v in zip(own["setting"], own["value"], strict=True))
