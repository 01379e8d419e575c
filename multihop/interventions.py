"""The intervention engine: run one prompt with edits described as data, read states or generate.

Edits:
- `Patch(layer, position, vector)`: overwrite the residual stream after block `layer` at `position`;
- `Knockout(layers, position, keys)`: in `layers`, the query at `position` cannot attend to `keys`.

A variant is a tuple of edits. Two paths share the same hooks and sampler:
- `reference_generate`: one `generate` per variant (batch of one) — obviously right, slow;
- `generate`: all variants of a prompt batched (every row has the same length, so no padding),
  the clean prefix before the earliest edit computed once and shared (causality: no edit can
  change an earlier position).
Edits act on the prompt's forward pass only; generated tokens then see the edited cache.
Tests hold the two paths to the same outputs.
"""

import contextlib
import copy
import hashlib
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from multihop.adapter import Adapter, output_tensor
from multihop.errors import UserError


@dataclass(frozen=True, eq=False)
class Patch:
    layer: int
    position: int
    vector: torch.Tensor


@dataclass(frozen=True)
class Knockout:
    layers: tuple[int, ...]
    position: int
    keys: tuple[int, ...]


# ---------------------------------------------------------------- reading states


@contextlib.contextmanager
def _captured(modules):
    """Record the output tensor of each module's forward (first element of a tuple)."""
    outputs = [None] * len(modules)

    def keep(i):
        def hook(module, args, output):
            outputs[i] = output_tensor(output).detach()

        return hook

    handles = [m.register_forward_hook(keep(i)) for i, m in enumerate(modules)]
    try:
        yield outputs
    finally:
        for h in handles:
            h.remove()


def read_states(adapter: Adapter, ids) -> torch.Tensor:
    """Residual stream after every block for one prompt: (layers, tokens, hidden)."""
    with _captured(adapter.layers) as states, torch.inference_mode():
        adapter.model(torch.as_tensor(ids, device=adapter.model.device)[None])
    return torch.stack([s[0] for s in states])


def read_sublayers(adapter: Adapter, ids) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors the attention and MLP sublayers add to the residual stream: two (layers, tokens, hidden)."""
    with _captured(adapter.attention_outputs) as attention, _captured(adapter.mlp_outputs) as mlp:
        with torch.inference_mode():
            adapter.model(torch.as_tensor(ids, device=adapter.model.device)[None])
    return torch.stack([a[0] for a in attention]), torch.stack([m[0] for m in mlp])


# ---------------------------------------------------------------- editing


@contextlib.contextmanager
def edited(adapter: Adapter, variants, length: int | None = None):
    """Hooks applying `variants[row]` to batch row `row` during the next forward over the prompt.

    Only the first forward (the prompt) is edited: later forwards of `generate` are decoding steps.
    `length` is the prompt's full length when that forward covers only its tail (the rest cached);
    positions are absolute either way.
    """
    patches, knockouts = {}, {}
    for row, variant in enumerate(variants):
        for edit in variant:
            if isinstance(edit, Patch):
                patches.setdefault(edit.layer, []).append((row, edit))
            else:
                for layer in edit.layers:
                    knockouts.setdefault(layer, []).append((row, edit))
    implementation = getattr(adapter.model.config, "_attn_implementation", "eager")
    if knockouts and implementation not in ("eager", "sdpa"):
        raise UserError(f"attention knockout needs eager or sdpa attention, not {implementation!r}")
    prompt_pass = {"done": False}
    handles = []

    def patch_hook(layer):
        def hook(module, args, output):
            if prompt_pass["done"]:
                return None
            hidden = output_tensor(output).clone()
            offset = (length or hidden.shape[1]) - hidden.shape[1]
            for row, edit in patches[layer]:
                hidden[row, edit.position - offset] = edit.vector.to(hidden.dtype)
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        return hook

    def knockout_hook(layer):
        def hook(module, args, kwargs):
            if prompt_pass["done"]:
                return None
            hidden = args[0] if args else kwargs["hidden_states"]
            keys = length or hidden.shape[1]
            kwargs["attention_mask"] = _blocked(
                kwargs.get("attention_mask"), hidden, keys, knockouts[layer], implementation == "eager"
            )
            return args, kwargs

        return hook

    def end_of_prompt(module, args, output):
        prompt_pass["done"] = True

    for layer in patches:
        handles.append(adapter.layers[layer].register_forward_hook(patch_hook(layer)))
    for layer in knockouts:
        handles.append(adapter.attentions[layer].register_forward_pre_hook(knockout_hook(layer), with_kwargs=True))
    handles.append(adapter.model.register_forward_hook(end_of_prompt))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _blocked(mask, hidden, keys, edits, additive=False):
    """The attention mask, (batch, 1, queries, keys), with each row's knocked-out pairs blocked.

    The queries are the last `hidden.shape[1]` of `keys` positions. A missing mask (implicit causal
    attention) is made explicit: boolean, or additive floats for eager attention.
    """
    batch, queries = hidden.shape[0], hidden.shape[1]
    offset = keys - queries
    if mask is None:
        mask = torch.ones(queries, keys, dtype=torch.bool, device=hidden.device).tril(diagonal=offset)[None, None]
        if additive:
            mask = torch.zeros(mask.shape, dtype=hidden.dtype, device=hidden.device).masked_fill(
                ~mask, torch.finfo(hidden.dtype).min
            )
    mask = mask[..., :keys].expand(batch, *mask.shape[1:-1], keys).clone()
    blocked = False if mask.dtype == torch.bool else torch.finfo(mask.dtype).min
    for row, edit in edits:
        mask[row, :, edit.position - offset, list(edit.keys)] = blocked
    return mask


# ---------------------------------------------------------------- generating


class RowSampler(LogitsProcessor):
    """Sampling (temperature 1) with one random generator per row, as a logits processor for greedy
    decoding: each step it draws the row's token by inverse CDF and leaves only that token finite.

    A row's draws depend only on its own seed, so a variant samples the same tokens whether it runs
    alone or in a batch; one uniform number per row and step keeps it cheap for large vocabularies.
    """

    def __init__(self, seeds, device):
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids, scores):
        uniform = torch.cat([torch.rand(1, generator=g, device=scores.device) for g in self.generators])
        weights = (scores.float() - scores.max(dim=-1, keepdim=True).values).exp_()  # softmax, unnormalised
        cumulative = weights.cumsum_(dim=-1)
        target = uniform[:, None] * cumulative[:, -1:]
        chosen = torch.searchsorted(cumulative, target).clamp_(max=scores.shape[1] - 1)
        return scores.fill_(float("-inf")).scatter_(1, chosen, 0.0)


def variant_seed(seed: int, key: str) -> int:
    """A sampling seed for one variant, from the run's seed and a stable description of the variant."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{key}".encode()).digest()[:7], "big")


