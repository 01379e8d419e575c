"""Back-patching's controls: the same grid of (position, source layer s > target layer t), the same
cases and the same decoding, with the state written over layer t's replaced by

- `noise`: layer t's own state plus a random direction of the back-patch's size, ||h_s - h_t||
  (seeded per case and cell), so a success says what any perturbation that large does;
- `other_case`: another studied case's state after layer s at the same position (t1 or t2), the
  donor chosen with a seed among the cases this analysis studies in the split.

Back-patching beats chance only where its fixable share exceeds these (multihop.report.controls).
"""

import random

import pandas as pd
import torch

from multihop.analyses.registry import ANALYSES, POSITIONS
from multihop.engine.edits import Patch
from multihop.engine.sampling import variant_seed
from multihop.engine.states import read_states


def donor(case, pool, seed: int):
    """Another case of `pool` (the split's cases this analysis studies) for `case`, the same
    whichever shard runs it; None when the pool holds no other case."""
    others = sorted((other for other in pool if other.id != case.id), key=lambda other: other.id)
    if not others:
        return None
    return random.Random(variant_seed(seed, f"donor|{case.id}")).choice(others)


def noise(here: torch.Tensor, size: torch.Tensor, seed: int) -> torch.Tensor:
    """`here` plus a direction drawn uniformly from the sphere, of length `size` (in fp32)."""
    direction = torch.randn(here.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    step = direction * (size.float().cpu() / direction.norm())
    return (here.float() + step.to(here.device)).to(here.dtype)


def run(context, case) -> pd.DataFrame:
    """Rows for each control, position and s > t; `unedited_correct` from the unpatched prompt run
    in the same batch."""
    adapter, seed = context.adapter, context.settings["seed"]
    states = read_states(adapter, case.ids)
    other = donor(case, context.pool, seed)
    other_states = None if other is None else read_states(adapter, other.ids)
    keys, variants = [("clean", "", -1, -1)], [()]
    for position in POSITIONS:
        p = getattr(case, position)
        for s in range(adapter.num_layers):
            for t in range(s):
                size = (states[s, p] - states[t, p]).float().norm()
                cell = variant_seed(seed, f"noise|{case.id}|{position}|{s}|{t}")
                keys.append(("noise", position, s, t))
                variants.append((Patch(t, p, noise(states[t, p], size, cell)),))
                if other is not None:
                    keys.append(("other_case", position, s, t))
                    variants.append((Patch(t, p, other_states[s, getattr(other, position)]),))
    texts = context.generate(case.ids, variants)
    unedited_correct = context.judge(texts[0], case.names["e3"])
    donor_id = "" if other is None else other.id
    rows = [
        (case.id, control, position, s, t, text, context.judge(text, case.names["e3"]), unedited_correct, donor_id)
        for (control, position, s, t), text in zip(keys[1:], texts[1:], strict=True)
    ]
    return pd.DataFrame(rows, columns=ANALYSES["controls"].columns)
