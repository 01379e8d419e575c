"""Attention knockout: block attention from t2 to a token in a window of layers; does the answer change?"""

import pandas as pd

from multihop.analyses.registry import ANALYSES, KNOCKOUT_TARGETS
from multihop.engine.edits import Knockout
from multihop.evaluation.judging import mentions


def window(layer: int, k: int, num_layers: int) -> tuple[int, ...]:
    return tuple(range(max(0, layer - k), min(num_layers, layer + k + 1)))


def run(context, case) -> pd.DataFrame:
    """Rows for each target (last token of e1, r1, r2) and each layer l (window [l-k, l+k])."""
    adapter, settings = context.adapter, context.settings
    # the clean run (no edit) goes in the same batch as the knockouts, so that a
    # "change" can only come from the knockout, not from a different numerical path
    keys, variants = [("clean", -1)], [()]
    for target, position in KNOCKOUT_TARGETS.items():
        key = getattr(case, position)
        if key < 0:
            continue
        for layer in range(adapter.num_layers):
            keys.append((target, layer))
            layers = window(layer, settings["knockout_window"], adapter.num_layers)
            variants.append((Knockout(layers, case.t2, (key,)),))
    texts = context.generate(case.ids, variants)
    clean = texts[0]
    rows = [
        (case.id, target, layer, text, mentions(text, case.names["e3"]), text != clean)
        for (target, layer), text in zip(keys[1:], texts[1:], strict=True)
    ]
    return pd.DataFrame(rows, columns=ANALYSES["knockout"].columns)
