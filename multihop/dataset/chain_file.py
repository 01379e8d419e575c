"""Chains from a file instead of Wikidata: the study's released `two_hop.csv`, or this project's.

The study's file (Biran et al. 2024) has, per case, e1, r1, e2, r2, e3, their labels, aliases as
Python list literals, types, relation names (`r1_type`, `r2_type`), popularity, the relation
templates and its `source_prompt`; pandas wrote its index as a first, unnamed column. This
project's `two_hop.csv` has the same facts under `DATASET_COLUMNS`, aliases as JSON lists.

Either way the prompts are recomputed from the templates, as for Wikidata, and ids come from
the chain's five items, so a chain gets the same row whichever source it came from.
"""

import ast
import json
from pathlib import Path

import pandas as pd

from multihop.dataset.chains import DATASET_COLUMNS, PROMPT_COLUMNS, aliases_json, chain_id, dataset_stats, prompts
from multihop.errors import UserError

KEY = ["e1", "r1", "e2", "r2", "e3"]
SLOTS = ("e1", "e2", "e3")
REQUIRED = [*KEY, *(f"{s}_label" for s in SLOTS), *(f"{s}_aliases" for s in SLOTS), "r1_template", "r2_template"]
STUDY_NAMES = {"r1_type": "r1_label", "r2_type": "r2_label"}  # the study's column -> this project's
# where the study's configs (configs/llama*.yaml) expect the study's released chains, and their address
STUDY_FILE = "resources/study/two_hop.csv"
STUDY_URL = "https://raw.githubusercontent.com/edenbiran/HoppingTooLate/main/datasets/two_hop.csv"


def missing_chain_file(path: str) -> str:
    """The message for a dataset.file that does not exist (for the study's, where to get it)."""
    message = f"config: dataset.file {path} does not exist"
    if Path(path) == Path(STUDY_FILE):
        return f"{message}; it is the study's released chains: download {STUDY_URL} to {STUDY_FILE}"
    return f"{message}; give the path of a CSV or Parquet of chains"


