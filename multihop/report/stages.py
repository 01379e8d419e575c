"""The layer at which each stage of the study happens, per studied case, from the analyses' tables."""

import random

import pandas as pd

from multihop.analyses.catalog import CATALOG, POSITIONS
from multihop.analyses.naming import named_at_colon
from multihop.evaluation.judging import case_names

COLUMNS = [
    "id",
    "first_hop_resolved",
    "e2_decoded_t2",
    "e3_decoded_t2",
    "e2_in_attention",
    "knockout_matters",
    "information_propagation",
    "prediction_extracted",
    "fixable_t1",
    "fixable_t2",
    "unedited_correct",
    *(f"studied_by_{name}" for name in CATALOG),
]
# the analyses each stage comes from: a case's stage counts only where all of them studied it
SOURCES = {
    "first_hop_resolved": ("patchscopes",),
    "e2_decoded_t2": ("patchscopes",),
    "e3_decoded_t2": ("patchscopes",),
    "e2_in_attention": ("projection",),
    "knockout_matters": ("knockout",),
    "information_propagation": ("knockout", "projection", "patchscopes"),
    "prediction_extracted": ("projection",),
    "fixable_t1": ("backpatching",),
    "fixable_t2": ("backpatching",),
    "unedited_correct": ("backpatching",),
}


def fixable(backpatching: pd.DataFrame) -> pd.DataFrame:
    """Per case (index id), per position t1 and t2 (columns): whether some back-patch there
    (any s > t) gives the correct answer. Also the controls' tables, which have the same columns."""
    per = backpatching.groupby(["id", "position"])["correct"].any().unstack(fill_value=False)
    return per.reindex(columns=list(POSITIONS), fill_value=False).astype(bool)


