"""Batched greedy generation for many prompts, with a plain path and a prefix-sharing fast path.

- `greedy_generate(..., share_prefix=False)`: left-padded batches, one `generate` each — plain.
- `greedy_generate(...)` (default): the tokens every prompt starts with (the demonstration
  prefix) are run once and their keys and values reused; prompts are batched by token length,
  so no batch needs padding. Tests hold both paths to the same outputs.
"""

import copy
import sys

import torch
from tqdm.auto import tqdm

GREEDY = dict(do_sample=False, top_p=None, top_k=None, temperature=None)


def greedy_generate(
    model, tokenizer, prompts, max_new_tokens=10, batch_size=16, desc="generating", share_prefix=True
) -> list[str]:
    """The greedy continuation (new text only) of each prompt, in the order given."""
    texts = [""] * len(prompts)
    # in a log file (not a terminal) a bar line every 30 s is enough
    interval = 0.1 if sys.stderr.isatty() else 30
    with tqdm(total=len(prompts), desc=desc, unit="prompt", mininterval=interval) as bar:
        batches = _prefix_batches if share_prefix else _padded_batches
        for rows, continuations in batches(model, tokenizer, prompts, max_new_tokens, batch_size):
            for i, text in zip(rows, continuations, strict=True):
                texts[i] = text
            bar.update(len(rows))
    return texts


def _padded_batches(model, tokenizer, prompts, max_new_tokens, batch_size):
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # little padding per batch
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        encoded = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(model.device)
        with torch.inference_mode():
            ids = model.generate(
                **encoded, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **GREEDY
            )
        yield rows, tokenizer.batch_decode(ids[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)


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
    # A sliding attention window counts positions in the batch, pads included: padding put between
    # prefix and prompt would change what a token sees, so then the plain path runs.
    window = getattr(model.config, "sliding_window", None)
    if window is not None and max(len(ids) for ids in encoded) + max_new_tokens >= window:
        yield from _padded_batches(model, tokenizer, prompts, max_new_tokens, batch_size)
        return
    prefix = common_prefix(encoded)
    cache = None
    if prefix:
        with torch.inference_mode():
            cache = model(torch.tensor([prefix], device=model.device), use_cache=True).cache
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
        ids = torch.tensor(ids, device=model.device)
        kwargs = {}
        if cache is not None:
            kwargs["cache"] = copy.deepcopy(cache)
            kwargs["cache"].batch_repeat_interleave(len(rows))
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.tensor(mask, device=model.device),
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **GREEDY,
                **kwargs,
            )
        yield rows, tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
