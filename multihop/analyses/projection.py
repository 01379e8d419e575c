"""Sublayer projection: what each layer's attention and MLP outputs at t2 say, read as logits."""

import pandas as pd
import torch

from multihop.analyses.catalog import CATALOG, SUBLAYERS
from multihop.engine.head import exact_head
from multihop.engine.states import read_sublayers

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
    return (logits > chosen).sum(dim=-1) + 1


def run(context, case, top_k=5) -> pd.DataFrame:
    """Rows for each sublayer (attention, MLP) and layer: ranks at t2 of e2, e3 and the final prediction."""
    adapter, tokenizer = context.adapter, context.tokenizer
    attention, mlp, output = read_sublayers(adapter, case.ids, with_output=True)
    head = exact_head(adapter.model)
    with torch.inference_mode():  # the model's greedy next token, exact (as from its full logits)
        prediction = int(head.argmax(output[-1:].to(head.weight.device))[0])
    informative = context.settings["projection_tokens"] == "informative"
    spaced = spaced_forms(tokenizer, context.settings["projection_space"])
    e2_ids = first_token_ids(tokenizer, case.names["e2"], informative, spaced)
    e3_ids = first_token_ids(tokenizer, case.names["e3"], informative, spaced)
    with torch.inference_mode():  # both sublayers in one product: the head's weights are read once
        both = adapter.logits(torch.cat([attention[:, case.t2], mlp[:, case.t2]])).float()
    frames = []
    for sublayer, logits in zip(SUBLAYERS, both.split(adapter.num_layers), strict=True):
        top = logits.topk(top_k, dim=-1).indices.tolist()
        frames.append(
            pd.DataFrame(
                {
                    "id": case.id,
                    "sublayer": sublayer,
                    "layer": range(adapter.num_layers),
                    "e2_rank": best_rank(logits, e2_ids).tolist(),
                    "e3_rank": best_rank(logits, e3_ids).tolist(),
                    "prediction_rank": best_rank(logits, [prediction]).tolist(),
                    "top_tokens": [" | ".join(tokenizer.convert_ids_to_tokens(row)) for row in top],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[list(CATALOG["projection"].columns)]
