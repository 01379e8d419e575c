"""Forward patching, back-patching's null matched in multiplicity: an earlier layer's state
written over a later layer's (source s < target t), same position, same prompt, same decoding.

It has as many cells as back-patching (every pair of layers, the other way round) and writes
states the model itself computed, so a success there says what this many in-distribution
perturbations do by chance; back-patching shows a mechanism only where it beats this
(multihop.report.nulls).
"""

import pandas as pd

from multihop.analyses.backpatching import patched
from multihop.analyses.catalog import POSITIONS


def grid(case, layers: int):
    """Forward patching's cells: (position name, its index, source layer s, target layer t) for
    t1 and t2 and every s < t."""
    for position in POSITIONS:
        p = getattr(case, position)
        for t in range(layers):
            for s in range(t):
                yield position, p, s, t


def run(context, case) -> pd.DataFrame:
    """Rows for positions t1 and t2 and every source layer s < target layer t."""
    return patched(context, case, grid(case, context.adapter.num_layers), "forwardpatching")
