"""Attention knockout: block attention from t2 to a token in a window of layers; does the answer change?"""

import pandas as pd

from multihop.analyses.cases import by_length
from multihop.analyses.catalog import CATALOG, KNOCKOUT_TARGETS
from multihop.engine.edits import Knockout
from multihop.evaluation.judging import as_decoded


def window(layer: int, k: int, num_layers: int) -> tuple[int, ...]:
    return tuple(range(max(0, layer - k), min(num_layers, layer + k + 1)))


# analyses.knockout_relation -> the Case position of r1 and r2 it blocks (multihop.analyses.cases)
RELATION_POSITIONS = {"noun": "noun", "last_word": "word", "phrase_end": "end"}


def blocked_position(case, target: str, relation_token: str, occurrence: str) -> int:
    """The token a target names: the last of e1; for r1 and r2 the last token of their relation
    noun as the study finds it (`noun`: "performer"; "that" in "the company that produced"), of
    their last word but a final "of" (`last_word`: "produced"), or of their phrase (`phrase_end`: "of").
    `occurrence` (analyses.knockout_occurrence): `last`, as the study, blocks the last token of the
    prompt with that token's id, so where r1's phrase repeats r2's word ("the father of the father
    of") r1's copy is blocked; `located` blocks the token where the name is."""
    position = case.t1 if target == "e1" else getattr(case, f"{target}_{RELATION_POSITIONS[relation_token]}")
    if position < 0 or occurrence == "located":
        return position
    token = case.ids[position]
    return max(i for i, other in enumerate(case.ids) if other == token)


def run(context, case) -> pd.DataFrame:
    """Rows for each target (e1, r1, r2; see `blocked_position`) and each layer l (window [l-k, l+k]),
    each with the clean run's generation and judgment (the knockout stage compares with them)."""
    return run_cases(context, [case])[0]


ONE_LENGTH = True  # cases batched together have prompts of one token length (see `run_cases`)


def cases_at_once(context) -> int:
    """Cases `run_cases` takes together: as many as fill a batch with their variants."""
    return max(1, context.batch_size // (1 + len(KNOCKOUT_TARGETS) * context.adapter.num_layers))


def run_cases(context, cases) -> list[pd.DataFrame]:
    """`run`'s rows for each case; the variants of cases whose prompts have one token length go
    through the engine together (a batch of one case's 55 variants leaves a CPU's cores idle)."""
    variants = [_variants(context, case) for case in cases]
    texts = [None] * len(cases)
    for alike in by_length(cases):
        calls = [(cases[i].id, cases[i].ids, variants[i][1], None) for i in alike]
        for i, generated in zip(alike, context.generate_cases(calls), strict=True):
            texts[i] = generated
    return [
        _rows(context, case, keys, generated) for case, (keys, _), generated in zip(cases, variants, texts, strict=True)
    ]


def _variants(context, case):
    """The keys (target, layer) and variants of a case, the clean run (no edit) first."""
    adapter, settings = context.adapter, context.settings
    # the clean run goes in the same batch as the knockouts, so that a "change" can only come
    # from the knockout, not from a different numerical path
    keys, variants = [("clean", -1)], [()]
    for target in KNOCKOUT_TARGETS:
        key = blocked_position(case, target, settings["knockout_relation"], settings["knockout_occurrence"])
        if key < 0:
            continue
        for layer in range(adapter.num_layers):
            keys.append((target, layer))
            layers = window(layer, settings["knockout_window"], adapter.num_layers)
            variants.append((Knockout(layers, case.t2, (key,)),))
    return keys, variants


def _rows(context, case, keys, texts) -> pd.DataFrame:
    clean = texts[0]
    clean_correct = context.judge(clean, case.names["e3"])
    # "changed" compares the texts as the authors decode them (classify_by_vanilla)
    rows = [
        (
            case.id,
            target,
            layer,
            text,
            context.judge(text, case.names["e3"]),
            as_decoded(text) != as_decoded(clean),
            clean,
            clean_correct,
        )
        for (target, layer), text in zip(keys[1:], texts[1:], strict=True)
    ]
    return pd.DataFrame(rows, columns=CATALOG["knockout"].columns)