def studied_for(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of a stages table whose cases every analysis behind `column` studied."""
    studied = pd.Series(True, index=table.index)
    for name in SOURCES[column]:
        if f"studied_by_{name}" in table:  # (absent from tables made before per-analysis samples)
            studied &= table[f"studied_by_{name}"].astype(bool)
    return table[studied]


def _first(table: pd.DataFrame, mask, column: str) -> pd.Series:
    """Per case, the smallest `column` value among rows where `mask` holds (missing: never)."""
    return table[mask].groupby("id")[column].min()


def case_stages(
    studied,
    counts,
    patchscopes,
    projection,
    knockout,
    backpatching,
    propagation="any",
    knockout_count="changed",
) -> pd.DataFrame:
    """The stage layers the study defines (Biran et al. 2024, arXiv 2406.12775), per case; NaN where the
    event never happens. `studied`: the studied cases (id, order); `counts`: how many of them
    each analysis studies (the first in order; `studied_by_{analysis}` says which), NaN where an
    analysis a stage needs did not study the case; the tables: each analysis's rows.

    - first_hop_resolved: first source layer whose t1 state decodes to e2 (any target layer, seed);
    - e2_decoded_t2 / e3_decoded_t2 (second hop resolved): the same from t2;
    - e2_in_attention: first layer whose attention output at t2 ranks e2 first;
    - knockout_matters: first layer whose e1 knockout matters: with `knockout_count` "changed" (the
      study's, classify_results.py 36-49, classify_by_vanilla) the output changes and the clean
      and knocked-out runs are not both judged correct (the clean run as judged in the knockout's
      own batch), so where the clean run is wrong a change to the right answer counts too; with
      "broken" (ours) it changes to a wrong answer;
    - information_propagation: mean of the three layers above; with `propagation` "any" (the
      study's) of those that exist, NaN only when none does; with "all" (ours) NaN unless all three do;
    - prediction_extracted: first layer whose MLP output ranks the final prediction first;
    - fixable_t1 / fixable_t2: some back-patch (s > t) at that position gives the correct answer;
    - unedited_correct: the unedited prompt, run in the same batch as the back-patches, answers
      correctly (true for correct cases; for an incorrect one it flags numerical drift).
    """
    out = pd.DataFrame({"id": list(studied["id"])}).set_index("id")
    order = pd.Series(list(studied["order"]), index=out.index)
    for name in CATALOG:
        out[f"studied_by_{name}"] = order < counts[name]
    ps = patchscopes
    out["first_hop_resolved"] = _first(ps, (ps["position"] == "t1") & (ps["classification"] == "e2"), "source_layer")
    out["e2_decoded_t2"] = _first(ps, (ps["position"] == "t2") & (ps["classification"] == "e2"), "source_layer")
    out["e3_decoded_t2"] = _first(ps, (ps["position"] == "t2") & (ps["classification"] == "e3"), "source_layer")
    pr = projection
    out["e2_in_attention"] = _first(pr, (pr["sublayer"] == "attention") & (pr["e2_rank"] == 1), "layer")
    out["prediction_extracted"] = _first(pr, (pr["sublayer"] == "mlp") & (pr["prediction_rank"] == 1), "layer")
    ko = knockout
    kept = ~(ko["correct"] & ko["clean_correct"]) if knockout_count == "changed" else ~ko["correct"]
    out["knockout_matters"] = _first(ko, (ko["target"] == "e1") & ko["changed"] & kept, "layer")
    parts = ["knockout_matters", "e2_in_attention", "e2_decoded_t2"]
    out["information_propagation"] = out[parts].mean(axis=1, skipna=propagation == "any")
    fixed = fixable(backpatching).reindex(out.index, fill_value=False)
    for position in POSITIONS:
        out[f"fixable_{position}"] = fixed[position]
    unedited = backpatching.groupby("id")["unedited_correct"].all()
    out["unedited_correct"] = unedited.reindex(out.index, fill_value=False).astype(bool)
    for column, sources in SOURCES.items():
        if out[column].dtype != bool:  # layers: none where a source did not study the case
            out.loc[~out[[f"studied_by_{name}" for name in sources]].all(axis=1), column] = float("nan")
    return out.reset_index()[COLUMNS]


# stages.csv column -> its chance baseline's column, the same stage read for another case's names
CHANCE = {"first_hop_resolved": "baseline_first_hop_resolved", "e3_decoded_t2": "baseline_e3_decoded_t2"}
BASELINE = ["baseline_donor", *CHANCE.values()]


def with_donor(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a stages table that have a chance baseline (a donor; read back from CSV, none is NaN)."""
    return table[table["baseline_donor"].fillna("").astype(str) != ""]


def chance_baseline(
    studied: pd.DataFrame, patchscopes: pd.DataFrame, seed: int, reading="patterns", one_character="alias"
) -> pd.DataFrame:
    """How often, and how early, Patchscopes "decodes" a name that is not the case's own: each
    case's stored generations classified against the names of another studied case of the split
    (seeded, with another e2 and another e3), as its own names are; [id, baseline_donor,
    baseline_first_hop_resolved, baseline_e3_decoded_t2], NaN where never (or without a donor).

    `studied`: the split's studied cases with their names (studied.csv); `patchscopes`: its rows;
    `reading`, `one_character`: as the analysis read its own names (multihop.analyses.naming).
    """
    pool = studied.sort_values("id")  # donors: any studied case of the split
    rows = []
    for case in pool[pool["id"].isin(set(patchscopes["id"]))].itertuples(index=False):
        others = pool[(pool["e2"] != case.e2) & (pool["e3"] != case.e3)]
        if others.empty:
            rows.append((case.id, "", float("nan"), float("nan")))
            continue
        donor = others.iloc[random.Random(f"{seed}|baseline|{case.id}").randrange(len(others))]
        names = case_names(donor, one_character)
        own = patchscopes[patchscopes["id"] == case.id]
        classified = own["generation"].map(lambda text, names=names: named_at_colon(text, names, reading))
        t1, t2 = own["position"] == "t1", own["position"] == "t2"
        first = own.loc[t1 & (classified == "e2"), "source_layer"].min()
        second = own.loc[t2 & (classified == "e3"), "source_layer"].min()
        rows.append((case.id, donor["id"], first, second))
    return pd.DataFrame(rows, columns=["id", *BASELINE])


def with_chance_baseline(stages: pd.DataFrame, studied: pd.DataFrame, patchscopes: pd.DataFrame, seed: int, **reading):
    """`stages` with the chance baseline's columns (BASELINE), empty for cases Patchscopes did not
    study; `reading`: `chance_baseline`'s reading and one_character."""
    baseline = chance_baseline(studied, patchscopes, seed, **reading).set_index("id")
    out = stages.set_index("id").join(baseline)
    out["baseline_donor"] = out["baseline_donor"].fillna("")
    return out.reset_index()


def split_stages(studied, counts, tables: dict, rules: dict, seed: int) -> pd.DataFrame:
    """A split's stages.csv: `case_stages` under `rules` (propagation, knockout_count,
    patchscopes_reading, one_character), with the chance baseline beside it."""
    stages = case_stages(
        studied,
        counts,
        **tables,
        propagation=rules["propagation"],
        knockout_count=rules["knockout_count"],
    )
    reading = {"reading": rules["patchscopes_reading"], "one_character": rules["one_character"]}
    return with_chance_baseline(stages, studied, tables["patchscopes"], seed, **reading)
