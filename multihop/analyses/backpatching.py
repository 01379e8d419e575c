"""Back-patching: write a later layer's hidden state over an earlier layer's, same position, same prompt."""

import pandas as pd

from multihop.analyses.registry import ANALYSES, POSITIONS
from multihop.engine.edits import Patch
from multihop.engine.states import read_states


def run(context, case) -> pd.DataFrame:
    """Rows for positions t1 and t2 and every source layer s > target layer t.

    `unedited_correct`: whether the unpatched prompt, run in the same batch, already gives e3 (then a
    success says nothing about back-patching).
    """
    adapter = context.adapter
    states = read_states(adapter, case.ids)
    keys, variants = [("clean", -1, -1)], [()]  # the unpatched prompt, on the same path as the patches
    for position in POSITIONS:
        p = getattr(case, position)
        for s in range(adapter.num_layers):
            for t in range(s):
                keys.append((position, s, t))
                variants.append((Patch(t, p, states[s, p]),))
    texts = context.generate(case.ids, variants)
    unedited_correct = context.judge(texts[0], case.names["e3"])
    rows = [
        (case.id, position, s, t, text, context.judge(text, case.names["e3"]), unedited_correct)
        for (position, s, t), text in zip(keys[1:], texts[1:], strict=True)
    ]
    return pd.DataFrame(rows, columns=ANALYSES["backpatching"].columns)
