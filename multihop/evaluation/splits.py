"""The studied cases of one model, split into correct and incorrect compositions."""

import pandas as pd

from multihop.dataset.chains import PROMPT_KINDS

SPLITS = ("correct", "incorrect")  # composition answered correctly or not


def rebalance(cases: pd.DataFrame, max_per_type: int, seed: int) -> pd.DataFrame:
    """At most `max_per_type` cases per bridge-entity (e2) type, sampled with a fixed seed."""
    kept = [
        group.sample(n=min(len(group), max_per_type), random_state=seed)
        for _, group in cases.groupby("e2_type", sort=True)
    ]
    if not kept:
        return cases.iloc[0:0]
    return pd.concat(kept).sort_values("id").reset_index(drop=True)


def split_cases(dataset: pd.DataFrame, evaluation: pd.DataFrame, max_per_type: int, seed: int):
    """(correct, incorrect, funnel): the two splits and how many cases survive each filter."""
    cases = dataset.merge(evaluation, on="id", validate="one_to_one")
    # NA: a prompt not asked because an earlier filter already dropped the case
    said = {kind: cases[f"{kind}_correct"].astype("boolean").fillna(False) for kind in PROMPT_KINDS}
    steps = [
        ("all cases", pd.Series(True, index=cases.index)),
        ("first hop correct", said["first_hop"]),
        ("second hop correct", said["second_hop"]),
        ("entity shortcut does not give e3", ~said["entity_shortcut"]),
        ("relation shortcut does not give e3", ~said["relation_shortcut"]),
    ]
    funnel, mask = [], pd.Series(True, index=cases.index)
    for step, condition in steps:
        mask &= condition.to_numpy(dtype=bool)
        funnel.append((step, int(mask.sum())))
    studied = cases[mask]
    composed = said["composition"][mask].to_numpy(dtype=bool)
    correct, incorrect = studied[composed], studied[~composed]
    funnel += [("studied, composition correct", len(correct)), ("studied, composition incorrect", len(incorrect))]
    correct = rebalance(correct, max_per_type, seed)
    incorrect = rebalance(incorrect, max_per_type, seed)
    funnel += [
        ("correct split (rebalanced by e2 type)", len(correct)),
        ("incorrect split (rebalanced by e2 type)", len(incorrect)),
    ]
    return correct, incorrect, pd.DataFrame(funnel, columns=["step", "cases"])
