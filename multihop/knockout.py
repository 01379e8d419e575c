"""Attention knockout: block attention from t2 to a token in a window of layers; does the answer change?"""

import pandas as pd

from multihop.interventions import Knockout, generate
from multihop.judge import mentions

TARGETS = {"e1": "t1", "r1": "r1_end", "r2": "r2_end"}
COLUMNS = ["id", "target", "layer", "generation", "correct", "changed"]


def window(layer: int, k: int, num_layers: int) -> tuple[int, ...]:
    return tuple(range(max(0, layer - k), min(num_layers, layer + k + 1)))


def run(adapter, tokenizer, case, k=3, max_new_tokens=10, caches=None, batch_size=64) -> pd.DataFrame:
    """Rows for each target (last token of e1, r1, r2) and each layer l (window [l-k, l+k])."""
    # the clean run (no edit) goes in the same batch as the knockouts, so that a
    # "change" can only come from the knockout, not from a different numerical path
    keys, variants = [("clean", -1)], [()]
    for target, position in TARGETS.items():
        key = getattr(case, position)
        if key < 0:
            continue
        for layer in range(adapter.num_layers):
            keys.append((target, layer))
            variants.append((Knockout(window(layer, k, adapter.num_layers), case.t2, (key,)),))
    texts = generate(adapter, tokenizer, case.ids, variants, max_new_tokens, batch_size=batch_size, caches=caches)
    clean = texts[0]
    rows = [
        (case.id, target, layer, text, mentions(text, case.names["e3"]), text != clean)
        for (target, layer), text in zip(keys[1:], texts[1:], strict=True)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
