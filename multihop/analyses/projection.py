"""Sublayer projection: what each layer's attention and MLP outputs at t2 say, read as logits."""

import pandas as pd
import torch

from multihop.analyses.cases import by_length
from multihop.analyses.catalog import CATALOG, SUBLAYERS
from multihop.engine.head import exact_head
from multihop.engine.states import read_sublayers_of

UNINFORMATIVE = {"the", "a", "an"}


def first_token_ids(tokenizer, names, informative: bool = False, spaced: bool = True) -> list[int]:
    """First token of each name as it may start an answer: as is and lower case, each also with a
    leading space where `spaced` (see `spaced_forms`).

    As the study, the very first token counts, "The" included. With `informative` (ours), a leading
    token that carries nothing of the name (whitespace, one character, an article) is passed over
    for the next one, else almost any vector would rank 'the' or a bare space first.
    """
    ids = set()
    for name in names:
        for form in {name, name.lower()}:
            for text in (form, " " + form) if spaced else (form,):
                tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
                kept = [t for t in tokens if _informative(tokenizer.decode([t]))] if informative else []
                if kept or tokens:
                    ids.add((kept or tokens)[0])
    return sorted(ids)


def spaced_forms(tokenizer, rule: str) -> bool:
    """Whether names also count with a leading space. "tokenizer" (the study's): not for LLaMA 2,
    whose tokenizer starts a spaced word with a bare "▁" that would stand for every name; the
    authors leave them out for LLaMA 2 by its checkpoint's name (utils.py, get_prepend_space) and
    keep them for their other models. Here: by the name too, or where " the" starts with a piece
    that is a bare space (a local copy of LLaMA 2, or a tokenizer like it). "always" (ours before):
    every name with and without a space."""
    if rule == "always":
        return True
    if "llama-2" in str(getattr(tokenizer, "name_or_path", "")).lower():
        return False
    first = tokenizer(" the", add_special_tokens=False)["input_ids"][:1]
    return bool(first) and tokenizer.decode(first).strip() != ""


def _informative(piece: str) -> bool:
    piece = piece.strip()
    return len(piece) > 1 and piece.casefold() not in UNINFORMATIVE


def best_rank(logits: torch.Tensor, token_ids) -> torch.Tensor:
    """1-based rank of the best-ranked token of `token_ids` in each row of logits (layers, vocab)."""
    chosen = logits[:, token_ids].max(dim=-1, keepdim=True).values
    # two rows at a time, so that their comparison stays in cache (whole, it ran 4 times slower),
    # counted as bytes into int32 (twice as fast as booleans into int64; a count fits either way)
    above = [
        torch.gt(part, best).view(torch.uint8).sum(dim=-1, dtype=torch.int32)
        for part, best in zip(logits.split(2), chosen.split(2), strict=True)
    ]
    return torch.cat(above).long() + 1


def run(context, case, top_k=5) -> pd.DataFrame:
    """Rows for each sublayer (attention, MLP) and layer: ranks at t2 of e2, e3 and the final prediction."""
    return run_cases(context, [case], top_k)[0]


def cases_at_once(context) -> int:
    """Cases `run_cases` takes together: as many as fill a batch with their rows (two per layer)."""
    return max(1, context.batch_size // (2 * context.adapter.num_layers))


def run_cases(context, cases, top_k=5) -> list[pd.DataFrame]:
    """`run`'s rows for each case: one forward for the cases of each prompt length (unpadded), then
    every case's sublayer outputs (and final states) through the head together: one row alone
    reads the head's whole matrix."""
    adapter, tokenizer = context.adapter, context.tokenizer
    read = [None] * len(cases)  # each case's sublayer outputs at t2 and final state; one forward a length
    for alike in by_length(cases):
        states = read_sublayers_of(adapter, [cases[i].ids for i in alike], with_output=True)
        for i, (attention, mlp, output) in zip(alike, states, strict=True):
            read[i] = attention[:, cases[i].t2], mlp[:, cases[i].t2], output[-1]
    attention, mlp, last = ([part[k] for part in read] for k in range(3))
    head = exact_head(adapter.model)
    with torch.inference_mode():  # the model's greedy next tokens, exact (as from its full logits)
        predictions = head.argmax(torch.stack(last).to(head.weight.device)).tolist()
        # the head's weights are read once for every case's sublayers (rows are computed alike at any count)
        logits = adapter.logits(torch.cat([*attention, *mlp])).float()
    informative = context.settings["projection_tokens"] == "informative"
    spaced = spaced_forms(tokenizer, context.settings["projection_space"])
    layers, frames = adapter.num_layers, []
    for i, case in enumerate(cases):
        e2_ids = first_token_ids(tokenizer, case.names["e2"], informative, spaced)
        e3_ids = first_token_ids(tokenizer, case.names["e3"], informative, spaced)
        parts = []
        for s, sublayer in enumerate(SUBLAYERS):
            start = (s * len(cases) + i) * layers
            rows = logits[start : start + layers]
            top = rows.topk(top_k, dim=-1).indices.tolist()
            parts.append(
                pd.DataFrame(
                    {
                        "id": case.id,
                        "sublayer": sublayer,
                        "layer": range(layers),
                        "e2_rank": best_rank(rows, e2_ids).tolist(),
                        "e3_rank": best_rank(rows, e3_ids).tolist(),
                        "prediction_rank": best_rank(rows, [predictions[i]]).tolist(),
                        "top_tokens": [" | ".join(tokenizer.convert_ids_to_tokens(row)) for row in top],
                    }
                )
            )
        frames.append(pd.concat(parts, ignore_index=True)[list(CATALOG["projection"].columns)])
    return frames
