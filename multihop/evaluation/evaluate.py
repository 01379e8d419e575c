"""Per-model evaluation: the five prompts of every case, generated greedily and judged."""

import pandas as pd

from multihop.dataset.chains import PROMPT_COLUMNS, PROMPT_KINDS
from multihop.errors import UserError
from multihop.evaluation.judging import entity_names, mentions

# which entity answers each prompt kind
EXPECTED = {
    "first_hop": "e2",
    "second_hop": "e3",
    "composition": "e3",
    "entity_shortcut": "e3",
    "relation_shortcut": "e3",
}


def check_prefix(prefix: str, dataset: pd.DataFrame) -> None:
    """Refuse a demonstration prefix that names an entity of the dataset (it would leak answers)."""
    if not prefix:
        return
    leaks = set()  # (every name the study's one-character rule keeps: a superset of the other rule's)
    for slot in ("e1", "e2", "e3"):
        for label, aliases in dataset[[f"{slot}_label", f"{slot}_aliases"]].drop_duplicates().itertuples(index=False):
            leaks.update(name for name in entity_names(label, aliases) if mentions(prefix, [name], "word"))
    if leaks:
        raise UserError(
            f"the prompt_prefix names entities of the dataset ({', '.join(sorted(leaks))}); "
            "use demonstration facts about other entities"
        )


HOPS = ["first_hop", "second_hop"]


def evaluate(
    dataset: pd.DataFrame, generate, *, prefix: str = "", staged: bool = True, match="substring", one_character="alias"
) -> pd.DataFrame:
    """One row per case: `{kind}_generation` and `{kind}_correct` for the five prompt kinds.

    `generate(texts) -> continuations`; each distinct text is generated once (many cases share
    their hop prompts). The model sees `prefix + prompt`, nothing else. When `staged`, the
    composition and shortcut prompts are asked only of cases whose two hops are both correct (the
    only ones the study keeps); for the others they stay empty with `{kind}_correct` missing (NA).
    `match`, `one_character`: what counts as naming the answer (multihop.evaluation.judging).
    """
    table = pd.DataFrame({"id": dataset["id"]}, index=dataset.index)
    judge = (match, one_character)
    _ask(table, dataset, HOPS, generate, prefix=prefix, judge=judge)
    others = [kind for kind in PROMPT_KINDS if kind not in HOPS]
    asked = table["first_hop_correct"] & table["second_hop_correct"] if staged else table["id"].notna()
    _ask(table, dataset, others, generate, prefix=prefix, judge=judge, rows=asked)
    return table.reset_index(drop=True)


def _ask(table, dataset, kinds, generate, *, prefix, judge, rows=None):
    """Fill the generation and correct columns of `kinds` for `rows` (a mask; all rows by default);
    `judge`: (match, one_character)."""
    match, one_character = judge
    rows = dataset.index if rows is None else dataset.index[rows.to_numpy(dtype=bool)]
    texts = sorted({prefix + p for kind in kinds for p in dataset.loc[rows, PROMPT_COLUMNS[kind]]})
    continuation = dict(zip(texts, generate(texts) if texts else [], strict=True))
    for kind in kinds:
        slot = EXPECTED[kind]
        generations = pd.Series("", index=dataset.index, dtype=object)
        correct = pd.Series(pd.NA, index=dataset.index, dtype="boolean")
        for i in rows:
            generations[i] = continuation[prefix + dataset.at[i, PROMPT_COLUMNS[kind]]]
            names = entity_names(dataset.at[i, f"{slot}_label"], dataset.at[i, f"{slot}_aliases"], one_character)
            correct[i] = mentions(generations[i], names, match)
        table[f"{kind}_generation"] = generations
        table[f"{kind}_correct"] = correct


def read_evaluation(path) -> pd.DataFrame:
    """An evaluation.csv with its `{kind}_correct` columns as nullable booleans (NA: not asked)."""
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    for kind in PROMPT_KINDS:
        table[f"{kind}_correct"] = (
            table[f"{kind}_correct"].map({"True": True, "False": False, "": pd.NA}).astype("boolean")
        )
    return table