def read_chain_file(path) -> pd.DataFrame:
    """The file's table as text (CSV or Parquet), or a plain error."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"chain file {path} does not exist (dataset.file in the config)")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix in (".csv", ".gz"):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise UserError(f"chain file {path} could not be read as {path.suffix[1:]}: {error}") from None
    raise UserError(f"chain file {path}: use a .csv or .parquet file")


def import_chains(table: pd.DataFrame, relations: dict, capitalize=False, shortcut="cut"):
    """`(chains, dropped, disagreements)`: the usable rows as this project's dataset, sorted by
    id; per reason, how many rows could not be used; and the rows whose own `source_prompt`
    differs from the prompt recomputed from their templates (the first letter's case aside).
    `capitalize`, `shortcut`: see `chains.prompts`."""
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed:")])
    table = table.rename(columns={s: p for s, p in STUDY_NAMES.items() if s in table and p not in table})
    missing = [column for column in REQUIRED if column not in table]
    if missing:
        raise UserError(f"the chain file lacks columns {', '.join(missing)} (it needs {', '.join(REQUIRED)})")
    ids = table["id"].astype(str) if "id" in table else pd.Series(dtype=str)
    if ids.duplicated().any():
        duplicated = ids[ids.duplicated()].head(3).tolist()
        raise UserError(f"the chain file has duplicate ids ({', '.join(duplicated)}, ...); each row needs its own")
    table = table.reset_index(drop=True)
    for column in REQUIRED:
        if column.endswith("_aliases"):
            table[column] = [_aliases(value, column, row) for row, value in enumerate(table[column])]
        else:
            table[column] = table[column].fillna("").astype(str).str.strip()
    for template in sorted(set(table["r1_template"]) | set(table["r2_template"])):
        if template.count("{}") != 1:
            raise UserError(f"template {template!r} needs exactly one {{}} where the entity goes")

    usable, reasons = _usable(table)
    dropped = pd.DataFrame({"reason": list(reasons), "rows": [int((~mask).sum()) for mask in reasons.values()]})
    if not usable.any():
        left_out = "; ".join(f"{n} rows: {reason}" for reason, n in dropped.itertuples(index=False) if n)
        raise UserError(f"no usable chain in the chain file ({left_out or 'it has no rows'})")
    chains = table[usable].copy()
    chains["id"] = [chain_id(*key) for key in chains[KEY].itertuples(index=False)]
    if chains["id"].duplicated().any():
        twice = chains.loc[chains["id"].duplicated(), KEY].iloc[0].tolist()
        raise UserError(f"the chain file has the same chain twice ({' '.join(twice)}); each chain once")
    known = {pid: spec["label"] for pid, spec in relations.items()}
    for slot in ("r1", "r2"):
        given = chains[f"{slot}_label"] if f"{slot}_label" in chains else pd.Series("", index=chains.index)
        chains[f"{slot}_label"] = [g or known.get(pid, pid) for g, pid in zip(given, chains[slot], strict=True)]
    for slot in SLOTS:
        for column in (f"{slot}_type", f"{slot}_popularity"):
            chains[column] = chains[column].fillna("").astype(str) if column in chains else ""
        chains[f"{slot}_aliases"] = [
            aliases_json(names, label)
            for names, label in zip(chains[f"{slot}_aliases"], chains[f"{slot}_label"], strict=True)
        ]
    texts = [
        prompts(row.e1_label, row.e2_label, row.r1_template, row.r2_template, capitalize=capitalize, shortcut=shortcut)
        for row in chains.itertuples()
    ]
    own = chains["source_prompt"].astype(str) if "source_prompt" in chains else None
    for kind, column in PROMPT_COLUMNS.items():
        chains[column] = [t[kind] for t in texts]
    disagreements = pd.DataFrame(columns=["id", "file_prompt", "prompt"])
    if own is not None:
        differ = [_uncapitalized(a) != _uncapitalized(b) for a, b in zip(own, chains["source_prompt"], strict=True)]
        disagreements = pd.DataFrame({"id": chains["id"], "file_prompt": own, "prompt": chains["source_prompt"]})[
            differ
        ].reset_index(drop=True)
    chains = chains[DATASET_COLUMNS].sort_values("id").reset_index(drop=True)
    return chains, dropped, disagreements


def _aliases(value, column, row) -> list[str]:
    """A cell of aliases: a list (Parquet), or its JSON or Python literal; empty: none."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        names = list(value.tolist() if hasattr(value, "tolist") else value)
    elif value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() in ("", "[]"):
        return []
    else:
        text = str(value).strip()
        try:
            names = json.loads(text)
        except ValueError:
            try:
                names = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UserError(f"row {row + 1}: {column} is not a list of names: {str(value)[:80]!r}")
    return names


def _usable(table):
    """Which rows can be used, and per reason the rows that pass that check."""
    reasons = {
        "an item or relation id is empty": table[KEY].ne("").all(axis=1),
        "an entity label is empty": table[[f"{s}_label" for s in SLOTS]].ne("").all(axis=1),
        "e1, e2 and e3 are not three distinct items": (table["e1"] != table["e2"])
        & (table["e2"] != table["e3"])
        & (table["e1"] != table["e3"]),
    }
    usable = pd.Series(True, index=table.index)
    for mask in reasons.values():
        usable &= mask
    return usable, reasons


def _uncapitalized(text: str) -> str:
    return text[:1].lower() + text[1:]


def chain_stats(chains: pd.DataFrame) -> pd.DataFrame:
    """Counts like those of a Wikidata build: entities and facts are the chains' own."""
    entities = pd.Series(pd.concat([chains[s] for s in SLOTS]).unique())
    hops = [chains[list(columns)].set_axis(["s", "r", "o"], axis=1) for columns in (KEY[:3], KEY[2:])]
    facts = pd.concat(hops).drop_duplicates()
    return dataset_stats(entities, facts, chains)
