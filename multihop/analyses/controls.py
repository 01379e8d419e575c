"""Back-patching's controls: the same grid of (position, source layer s > target layer t), the same
cases and the same decoding, with the state written over layer t's replaced by

- `noise`: layer t's own state plus a random direction of the back-patch's size, ||h_s - h_t||
  (seeded per case and cell), so a success says what any perturbation that large does;
- `other_case`: another studied case's state after layer s at the same position (t1 or t2), the
  donor chosen with a seed among the cases this analysis studies in the split whose e2 and e3
  both differ from the case's (a donor sharing either could inject the answer).

Back-patching beats chance only where it beats these and forward patching (multihop.report.nulls).
"""

import random

import pandas as pd
import torch

from multihop.analyses.backpatching import grid, judged
from multihop.analyses.catalog import CATALOG
from multihop.engine.edits import Patch
from multihop.engine.sampling import variant_seed
from multihop.engine.states import read_states


def _unrelated(case, other) -> bool:
    """Whether `other` shares neither e2 nor e3 with `case` (no name in common)."""
    shared = any(set(case.names[slot]) & set(other.names[slot]) for slot in ("e2", "e3"))
    return other.id != case.id and not shared


def donor(case, pool, seed: int):
    """Another case of `pool` (the split's cases this analysis studies) for `case` with another
    e2 and e3, the same whichever shard runs it; None when the pool holds no such case."""
    others = sorted((other for other in pool if _unrelated(case, other)), key=lambda other: other.id)
    if not others:
        return None
    return random.Random(variant_seed(seed, f"donor|{case.id}")).choice(others)


def noise(here: torch.Tensor, size: torch.Tensor, seed: int) -> torch.Tensor:
    """`here` plus a direction drawn uniformly from the sphere, of length `size` (in fp32)."""
    direction = torch.randn(here.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    step = direction * (size.float().cpu() / direction.norm())
    return (here.float() + step.to(here.device)).to(here.dtype)


def run(context, case) -> pd.DataFrame:
    """Rows for each control on back-patching's grid; `unedited_correct` as back-patching's."""
    adapter, seed = context.adapter, context.settings["seed"]
    states = read_states(adapter, case.ids)
    other = donor(case, context.pool, seed)
    other_states = None if other is None else read_states(adapter, other.ids)
    keys, variants = [], []
    for position, p, s, t in grid(case, adapter.num_layers):
        size = (states[s, p] - states[t, p]).float().norm()
        cell = variant_seed(seed, f"noise|{case.id}|{position}|{s}|{t}")
        keys.append((case.id, "noise", position, s, t))
        variants.append((Patch(t, p, noise(states[t, p], size, cell)),))
        if other is not None:
            keys.append((case.id, "other_case", position, s, t))
            variants.append((Patch(t, p, other_states[s, getattr(other, position)]),))
    donor_id = "" if other is None else other.id
    rows = [(*row, donor_id) for row in judged(context, case, keys, variants)]
    return pd.DataFrame(rows, columns=CATALOG["controls"].columns)
