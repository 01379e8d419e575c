"""Decoding: the engine's own decoding loop (`_decode`) and its reference, transformers' `generate`
(`_generate`), for variants of one prompt and for many prompts.

- `generate_variants`: one prompt under many variants (tuples of edits), batched. Every row has
  the same tokens, so no padding; the clean prefix before the earliest edit is computed once and
  shared (causality: no edit changes an earlier position); equal variants (one per sampling seed
  in Patchscopes) share a batch row for as long as their drawn tokens agree.
- `generate_calls`: the same for several prompts of one token length at once (knockout's cases):
  still no padding, each row on its own prompt's cached prefix.
- `reference_generate`: the same through `generate`, one variant at a time (or `batch_size` a
  batch), each row a full forward — obviously right, slow (`reference_rows`: rows of their own
  prompts, one batch).
- `generate_prompts`: many unedited prompts (the evaluation). The tokens every prompt starts with
  (the demonstration prefix) run once; prompts are batched by token length and padded between
  that prefix and their own tokens. `share_prefix=False` is the plain path: left-padded batches
  through `generate`.

Greedy unless per-row sampling seeds are given (`sampling.RowSampler`). Tests hold the fast and
the plain paths to the same outputs.
"""

import copy
import functools
import itertools
import sys

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from multihop.engine.backoff import in_batches
from multihop.engine.edits import edited, first_edited, variant_key
from multihop.engine.head import exact_head
from multihop.engine.kvcache import key_value_layers, regroup, reserved
from multihop.engine.sampling import RowSampler

GREEDY = dict(do_sample=False, top_p=None, top_k=None, temperature=None)


def clean_cache(model, ids):
    """Keys and values of an unedited forward over `ids` (the decoder's: no logits are needed)."""
    with torch.inference_mode():
        return model.get_decoder()(torch.tensor([list(ids)], device=model.device), use_cache=True).cache


def cache_is_exact(model, length: int, max_new_tokens: int) -> bool:
    """Whether a shared prefix cache gives the same outputs as a full forward.

    A sliding attention window counts positions in the batch, pads included; past it, a cache
    built for another layout could change what a token sees, so then the plain path runs.
    """
    window = getattr(model.config, "sliding_window", None)
    return not (window and length + max_new_tokens >= window)


def _generate(
    model,
    tokenizer,
    input_ids,
    attention_mask,
    *,
    max_new_tokens,
    prefix_cache=None,
    seeds=None,
    sampling=None,
    prefix_rows=None,
):
    """The reference decoder: one transformers `generate` over a batch; `prefix_cache` (for a prefix
    of every row) is copied for each row (row `prefix_rows[i]` of it for row i, if given); with
    `seeds`, each row samples (`sampling`: RowSampler's temperature, top_k, top_p)."""
    kwargs = {}
    if prefix_cache is not None:
        kwargs["cache"] = _repeated(prefix_cache, len(input_ids), prefix_rows)
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


def _repeated(cache, rows, prefix_rows=None):
    cache = copy.deepcopy(cache)
    if prefix_rows is None:
        cache.batch_repeat_interleave(rows)
    else:
        cache.reorder_cache(prefix_rows)  # (each layer moves the index to its own device)
    return cache


# generation settings under which `generate` changes the logits or stops early (neutral: None,
# or these values); a model whose generation config sets one decodes through `generate` itself
_NEUTRAL = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "min_length": 0, "min_new_tokens": 0}
_PROCESSING = (
    *_NEUTRAL,
    *("bad_words_ids", "suppress_tokens", "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id"),
    *("encoder_repetition_penalty", "exponential_decay_length_penalty", "sequence_bias", "guidance_scale"),
    *("watermarking_config", "stop_strings", "max_time"),
)


def _plain(generation_config) -> bool:
    """Whether greedy `generate` with this config does nothing the engine's loop does not."""
    return all(getattr(generation_config, name, None) in (None, _NEUTRAL.get(name)) for name in _PROCESSING)