def _first_edited(variants) -> int:
    """The earliest position any variant edits: everything before it equals the clean run."""
    positions = [e.position for variant in variants for e in variant]
    return min(positions) if positions else None


def _generate_rows(adapter, tokenizer, ids, variants, max_new_tokens, seeds, prefix_cache=None):
    """One `generate` over a batch of variants; `prefix_cache(n)` gives the clean cache of ids[:n]."""
    model = adapter.model
    batch = torch.as_tensor(ids, device=model.device)[None].expand(len(variants), -1)
    processors = LogitsProcessorList([RowSampler(seeds, model.device)] if seeds is not None else [])
    kwargs = {}
    shared = _first_edited(variants)
    if prefix_cache is not None and shared:  # at least one clean token to share
        cache = copy.deepcopy(prefix_cache(min(shared, len(ids) - 1)))
        cache.batch_repeat_interleave(len(variants))
        kwargs["cache"] = cache
    with edited(adapter, variants, length=len(ids)), torch.inference_mode():
        out = model.generate(
            input_ids=batch,
            attention_mask=torch.ones_like(batch),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            top_p=None,
            top_k=None,
            temperature=None,
            logits_processor=processors,
            pad_token_id=tokenizer.pad_token_id,
            **kwargs,
        )
    return tokenizer.batch_decode(out[:, batch.shape[1] :], skip_special_tokens=True)


class PrefixCaches:
    """Clean keys and values of prompt prefixes, computed once and reused (the Patchscopes target
    prompt is the same for every case)."""

    def __init__(self, adapter, size=8):
        self.adapter, self.size, self.caches = adapter, size, {}

    def for_prompt(self, ids):
        ids = tuple(int(i) for i in ids)

        def get(n):
            key = ids[:n]
            if key not in self.caches:
                if len(self.caches) >= self.size:
                    self.caches.pop(next(iter(self.caches)))
                model = self.adapter.model
                with torch.inference_mode():
                    self.caches[key] = model(torch.tensor([key], device=model.device), use_cache=True).cache
            return self.caches[key]

        return get


def generate(adapter, tokenizer, ids, variants, max_new_tokens=10, seeds=None, batch_size=64, caches=None) -> list[str]:
    """Continuations of one prompt under each variant (greedy, or sampled with `seeds[i]` per variant).

    Variants are batched; the clean prefix before the earliest edit is computed once (`caches`, a
    `PrefixCaches`, shares it across calls) and every variant runs only the rest.
    """
    caches = caches or PrefixCaches(adapter)
    windowed = getattr(adapter.model.config, "sliding_window", None)
    prefix_cache = None if windowed and len(ids) + max_new_tokens >= windowed else caches.for_prompt(ids)
    texts = []
    for start in range(0, len(variants), batch_size):
        chunk = slice(start, start + batch_size)
        chunk_seeds = None if seeds is None else seeds[chunk]
        texts += _generate_rows(adapter, tokenizer, ids, variants[chunk], max_new_tokens, chunk_seeds, prefix_cache)
    return texts


def reference_generate(adapter, tokenizer, ids, variants, max_new_tokens=10, seeds=None) -> list[str]:
    """The same as `generate`, one variant at a time, each a full forward over the prompt."""
    return [
        _generate_rows(adapter, tokenizer, ids, [v], max_new_tokens, None if seeds is None else [seeds[i]])[0]
        for i, v in enumerate(variants)
    ]
