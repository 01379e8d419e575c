"""Patchscopes entity description: decode what a hidden state of the two-hop prompt names.

The source state (after layer s, at t1 or t2) replaces the placeholder's state after layer t in a
few-shot "describe the entity" prompt, which then continues with sampling.
"""

import pandas as pd

from multihop.analyses.catalog import CATALOG, POSITIONS
from multihop.analyses.naming import named_at_colon
from multihop.engine.edits import Patch
from multihop.engine.sampling import variant_seed
from multihop.engine.states import read_states

TARGET_PROMPT = (
    "Syria: Syria is a country in the Middle East, Leonardo DiCaprio: Leonardo DiCaprio is an American actor, "
    "Samsung: Samsung is a South Korean multinational corporation, x"
)


def classify(generation: str, names: dict, reading: str = "patterns") -> str:
    """'e1', 'e2' or 'e3' for the first entity (in that order) named right after or before a colon."""
    return named_at_colon(generation, names, reading)


def run(context, case) -> pd.DataFrame:
    """Rows for every (position, seed, source layer, target layer) of one case."""
    return sweep(context, case, POSITIONS)


def sweep(context, case, positions) -> pd.DataFrame:
    """`run` for some of the positions only."""
    adapter, settings = context.adapter, context.settings
    target_ids = context.tokenizer(TARGET_PROMPT)["input_ids"]
    layers = range(adapter.num_layers)
    states = read_states(adapter, case.ids)
    placeholder = len(target_ids) - 1
    rows, variants, keys = [], [], []
    for position in positions:
        p = getattr(case, position)
        for seed in settings["patchscopes_seeds"]:
            for s in layers:
                for t in layers:
                    variants.append((Patch(t, placeholder, states[s, p]),))
                    keys.append((position, seed, s, t))
    sample_seeds = [variant_seed(seed, f"{case.id}|{pos}|{s}|{t}") for pos, seed, s, t in keys]
    texts = context.generate(target_ids, variants, sample_seeds)
    for (position, seed, s, t), text in zip(keys, texts, strict=True):
        rows.append((case.id, position, seed, s, t, text, classify(text, case.names, settings["patchscopes_reading"])))
    return pd.DataFrame(rows, columns=CATALOG["patchscopes"].columns)