def _decode(
    model,
    tokenizer,
    input_ids,
    attention_mask,
    *,
    max_new_tokens,
    prefix_cache=None,
    seeds=None,
    sampling=None,
    rows_of=None,
    prefix_rows=None,
):
    """The engine: what `_generate` does, step by step through the model's decoder, choosing
    each token with the exact screened head (`head.ExactHead`) instead of full fp32 logits.

    Inputs to the decoder are those `generate` passes: positions from the attention mask, the
    mask left out when it has no padding, only the uncached tail of the prompt. Keys and values go
    to room reserved up front (`kvcache.reserved`) rather than a cache grown by concatenation.

    `prefix_cache` holds a prefix of every input row (or with `prefix_rows`, its row `prefix_rows[i]`
    of input row i). `rows_of`: the input row each output continues (default: one output per input row; `seeds`
    are per output). Outputs with the same input row and the same tokens so far share one batch
    row, since they would compute the same; it splits when their draws part, and a row whose
    outputs are all finished leaves the batch.
    """
    if not _plain(model.generation_config):
        assert rows_of is None, "transformers' generate runs one batch row per output"
        return _generate(
            model,
            tokenizer,
            input_ids,
            attention_mask,
            max_new_tokens=max_new_tokens,
            prefix_cache=prefix_cache,
            seeds=seeds,
            sampling=sampling,
            prefix_rows=prefix_rows,
        )
    decoder, head = model.get_decoder(), exact_head(model)
    row = torch.arange(len(input_ids)) if rows_of is None else torch.as_tensor(rows_of)  # each output's batch row
    outputs = len(row)
    sampler = RowSampler(seeds, **(sampling or {})) if seeds is not None else None
    eos = model.generation_config.eos_token_id
    eos = torch.tensor([] if eos is None else [eos] if isinstance(eos, int) else list(eos), device=input_ids.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else int(eos[0])
    positions = attention_mask.long().cumsum(-1) - 1
    positions.masked_fill_(attention_mask == 0, 0)
    mask = None if bool((attention_mask == 1).all()) else attention_mask
    capacity = input_ids.shape[1] + max_new_tokens
    room = max(outputs, len(input_ids))
    cache = reserved(model, len(input_ids), capacity, prefix=prefix_cache, room=room, prefix_rows=prefix_rows)
    if cache is None and prefix_cache is not None:
        cache = _repeated(prefix_cache, len(input_ids), prefix_rows)
    cached = 0 if cache is None else cache.get_seq_length()  # prompt positions the cache holds already
    step_ids, step_positions = input_ids[:, cached:], positions[:, cached:]
    finished = torch.zeros(outputs, dtype=torch.bool, device=input_ids.device)
    new = []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            out = decoder(
                input_ids=step_ids, attention_mask=mask, position_ids=step_positions, cache=cache, use_cache=True
            )
            # over several GPUs the last layer, the head and the inputs may each sit on another
            cache, hidden = out.cache, out.last_hidden_state[:, -1].to(head.weight.device)
            token = _choose(head, hidden, sampler, row.to(hidden.device)).to(input_ids.device)
            token = token.masked_fill(finished, pad)
            new.append(token)
            finished |= torch.isin(token, eos)
            if bool(finished.all()):
                break
            source, step_ids, row = _regrouped(row, token, finished)
            if len(source) != len(step_positions) or source != list(range(len(source))):
                source = torch.tensor(source, device=input_ids.device)
                regroup(cache, source)
                step_positions = step_positions[source]
                mask = None if mask is None else mask[source]
            step_ids = torch.tensor(step_ids, device=input_ids.device)[:, None]
            step_positions = step_positions[:, -1:] + 1
            if mask is not None:
                mask = torch.cat([mask, mask.new_ones(len(mask), 1)], dim=1)
    return tokenizer.batch_decode(torch.stack(new, dim=1), skip_special_tokens=True)


def _regrouped(row, token, finished):
    """The batch rows of the next step: one per distinct (batch row, token) of the unfinished
    outputs. Returns the batch row each continues (`source`), its token, and each output's new
    batch row (0 once finished). A row's first part keeps its place where it can (nothing to copy)."""
    parts = {}  # (batch row, token) -> outputs
    for output, (r, t, done) in enumerate(zip(row.tolist(), token.tolist(), finished.tolist(), strict=True)):
        if not done:
            parts.setdefault((r, t), []).append(output)
    count, place, kept = len(parts), {}, set()
    for key in parts:
        if key[0] < count and key[0] not in kept:
            place[key] = key[0]
            kept.add(key[0])
    free = (i for i in range(count) if i not in kept)
    for key in parts:
        if key not in place:
            place[key] = next(free)
    source, tokens, new_row = [0] * count, [0] * count, [0] * len(token)
    for key, i in place.items():
        source[i], tokens[i] = key
        for output in parts[key]:
            new_row[output] = i
    return source, tokens, torch.tensor(new_row)


def _choose(head, hidden, sampler, row):
    """Each output's next token, from its batch row `row`: greedy, or drawn by `sampler` from the
    exact top-k (or all) logits."""
    if sampler is None:
        return head.argmax(hidden)[row]
    uniform = sampler.uniforms(hidden.device, head.weight.shape[0])
    if sampler.top_k:
        values, tokens = head.candidates(hidden, sampler.top_k)
        return sampler.pick(values[row], tokens[row], uniform)[:, 0]
    return sampler.pick(head.logits(hidden)[row], None, uniform)[:, 0]


# ---------------------------------------------------------------- variants of one prompt


class PrefixCaches:
    """Clean keys and values of prompt prefixes, computed once and reused (the Patchscopes target
    prompt is the same for every case)."""

    def __init__(self, adapter, size=16):
        self.adapter, self.size, self.caches = adapter, size, {}

    def get(self, ids):
        key = tuple(int(i) for i in ids)
        if key not in self.caches:
            if len(self.caches) >= self.size:
                self.caches.pop(next(iter(self.caches)))
            self.caches[key] = clean_cache(self.adapter.model, key)
        return self.caches[key]

    def stacked(self, prefixes):
        """One cache of the distinct `prefixes` (all of one length), one row each, and the row of it
        each prefix has; (None, None) for caches with layers of other kinds than keys and values."""
        distinct = list(dict.fromkeys(tuple(int(i) for i in ids) for ids in prefixes))
        parts = [self.get(ids) for ids in distinct]
        if not key_value_layers(parts[0]):
            return None, None
        cache = copy.deepcopy(parts[0])
        for i, layer in enumerate(cache.layers):
            if layer.is_initialized and layer.keys.numel():
                layer.keys = torch.cat([part.layers[i].keys for part in parts])
                layer.values = torch.cat([part.layers[i].values for part in parts])
        rows = [distinct.index(tuple(int(i) for i in ids)) for ids in prefixes]
        return cache, torch.tensor(rows)


def _variant_rows(
    adapter,
    tokenizer,
    prompts,
    variants,
    *,
    max_new_tokens,
    seeds,
    caches=None,
    sampling=None,
    decode=_decode,
    rows_of=None,
):
    """One batch of variants, `variants[i]` of prompt `prompts[i]` (all of one token length: no
    padding); with `caches`, each prompt's clean prefix before the first edit is computed once.
    `rows_of`: the variant each output continues (see `_decode`), default one each."""
    model = adapter.model
    if rows_of is not None:
        decode = functools.partial(decode, rows_of=rows_of)
    batch = torch.tensor([list(ids) for ids in prompts], device=model.device)
    shared, prefix_cache, prefix_rows = first_edited(variants), None, None
    if caches is not None and shared:  # at least one clean token to share
        length = min(shared, batch.shape[1] - 1)  # (leaves each prompt a token of its own)
        if len(set(prompts)) == 1:
            prefix_cache = caches.get(prompts[0][:length])
        else:  # each row its own prompt's prefix, as it has in a batch of that prompt alone
            prefix_cache, prefix_rows = caches.stacked([ids[:length] for ids in prompts])
    if prefix_rows is not None:
        decode = functools.partial(decode, prefix_rows=prefix_rows)
    with edited(adapter, variants, length=batch.shape[1]):
        return decode(
            model,
            tokenizer,
            batch,
            torch.ones_like(batch),
            max_new_tokens=max_new_tokens,
            prefix_cache=prefix_cache,
            seeds=seeds,
            sampling=sampling,
        )


def _firsts(rows) -> list[int]:
    """For each (prompt, variant) row, the index of the first row equal to it."""
    first = {}
    return [first.setdefault((ids, variant_key(v)), i) for i, (ids, v) in enumerate(rows)]


def generate_variants(
    adapter, tokenizer, ids, variants, *, max_new_tokens=10, seeds=None, batch_size=64, caches=None, sampling=None
) -> list[str]:
    """Continuations of one prompt under each variant (greedy, or sampled with `seeds[i]` per variant,
    `sampling` giving temperature, top_k and top_p; untruncated at temperature 1 if None).

    `caches`, a `PrefixCaches`, shares clean prefixes across calls. Equal variants (with other
    seeds, say) go to the same batch, where they share rows while their tokens agree.
    """
    return generate_calls(
        adapter,
        tokenizer,
        [(ids, variants, seeds)],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        caches=caches,
        sampling=sampling,
    )[0]


def generate_calls(
    adapter, tokenizer, calls, *, max_new_tokens=10, batch_size=64, caches=None, sampling=None
) -> list[list[str]]:
    """`generate_variants` for several calls at once, (ids, variants, seeds) each (seeds all None, or
    all given), whose prompts have one token length: their variants share batches, unpadded, each
    row on its own prompt's clean prefix up to the batch's earliest edit (knockout's variants all
    edit the last token: then a row computes what it computes in a batch of its own case; tested)."""
    if not calls:
        return []
    if len({len(ids) for ids, _, _ in calls}) > 1:
        raise ValueError("calls batched together need prompts of one token length")
    if len({seeds is None for _, _, seeds in calls}) > 1:
        raise ValueError("calls batched together are all greedy or all sampled")
    if any(seeds is not None and len(seeds) != len(variants) for _, variants, seeds in calls):
        raise ValueError("a call needs one seed per variant")
    rows = [(tuple(int(t) for t in ids), v) for ids, variants, _ in calls for v in variants]
    row_seeds = None if calls[0][2] is None else [seed for _, _, call_seeds in calls for seed in call_seeds]
    if not rows:
        return [[] for _ in calls]
    caches = caches or PrefixCaches(adapter)
    if not cache_is_exact(adapter.model, len(rows[0][0]), max_new_tokens):
        caches = None
    # equal variants of a prompt go to one batch, where they run as one batch row while their tokens agree
    plain = _plain(adapter.model.generation_config)
    firsts = _firsts(rows) if plain else list(range(len(rows)))
    order = sorted(range(len(rows)), key=firsts.__getitem__)

    def run(outputs):
        distinct = sorted({firsts[i] for i in outputs})
        batch_row = {first: r for r, first in enumerate(distinct)}
        rows_of = None if len(distinct) == len(outputs) else [batch_row[firsts[i]] for i in outputs]
        prompts, chunk = [rows[i][0] for i in distinct], [rows[i][1] for i in distinct]
        chunk_seeds = None if row_seeds is None else [row_seeds[i] for i in outputs]
        return _variant_rows(
            adapter,
            tokenizer,
            prompts,
            chunk,
            max_new_tokens=max_new_tokens,
            seeds=chunk_seeds,
            caches=caches,
            sampling=sampling,
            rows_of=rows_of,
        )

    texts = [""] * len(rows)
    for outputs, continuations in in_batches(order, batch_size, run):
        for i, text in zip(outputs, continuations, strict=True):
            texts[i] = text
    ends = itertools.accumulate(len(variants) for _, variants, _ in calls)
    return [texts[end - len(variants) : end] for (_, variants, _), end in zip(calls, ends, strict=True)]


def reference_generate(
    adapter, tokenizer, ids, variants, *, max_new_tokens=10, seeds=None, sampling=None, batch_size=1
) -> list[str]:
    """The same as `generate_variants`, through transformers' own `generate` over a full forward
    of the prompt: each variant alone, or `batch_size` variants a batch (one row each)."""
    texts = []
    for start in range(0, len(variants), batch_size):
        chunk = slice(start, start + batch_size)
        seeded = None if seeds is None else seeds[chunk]
        part = variants[chunk]
        texts += reference_rows(
            adapter, tokenizer, [ids] * len(part), part, max_new_tokens=max_new_tokens, seeds=seeded, sampling=sampling
        )
    return texts


def reference_rows(adapter, tokenizer, prompts, variants, *, max_new_tokens=10, seeds=None, sampling=None) -> list[str]:
    """`variants[i]` of `prompts[i]` (of one token length), as one batch through transformers'
    `generate`, each row a full forward of its prompt."""
    return _variant_rows(
        adapter,
        tokenizer,
        prompts,
        variants,
        max_new_tokens=max_new_tokens,
        seeds=seeds,
        sampling=sampling,
        decode=_generate,
    )


# ---------------------------------------------------------------- many prompts


def generate_prompts(
    adapter, tokenizer, prompts, *, max_new_tokens=10, batch_size=16, desc="generating", share_prefix=True
) -> list[str]:
    """The greedy continuation (new text only) of each prompt, in the order given."""
    texts = [""] * len(prompts)
    # in a log file (not a terminal) a bar line every 30 s is enough
    interval = 0.1 if sys.stderr.isatty() else 30
    with tqdm(total=len(prompts), desc=desc, unit="prompt", mininterval=interval) as bar:
        batches = _prefix_batches if share_prefix else _padded_batches
        chunks = batches(adapter.model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
        for rows, continuations in chunks:
            for i, text in zip(rows, continuations, strict=True):
                texts[i] = text
            bar.update(len(rows))
    return texts


def _padded_batches(model, tokenizer, prompts, *, max_new_tokens, batch_size, decode=_generate):
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # little padding per batch

    def run(rows):
        encoded = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(model.device)
        return decode(model, tokenizer, encoded["input_ids"], encoded["attention_mask"], max_new_tokens=max_new_tokens)

    yield from in_batches(order, batch_size, run)


def common_prefix(sequences) -> list[int]:
    """The longest run of tokens all sequences start with, leaving each at least one token of its own."""
    shortest = min(len(s) for s in sequences)
    length = 0
    while length < shortest - 1 and all(s[length] == sequences[0][length] for s in sequences):
        length += 1
    return list(sequences[0][:length])


def _prefix_batches(model, tokenizer, prompts, *, max_new_tokens, batch_size):
    if not prompts:
        return
    encoded = tokenizer(list(prompts))["input_ids"]
    if not cache_is_exact(model, max(len(ids) for ids in encoded), max_new_tokens):
        yield from _padded_batches(
            model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, decode=_decode
        )
        return
    prefix = common_prefix(encoded)
    prefix_cache = clean_cache(model, prefix) if prefix else None
    # Pad between the shared prefix and each prompt's own tokens: positions come from the attention
    # mask, so every prompt sees the prefix and its own tokens exactly as it would unpadded.
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))

    def run(rows):
        width = max(len(encoded[i]) for i in rows)
        ids, mask = [], []
        for i in rows:
            padding = width - len(encoded[i])
            ids.append(prefix + [tokenizer.pad_token_id] * padding + encoded[i][len(prefix) :])
            mask.append([1] * len(prefix) + [0] * padding + [1] * (len(encoded[i]) - len(prefix)))
        ids, mask = torch.tensor(ids, device=model.device), torch.tensor(mask, device=model.device)
        return _decode(model, tokenizer, ids, mask, max_new_tokens=max_new_tokens, prefix_cache=prefix_cache)

    yield from in_batches(order, batch_size, run)
