"""The layer at which each stage of the study happens, per studied case, from the analyses' tables."""

import importlib
import random

import pandas as pd

from multihop.analyses.catalog import CATALOG, POSITIONS, Stage, stage_sources, stages
from multihop.analyses.naming import named_at_colon
from multihop.evaluation.judging import case_names

# the columns of stages.csv: each stage the catalog's analyses measure, then which analyses studied the case
COLUMNS = ["id", *stages(), *(f"studied_by_{name}" for name in CATALOG)]


def fixable(backpatching: pd.DataFrame) -> pd.DataFrame:
    """Per case (index id), per position t1 and t2 (columns): whether some back-patch there
    (any s > t) gives the correct answer. Also the controls' tables, which have the same columns."""
    per = backpatching.groupby(["id", "position"])["correct"].any().unstack(fill_value=False)
    return per.reindex(columns=list(POSITIONS), fill_value=False).astype(bool)


def studied_for(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of a stages table whose cases every analysis behind `column` studied."""
    studied = pd.Series(True, index=table.index)
    for name in stage_sources(column):
        if f"studied_by_{name}" in table:  # (absent from tables made before per-analysis samples)
            studied &= table[f"studied_by_{name}"].astype(bool)
    return table[studied]


def _first(table: pd.DataFrame, mask, column: str) -> pd.Series:
    """Per case, the smallest `column` value among rows where `mask` holds (missing: never)."""
    return table[mask].groupby("id")[column].min()


# How each stage of the study (Biran et al. 2024, arXiv 2406.12775) is read from its analysis's
# rows: the readers the catalog's entries name, each (tables, stages so far, settings) -> per case.


def _decoded(patchscopes: pd.DataFrame, position: str, entity: str) -> pd.Series:
    ps = patchscopes
    return _first(ps, (ps["position"] == position) & (ps["classification"] == entity), "source_layer")


def first_hop_resolved(tables, stages, settings):
    """First source layer whose t1 state Patchscopes decodes to e2 (any target layer, any seed)."""
    return _decoded(tables["patchscopes"], "t1", "e2")


def e2_decoded_t2(tables, stages, settings):
    """First source layer whose t2 state decodes to e2."""
    return _decoded(tables["patchscopes"], "t2", "e2")


def e3_decoded_t2(tables, stages, settings):
    """Second hop resolved: the first source layer whose t2 state decodes to e3."""
    return _decoded(tables["patchscopes"], "t2", "e3")


def e2_in_attention(tables, stages, settings):
    """First layer whose attention output at t2 ranks e2 first."""
    pr = tables["projection"]
    return _first(pr, (pr["sublayer"] == "attention") & (pr["e2_rank"] == 1), "layer")


def prediction_extracted(tables, stages, settings):
    """First layer whose MLP output ranks the final prediction first."""
    pr = tables["projection"]
    return _first(pr, (pr["sublayer"] == "mlp") & (pr["prediction_rank"] == 1), "layer")


def knockout_matters(tables, stages, settings):
    """First layer whose e1 knockout matters: with `knockout_count` "changed" (the study's,
    classify_results.py 36-49, classify_by_vanilla) the output changes and the clean and
    knocked-out runs are not both judged correct (the clean run as judged in the knockout's own
    batch), so where the clean run is wrong a change to the right answer counts too; with
    "broken" (ours) it changes to a wrong answer."""
    ko = tables["knockout"]
    kept = ~(ko["correct"] & ko["clean_correct"]) if settings["knockout_count"] == "changed" else ~ko["correct"]
    return _first(ko, (ko["target"] == "e1") & ko["changed"] & kept, "layer")


def information_propagation(tables, stages, settings):
    """Mean of knockout_matters, e2_in_attention and e2_decoded_t2: with `propagation` "any" (the
    study's) of those that exist, NaN only when none does; with "all" (ours) NaN unless all three do."""
    parts = ["knockout_matters", "e2_in_attention", "e2_decoded_t2"]
    return stages[parts].mean(axis=1, skipna=settings["propagation"] == "any")


def fixable_t1(tables, stages, settings):
    """Some back-patch (s > t) at t1 gives the correct answer."""
    return fixable(tables["backpatching"])["t1"]


def fixable_t2(tables, stages, settings):
    """Some back-patch (s > t) at t2 gives the correct answer."""
    return fixable(tables["backpatching"])["t2"]


def unedited_correct(tables, stages, settings):
    """The unedited prompt, run in the same batch as the back-patches, answers correctly (true for
    correct cases; for an incorrect one it flags numerical drift)."""
    return tables["backpatching"].groupby("id")["unedited_correct"].all()


def _reader(stage: Stage):
    module, function = stage.read.split(":")
    return getattr(importlib.import_module(module), function)


def case_stages(studied: pd.DataFrame, counts: dict, tables: dict, settings: dict) -> pd.DataFrame:
    """The stage of each case for every stage of the catalog (multihop.analyses.catalog.stages):
    its first layer (NaN where the event never happens) or its flag. `studied`: the studied cases
    (id, order); `counts`: how many of them each analysis studies (the first in order;
    `studied_by_{analysis}` says which); `tables`: each stage analysis's rows; `settings`: what the
    stages read (catalog.stage_settings). A layer is NaN also where an analysis the stage needs did
    not study the case."""
    out = pd.DataFrame({"id": list(studied["id"])}).set_index("id")
    order = pd.Series(list(studied["order"]), index=out.index)
    for name in CATALOG:
        out[f"studied_by_{name}"] = order < counts[name]
    # stages read from their own analysis first, then those that need others' (they may read
    # those stages' columns), each group in the catalog's order
    ordered = sorted(stages().items(), key=lambda item: bool(item[1][1].needs))
    for column, (_, stage) in ordered:
        values = _reader(stage)(tables, out, {key: settings[key] for key in stage.reads})
        if stage.flag:
            out[column] = values.reindex(out.index, fill_value=False).astype(bool)
        else:
            out[column] = values.reindex(out.index)
    for column, (_, stage) in stages().items():
        if not stage.flag:  # layers: none where a source did not study the case
            sources = [f"studied_by_{name}" for name in stage_sources(column)]
            out.loc[~out[sources].all(axis=1), column] = float("nan")
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


# what the chance baseline reads besides the stages' settings: how Patchscopes reads a name
CHANCE_READS = ("patchscopes_reading", "one_character")


def split_stages(studied, counts, tables: dict, settings: dict, seed: int) -> pd.DataFrame:
    """A split's stages.csv: `case_stages` under `settings` (the stages' and CHANCE_READS), with
    the chance baseline beside it."""
    out = case_stages(studied, counts, tables, settings)
    reading = {"reading": settings["patchscopes_reading"], "one_character": settings["one_character"]}
    return with_chance_baseline(out, studied, tables["patchscopes"], seed, **reading)
