"""Which of the study's settings a run used, and which of ours.

Each default follows the study (Biran et al. 2024, checked against the authors' released code;
docs/fidelity.md, the ledger, gives file and line for each); the alternatives are ours. The
report's choices table and findings.csv say which a run used.
"""

from typing import NamedTuple

import pandas as pd

from multihop.analyses.catalog import STAGE_ANALYSES, case_counts
from multihop.models.bundled import provenance


class Setting(NamedTuple):
    study: object  # the study's value
    meaning: str
    same: tuple = ()  # other values that leave the studied cases and findings as the study's


# config key -> Setting; "model.*" keys are the model's own entry
STUDY = {
    "dataset.selection": Setting("study", "bridge entities: the most-stated members of each class (all: every chain)"),
    "dataset.bridges_per_type": Setting(2000, "bridge entities per class (the authors' --entities-per-type)"),
    "dataset.chains_per_bridge": Setting(100, "chains per bridge entity at most (the authors' LIMIT 100)"),
    "dataset.aliases": Setting("required", "chains with no English alias for e1, e2 or e3 dropped (optional: kept)"),
    "dataset.unlabelled": Setting("id", "an item without an English label is named by its QID (drop: left out)"),
    "dataset.entity_type": Setting(
        "source_order", "an item in several classes takes the first its source lists (config_order: entity_types')"
    ),
    "prompts.capitalize": Setting(False, "prompts as the templates write them, lower-case"),
    "prompts.relation_shortcut": Setting(
        "cut", 'the relation shortcut cuts 4 characters off the phrase ("...that produ"; phrase: drops " of")'
    ),
    "evaluation.match": Setting("substring", "an answer counts when a name occurs anywhere in it (word: whole words)"),
    "evaluation.one_character": Setting(
        "alias", "one-character aliases never count, a one-character label does (any: none)"
    ),
    "evaluation.max_new_tokens": Setting(10, "greedy tokens generated per prompt"),
    "evaluation.staged": Setting(
        False,
        "every prompt of every case asked (true: composition and shortcuts only where both hops are correct, "
        "the only cases studied)",
        same=(True,),
    ),
    "splits.max_per_e2_type": Setting(100, "at most this many cases per e2 type and split (the authors' helper's)"),
    "analyses.cases_per_split": Setting(
        "all", "cases each of the study's analyses studies per split (the study: every case of the split)"
    ),
    "analyses.max_new_tokens": Setting(10, "tokens generated per patched prompt"),
    "analyses.patchscopes_seeds": Setting([0, 1, 2], "Patchscopes' sampling seeds"),
    "analyses.sampling": Setting(
        {"temperature": None, "top_k": None, "top_p": None},
        "Patchscopes samples with the model's generation config, else transformers' defaults",
    ),
    "analyses.patchscopes_reading": Setting(
        "patterns", "Patchscopes reads a name by the authors' five colon patterns (regex: ours)"
    ),
    "analyses.patchscopes_dedupe": Setting(True, "the Patchscopes heatmap counts a case's seeds once per reading"),
    "analyses.projection_tokens": Setting("first", "projection ranks the first token of each name"),
    "analyses.projection_space": Setting(
        "tokenizer", "names also with a leading space, unless that is a bare token (LLaMA 2)"
    ),
    "analyses.knockout_window": Setting(3, "knockout blocks layers [l-k, l+k]"),
    "analyses.knockout_relation": Setting(
        "noun",
        'knockout blocks the relation noun, the template\'s split(" ")[-3] ("that" in "the company that produced"; '
        'last_word: "produced"; phrase_end: "of")',
    ),
    "analyses.knockout_occurrence": Setting(
        "last",
        "knockout blocks the prompt's last token with the name's token id (r1's copy where r1 repeats r2's word; "
        "located: the token where the name is)",
    ),
    "analyses.knockout_count": Setting(
        "changed", "a knockout layer matters when the output changes, unless both runs are correct"
    ),
    "analyses.propagation": Setting("any", "information propagation averages the layers that exist"),
    "analyses.stage_reading": Setting(
        "reached",
        "a stage claim is read from the depths of the cases that reach the stage (share: the share of the studied "
        "cases reaching it in the claim's region)",
    ),
    "analyses.projection_mean": Setting(
        "every", "the projection table's mean layer: over every layer a token ranks first (first: each case's first)"
    ),
    "analyses.first_layers": Setting("pooled", "the first-layer line plot pools the splits (per_split: a line each)"),
    "model.source": Setting(
        "LLaMA 2 7B, LLaMA 2 13B, LLaMA 3 8B, LLaMA 3 70B",
        "the model (a choice, not a setting of the method; its provenance, where the weights come from)",
    ),
    "model.prompt_prefix": Setting(
        "", "text before every prompt (the study's prompts have none); every state is read after it"
    ),
    "model.dtype": Setting("float32", "the precision the model ran in (the authors' LLaMA 3 70B: its own)"),
}
# applied only when the dataset is built from Wikidata, not when it is read from dataset.file
DATASET_RULES = (
    *("dataset.selection", "dataset.bridges_per_type", "dataset.chains_per_bridge", "dataset.aliases"),
    *("dataset.unlabelled", "dataset.entity_type"),
)
# checkpoints the authors loaded with torch_dtype="auto" (their own precision), not in float32
OWN_PRECISION = ("meta-llama/Meta-Llama-3-70B",)


