"""Decoding: the one place that calls `generate`, for variants of one prompt and for many prompts.

- `generate_variants`: one prompt under many variants (tuples of edits), batched. Every row has
  the same tokens, so no padding; the clean prefix before the earliest edit is computed once and
  shared (causality: no edit changes an earlier position).
- `reference_generate`: the same, one variant at a time, each a full forward — obviously right, slow.
- `generate_prompts`: many unedited prompts (the evaluation). The tokens every prompt starts with
  (the demonstration prefix) run once; prompts are batched by token length and padded between
  that prefix and their own tokens. `share_prefix=False` is the plain path: left-padded batches.

Greedy unless per-row sampling seeds are given (`sampling.RowSampler`). Tests hold the fast and
the plain paths to the same outputs.
"""

import copy
import sys

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from multihop.engine.edits import edited, first_edited
from multihop.engine.sampling import RowSampler

GREEDY = dict(do_sample=False, top_p=None, top_k=None, temperature=None)


def clean_cache(model, ids):
    """Keys and values of an unedited forward over `ids`."""
    with torch.inference_mode():
        return model(torch.tensor([list(ids)], device=model.device), use_cache=True).cache


def cache_is_exact(model, length: int, max_new_tokens: int) -> bool:
    """Whether a shared prefix cache gives the same outputs as a full forward.

    A sliding attention window counts positions in the batch, pads included; past it, a cache
    built for another layout could change what a token sees, so then the plain path runs.
    """
    window = getattr(model.config, "sliding_window", None)
    return not (window and length + max_new_tokens >= window)


def _decode(model, tokenizer, input_ids, attention_mask, max_new_tokens, cache=None, seeds=None, sampling=None):
    """One `generate` over a batch; `cache` (for a prefix of every row) is copied for each row;
    with `seeds`, each row samples (`sampling`: RowSampler's temperature, top_k, top_p)."""
    kwargs = {}
    if cache is not None:
        kwargs["cache"] = copy.deepcopy(cache)
        kwargs["cache"].batch_repeat_interleave(len(input_ids))
    processors = LogitsProcessorList([RowSampler(seeds, **(sampling or {}))] if seeds is not None else [])
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            logits_processor=processors,
            pad_token_id=tokenizer.pad_token_id,
            **GREEDY,
            **kwargs,
        )
    return tokenizer.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True)


# ---------------------------------------------------------------- variants of one prompt


class PrefixCaches:
    """Clean keys and values of prompt prefixes, computed once and reused (the Patchscopes target
    prompt is the same for every case)."""

    def __init__(self, adapter, size=8):
        self.adapter, self.size, self.caches = adapter, size, {}

    def get(self, ids):
        key = tuple(int(i) for i in ids)
        if key not in self.caches:
            if len(self.caches) >= self.size:
                self.caches.pop(next(iter(self.caches)))
            self.caches[key] = clean_cache(self.adapter.model, key)
        return self.caches[key]


def _variant_rows(adapter, tokenizer, ids, variants, max_new_tokens, seeds, caches=None, sampling=None):
    """One batch of variants of `ids`; with `caches`, the clean prefix before the first edit is shared."""
    model = adapter.model
    batch = torch.as_tensor(ids, device=model.device)[None].expand(len(variants), -1)
    shared, cache = first_edited(variants), None
    if caches is not None and shared:  # at least one clean token to share
        cache = caches.get(ids[: min(shared, len(ids) - 1)])
    with edited(adapter, variants, length=len(ids)):
        return _decode(model, tokenizer, batch, torch.ones_like(batch), max_new_tokens, cache, seeds, sampling)


def generate_variants(
    adapter, tokenizer, ids, variants, max_new_tokens=10, seeds=None, batch_size=64, caches=None, sampling=None
) -> list[str]:
    """Continuations of one prompt under each variant (greedy, or sampled with `seeds[i]` per variant,
    `sampling` giving temperature, top_k and top_p; untruncated at temperature 1 if None).

    `caches`, a `PrefixCaches`, shares clean prefixes across calls.
    """
    caches = caches or PrefixCaches(adapter)
    if not cache_is_exact(adapter.model, len(ids), max_new_tokens):
        caches = None
    texts = []
    for start in range(0, len(variants), batch_size):
        chunk = slice(start, start + batch_size)
        chunk_seeds = None if seeds is None else seeds[chunk]
        texts += _variant_rows(adapter, tokenizer, ids, variants[chunk], max_new_tokens, chunk_seeds, caches, sampling)
    return texts


def reference_generate(adapter, tokenizer, ids, variants, max_new_tokens=10, seeds=None, sampling=None):
    """The same as `generate_variants`, one variant at a time, each a full forward over the prompt."""
    return [
        _variant_rows(
            adapter, tokenizer, ids, [v], max_new_tokens, None if seeds is None else [seeds[i]], None, sampling
        )[0]
        for i, v in enumerate(variants)
    ]


# ---------------------------------------------------------------- many prompts


def generate_prompts(
    adapter, tokenizer, prompts, max_new_tokens=10, batch_size=16, desc="generating", share_prefix=True
) -> list[str]:
    """The greedy continuation (new text only) of each prompt, in the order given."""
    texts = [""] * len(prompts)
    # in a log file (not a terminal) a bar line every 30 s is enough
    interval = 0.1 if sys.stderr.isatty() else 30
    with tqdm(total=len(prompts), desc=desc, unit="prompt", mininterval=interval) as bar:
        batches = _prefix_batches if share_prefix else _padded_batches
        for rows, continuations in batches(adapter.model, tokenizer, prompts, max_new_tokens, batch_size):
            for i, text in zip(rows, continuations, strict=True):
                texts[i] = text
            bar.update(len(rows))
    return texts


def _padded_batches(model, tokenizer, prompts, max_new_tokens, batch_size):
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # little padding per batch
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        encoded = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(model.device)
        yield rows, _decode(model, tokenizer, encoded["input_ids"], encoded["attention_mask"], max_new_tokens)


def common_prefix(sequences) -> list[int]:
    """The longest run of tokens all sequences start with, leaving each at least one token of its own."""
    shortest = min(len(s) for s in sequences)
    length = 0
    while length < shortest - 1 and all(s[length] == sequences[0][length] for s in sequences):
        length += 1
    return list(sequences[0][:length])


def _prefix_batches(model, tokenizer, prompts, max_new_tokens, batch_size):
    if not prompts:
        return
    encoded = tokenizer(list(prompts))["input_ids"]
    if not cache_is_exact(model, max(len(ids) for ids in encoded), max_new_tokens):
        yield from _padded_batches(model, tokenizer, prompts, max_new_tokens, batch_size)
        return
    prefix = common_prefix(encoded)
    cache = clean_cache(model, prefix) if prefix else None
    # Pad between the shared prefix and each prompt's own tokens: positions come from the attention
    # mask, so every prompt sees the prefix and its own tokens exactly as it would unpadded.
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in rows)
        ids, mask = [], []
        for i in rows:
            pad = width - len(encoded[i])
            ids.append(prefix + [tokenizer.pad_token_id] * pad + encoded[i][len(prefix) :])
            mask.append([1] * len(prefix) + [0] * pad + [1] * (len(encoded[i]) - len(prefix)))
        ids, mask = torch.tensor(ids, device=model.device), torch.tensor(mask, device=model.device)
        yield rows, _decode(model, tokenizer, ids, mask, max_new_tokens, cache)
