"""Back-patching: write a later layer's hidden state over an earlier layer's, same position, same prompt."""

import pandas as pd

from multihop.analyses.catalog import CATALOG, POSITIONS
from multihop.engine.edits import Patch
from multihop.engine.states import read_states


def grid(case, layers: int):
    """Back-patching's cells: (position name, its index in the prompt, source layer s, target
    layer t) for t1 and t2 and every s > t."""
    for position in POSITIONS:
        p = getattr(case, position)
        for s in range(layers):
            for t in range(s):
                yield position, p, s, t


def judged(context, case, keys, variants) -> list[tuple]:
    """Per variant, its key followed by (generation, correct, unedited_correct).

    `unedited_correct`: whether the unpatched prompt, run in the same batch and on the same path as
    the variants, already gives e3 (then a success says nothing about the patch).
    """
    texts = context.generate(case.ids, [(), *variants])
    e3 = case.names["e3"]
    unedited_correct = context.judge(texts[0], e3)
    return [(*key, text, context.judge(text, e3), unedited_correct) for key, text in zip(keys, texts[1:], strict=True)]


def patched(context, case, cells, name: str) -> pd.DataFrame:
    """Rows of analysis `name`: for each cell (position, p, s, t), the case's own state after
    layer s at p written over layer t's, judged."""
    states = read_states(context.adapter, case.ids)
    keys, variants = [], []
    for position, p, s, t in cells:
        keys.append((case.id, position, s, t))
        variants.append((Patch(t, p, states[s, p]),))
    return pd.DataFrame(judged(context, case, keys, variants), columns=CATALOG[name].columns)


def run(context, case) -> pd.DataFrame:
    """Rows for positions t1 and t2 and every source layer s > target layer t."""
    return patched(context, case, grid(case, context.adapter.num_layers), "backpatching")
