"""Every verdict under both judges. The study's rule (`substring`) finds "US" in "famous" and "UK"
in "Ukraine"; whole-word matching (`word`) does not. The analyses store every generation, so their
tables are judged again under the other rule without running the model.

What is judged again: `correct` (the answer names e3) of attention knockout (and its clean
run's `clean_correct`), back-patching and its nulls (forward patching, the controls). Not judged
again: back-patching's `unedited_correct` (the unedited run's text is not stored; the drift
exclusion stays the run's), Patchscopes (its reading of a name at a colon does not depend on the
rule) and which cases are studied (a rerun with `evaluation.match: word`).
"""

import pandas as pd

from multihop.analyses.catalog import CATALOG
from multihop.evaluation.judging import entity_names, mentions

# the analyses whose `correct` a judge decides: those that read the answer rule and store what they judged
JUDGED = tuple(
    name
    for name, analysis in CATALOG.items()
    if "match" in analysis.reads and {"generation", "correct"} <= set(analysis.columns)
)


def rejudged(table: pd.DataFrame, studied: pd.DataFrame, match: str, one_character: str = "alias") -> pd.DataFrame:
    """`table` (an analysis's rows, with `generation` and `correct`) with `correct` judged by
    `match` against each case's e3 (its label and aliases in `studied`, as `one_character` says)."""
    names = {
        case: entity_names(label, aliases, one_character)
        for case, label, aliases in studied[["id", "e3_label", "e3_aliases"]].itertuples(index=False)
    }
    out = table.copy()
    judged = [mentions(text, names[case], match) for case, text in zip(out["id"], out["generation"], strict=True)]
    out["correct"] = pd.Series(judged, index=out.index, dtype=bool)
    if "clean_correct" in out:  # knockout: the clean run's answer, judged the same way
        clean = [
            mentions(text, names[case], match) for case, text in zip(out["id"], out["clean_generation"], strict=True)
        ]
        out["clean_correct"] = pd.Series(clean, index=out.index, dtype=bool)
    return out


def with_other_judge(claims: pd.DataFrame, other: pd.DataFrame, match: str) -> pd.DataFrame:
    """`claims` (findings) with the same rows under judge `match` beside them: `value_{match}`,
    `ci_low_{match}`, `ci_high_{match}`, `holds_{match}`, and `flips` where the verdicts differ."""
    if list(claims["statement"]) != list(other["statement"]) or list(claims["split"]) != list(other["split"]):
        raise ValueError("the findings under the two judges do not have the same rows")
    out = claims.copy()
    for column in ("value", "ci_low", "ci_high", "holds"):
        out[f"{column}_{match}"] = other[column].to_numpy()
    out["flips"] = out["holds"] != out[f"holds_{match}"]
    return out