def chosen(config: dict, model: str) -> dict:
    """The part of a config that `choices` reads for one model: the settings of STUDY, by section."""
    entry = next(m for m in config["models"] if m["name"] == model)
    out = {"dataset": {"source": config["dataset"]["source"]}, "model": {"source": entry["source"]}}
    for key in STUDY:
        section, name = key.split(".")
        value = entry.get(name, "auto" if name == "dtype" else "") if section == "model" else config[section][name]
        out.setdefault(section, {})[name] = value
    return out


def _follows(key: str, value, config: dict, ran_dtype, split_sizes):
    """Whether `value` of `key` gives the study's results; NA where that cannot be known."""
    if key == "model.source":  # the model studied is the user's question, not a departure
        return pd.NA
    if key == "model.dtype":
        if value == "auto" and config["model"]["source"] in OWN_PRECISION:
            return True
        ran = ran_dtype or (None if value == "auto" else value)  # auto is known once the model ran
        return pd.NA if ran is None else ran == "float32"
    if key == "analyses.cases_per_split":
        if split_sizes is None:
            return pd.NA
        counts = case_counts(value)  # the study's four analyses: the stages' (not our nulls)
        return all(counts[name] >= size for name in STAGE_ANALYSES for size in split_sizes.values())
    return value == STUDY[key].study or value in STUDY[key].same


def choices(config: dict, ran_dtype: str | None = None, split_sizes: dict | None = None) -> pd.DataFrame:
    """[setting, value, study, follows_study, meaning] for each setting of STUDY (`config`: from
    `chosen`; `ran_dtype`: the precision the model ran in; `split_sizes`: cases per split).
    follows_study is empty where the setting did not apply or is not known yet."""
    rows = []
    from_file = config["dataset"]["source"] == "file"
    for key in STUDY:
        section, name = key.split(".")
        value = config[section][name]
        shown = str(value)
        if from_file and key in DATASET_RULES:
            rows.append((key, f"{value} (not applied: the chains come from dataset.file)", pd.NA))
            continue
        if key == "model.dtype" and ran_dtype and ran_dtype != value:
            shown = f"{ran_dtype} ({value})"
        rows.append((key, shown, _follows(key, value, config, ran_dtype, split_sizes)))
    table = pd.DataFrame(rows, columns=["setting", "value", "follows_study"])
    table.insert(2, "study", [str(STUDY[key].study) for key in table["setting"]])
    table["meaning"] = [STUDY[key].meaning for key in table["setting"]]
    table.loc[table["setting"] == "model.source", "meaning"] += ": " + provenance(config["model"]["source"])
    table["follows_study"] = table["follows_study"].astype("boolean")
    return table


def summary(table: pd.DataFrame) -> str:
    """One line: "the study's" or the settings that differ from it."""
    own = table[table["follows_study"].astype("boolean").eq(False)]
    if own.empty:
        return "the study's"
    return "differs from the study: " + "; ".join(f"{s}={v}" for s, v in zip(own["setting"], own["value"], strict=True))
