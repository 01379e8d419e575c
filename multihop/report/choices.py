"""Which of the settings where the study and this project differ a run used.

Each default follows the study (Biran et al. 2024, checked against the authors' released code;
docs/fidelity.md, the ledger, gives file and line for each); the alternatives are ours. The
report's choices table and findings.csv say which a run used.
"""

import pandas as pd

# config key -> (the study's value, what it means); "model.*" keys are the model's own entry
STUDY = {
    "dataset.selection": ("study", "bridge entities: the most-stated members of each class, at most 100 chains each"),
    "dataset.aliases": ("required", "chains whose e1, e2 or e3 has no English alias are dropped (optional: kept)"),
    "evaluation.match": ("substring", "an answer counts when a name occurs anywhere in it (word: whole words)"),
    "evaluation.one_character": ("alias", "one-character aliases never count, a one-character label does (any: none)"),
    "splits.max_per_e2_type": (100, "at most this many cases per e2 type and split (the authors' helper's default)"),
    "analyses.sampling": (
        {"temperature": None, "top_k": None, "top_p": None},
        "Patchscopes samples with the model's generation config, else transformers' defaults",
    ),
    "analyses.projection_tokens": ("first", "projection ranks the first token of each name (informative: skips 'The')"),
    "analyses.projection_space": (
        "tokenizer",
        "names also with a leading space, unless that is a bare token (LLaMA 2)",
    ),
    "analyses.propagation": ("any", "information propagation averages the layers that exist (all: needs all three)"),
    "analyses.knockout_relation": ("noun", "knockout blocks the relation noun (phrase_end: the phrase's last token)"),
    "analyses.knockout_count": (
        "changed",
        "a knockout layer matters when the output changes, unless both runs are correct",
    ),
    "analyses.patchscopes_reading": (
        "patterns",
        "Patchscopes reads a name by the authors' five colon patterns (regex: ours)",
    ),
    "analyses.patchscopes_dedupe": (True, "the Patchscopes heatmap counts a case's seeds once per reading of a cell"),
    "model.prompt_prefix": (
        "",
        "text before every prompt (the study's prompts have none); every state is read after it",
    ),
}
# applied only when the dataset is built from Wikidata, not when it is read from dataset.file
DATASET_RULES = ("dataset.selection", "dataset.aliases")


def chosen(config: dict, model: str) -> dict:
    """The part of a config that `choices` reads for one model: the settings of STUDY, by section."""
    out = {"dataset": {"source": config["dataset"]["source"]}}
    for key in STUDY:
        section, name = key.split(".")
        if section == "model":
            entry = next(m for m in config["models"] if m["name"] == model)
            out.setdefault("model", {})[name] = entry.get(name, "")
        else:
            out.setdefault(section, {})[name] = config[section][name]
    return out


def choices(config: dict) -> pd.DataFrame:
    """[setting, value, study, follows_study, meaning] for each setting of STUDY (`config`: from
    `chosen`); follows_study is empty where the setting did not apply."""
    rows = []
    from_file = config["dataset"]["source"] == "file"
    for key, (study, meaning) in STUDY.items():
        section, name = key.split(".")
        value = config[section][name]
        if from_file and key in DATASET_RULES:
            rows.append((key, f"{value} (not applied: the chains come from dataset.file)", str(study), pd.NA, meaning))
        else:
            rows.append((key, str(value), str(study), value == study, meaning))
    table = pd.DataFrame(rows, columns=["setting", "value", "study", "follows_study", "meaning"])
    table["follows_study"] = table["follows_study"].astype("boolean")
    return table


def summary(table: pd.DataFrame) -> str:
    """One line: "the study's" or the settings that differ from it."""
    own = table[table["follows_study"].astype("boolean").eq(False)]
    if own.empty:
        return "the study's"
    return "differs from the study: " + "; ".join(f"{s}={v}" for s, v in zip(own["setting"], own["value"], strict=True))
