"""The intervention engine: run one prompt with edits described as data, read states or generate.

Edits:
- `Patch(layer, position, vector)`: overwrite the residual stream after block `layer` at `position`;
- `Knockout(layers, position, keys)`: in `layers`, the query at `position` cannot attend to `keys`.

A variant is a tuple of edits. Two paths share the same hooks and sampler:
- `reference_generate`: one `generate` per variant (batch of one) — obviously right, slow;
- `generate`: all variants of a prompt batched (every row has the same length, so no padding).
Edits act on the prompt's forward pass only; generated tokens then see the edited cache.
Tests hold the two paths to the same outputs.
"""

import contextlib
import hashlib
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from multihop.adapter import Adapter, output_tensor


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
def edited(adapter: Adapter, variants):
    """Hooks applying `variants[row]` to batch row `row` during the next forward over the prompt.

    Only the first forward (the prompt) is edited: later forwards of `generate` are decoding steps.
    """
    patches, knockouts = {}, {}
    for row, variant in enumerate(variants):
        for edit in variant:
            if isinstance(edit, Patch):
                patches.setdefault(edit.layer, []).append((row, edit))
            else:
                for layer in edit.layers:
                    knockouts.setdefault(layer, []).append((row, edit))
    prompt_pass = {"done": False}
    handles = []

    def patch_hook(layer):
        def hook(module, args, output):
            if prompt_pass["done"]:
                return None
            hidden = output_tensor(output).clone()
            for row, edit in patches[layer]:
                hidden[row, edit.position] = edit.vector.to(hidden.dtype)
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        return hook

    def knockout_hook(layer):
        def hook(module, args, kwargs):
            if prompt_pass["done"]:
                return None
            hidden = args[0] if args else kwargs["hidden_states"]
            kwargs["attention_mask"] = _blocked(kwargs.get("attention_mask"), hidden, knockouts[layer])
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


def _blocked(mask, hidden, edits):
    """The attention mask with the knocked-out (query, key) pairs of each row blocked."""
    batch, length = hidden.shape[0], hidden.shape[1]
    if mask is None:  # SDPA with an implicit causal mask: make it explicit
        mask = torch.ones(length, length, dtype=torch.bool, device=hidden.device).tril()[None, None]
    mask = mask.expand(batch, *mask.shape[1:]).clone()
    blocked = False if mask.dtype == torch.bool else torch.finfo(mask.dtype).min
    for row, edit in edits:
        mask[row, :, edit.position, list(edit.keys)] = blocked
    return mask


# ---------------------------------------------------------------- generating


class GumbelSampler(LogitsProcessor):
    """Sampling as greedy decoding over logits plus Gumbel noise drawn from one generator per row.

    Each row's draws depend only on its own seed, so a variant samples the same tokens whether it
    runs alone or in a batch.
    """

    def __init__(self, seeds, device):
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids, scores):
        noise = torch.stack([torch.rand(scores.shape[1], generator=g, device=scores.device) for g in self.generators])
        gumbel = -torch.log(-torch.log(noise.clamp(min=1e-20, max=1 - 1e-7)))
        return scores.float() + gumbel


def variant_seed(seed: int, key: str) -> int:
    """A sampling seed for one variant, from the run's seed and a stable description of the variant."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{key}".encode()).digest()[:7], "big")


def _generate_rows(adapter, tokenizer, ids, variants, max_new_tokens, seeds):
    model = adapter.model
    batch = torch.as_tensor(ids, device=model.device)[None].expand(len(variants), -1)
    processors = LogitsProcessorList([GumbelSampler(seeds, model.device)] if seeds is not None else [])
    with edited(adapter, variants), torch.inference_mode():
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
        )
    return tokenizer.batch_decode(out[:, batch.shape[1] :], skip_special_tokens=True)


def generate(adapter, tokenizer, ids, variants, max_new_tokens=10, seeds=None, batch_size=64) -> list[str]:
    """Continuations of one prompt under each variant (greedy, or sampled with `seeds[i]` per variant)."""
    texts = []
    for start in range(0, len(variants), batch_size):
        chunk = slice(start, start + batch_size)
        texts += _generate_rows(
            adapter, tokenizer, ids, variants[chunk], max_new_tokens, None if seeds is None else seeds[chunk]
        )
    return texts


def reference_generate(adapter, tokenizer, ids, variants, max_new_tokens=10, seeds=None) -> list[str]:
    """The same as `generate`, one variant at a time."""
    return [
        _generate_rows(adapter, tokenizer, ids, [v], max_new_tokens, None if seeds is None else [seeds[i]])[0]
        for i, v in enumerate(variants)
    ]
