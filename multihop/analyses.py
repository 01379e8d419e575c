"""The four analyses behind one interface: run one on a list of cases, and cut its table in parts."""

import pandas as pd
from tqdm.auto import tqdm

from multihop import backpatching, knockout, patchscopes, projection
from multihop.interventions import PrefixCaches

COLUMNS = {
    "patchscopes": patchscopes.COLUMNS,
    "projection": projection.COLUMNS,
    "knockout": knockout.COLUMNS,
    "backpatch": backpatching.COLUMNS,
}


def run(analysis, adapter, tokenizer, cases, settings) -> pd.DataFrame:
    """The rows of `analysis` for every case. `settings`: the config's `analyses` section."""
    caches = PrefixCaches(adapter)
    n, batch = settings["max_new_tokens"], settings["batch_size"]
    target_ids = tokenizer(patchscopes.TARGET_PROMPT)["input_ids"]
    frames = []
    for case in tqdm(cases, desc=analysis, unit="case"):
        if analysis == "patchscopes":
            frame = patchscopes.run(
                adapter, tokenizer, case, target_ids, settings["patchscopes_seeds"], n, caches=caches, batch_size=batch
            )
        elif analysis == "projection":
            frame = projection.run(adapter, tokenizer, case)
        elif analysis == "knockout":
            frame = knockout.run(adapter, tokenizer, case, settings["knockout_window"], n, caches, batch)
        else:
            frame = backpatching.run(adapter, tokenizer, case, n, caches, batch)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS[analysis])
