"""Edits as data, and the hooks that apply them during a forward pass over a prompt.

- `Patch(layer, position, vector)`: overwrite the residual stream after block `layer` at `position`;
- `Knockout(layers, position, keys)`: in `layers`, the query at `position` cannot attend to `keys`.

A variant is a tuple of edits, applied to one batch row. Edits act on the prompt's forward pass
only; generated tokens then see the edited cache.
"""

import contextlib
from dataclasses import dataclass

import torch

from multihop.errors import UserError
from multihop.models.adapter import Adapter, output_tensor


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
                hidden[row, edit.position - offset] = edit.vector.to(hidden.device, hidden.dtype)
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        return hook

    def knockout_hook(layer):
        def hook(module, args, kwargs):
            if prompt_pass["done"]:
                return None
            hidden = args[0] if args else kwargs["hidden_states"]
            key_count = length or hidden.shape[1]
            kwargs["attention_mask"] = _blocked(
                kwargs.get("attention_mask"), hidden, key_count, knockouts[layer], implementation == "eager"
            )
            return args, kwargs

        return hook

    def end_of_prompt(module, args, output):
        prompt_pass["done"] = True

    for layer in patches:
        handles.append(adapter.layers[layer].register_forward_hook(patch_hook(layer)))
    for layer in knockouts:
        handles.append(adapter.attentions[layer].register_forward_pre_hook(knockout_hook(layer), with_kwargs=True))
    # on the decoder, which both transformers' generate and the engine's own loop call
    handles.append(adapter.model.get_decoder().register_forward_hook(end_of_prompt))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _blocked(mask, hidden, key_count, edits, additive=False):
    """The attention mask, (batch, 1, queries, keys), with each row's knocked-out pairs (an edit's
    `keys`: positions) blocked.

    The queries are the last `hidden.shape[1]` of `key_count` positions. A missing mask (implicit
    causal attention) is made explicit: boolean, or additive floats for eager attention.
    """
    batch, queries = hidden.shape[0], hidden.shape[1]
    offset = key_count - queries
    if mask is None:
        mask = torch.ones(queries, key_count, dtype=torch.bool, device=hidden.device).tril(diagonal=offset)[None, None]
        if additive:
            mask = torch.zeros(mask.shape, dtype=hidden.dtype, device=hidden.device).masked_fill(
                ~mask, torch.finfo(hidden.dtype).min
            )
    mask = mask[..., :key_count].expand(batch, *mask.shape[1:-1], key_count).clone()
    blocked = False if mask.dtype == torch.bool else torch.finfo(mask.dtype).min
    for row, edit in edits:
        mask[row, :, edit.position - offset, list(edit.keys)] = blocked
    return mask


def variant_key(variant) -> tuple:
    """What a variant does, hashable: equal keys, equal edits (a patch's vector compared by value)."""
    return tuple((e.layer, e.position, _value(e.vector)) if isinstance(e, Patch) else e for e in variant)


def _value(vector: torch.Tensor) -> tuple:
    return str(vector.dtype), vector.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()


def first_edited(variants) -> int | None:
    """The earliest position any variant edits: everything before it equals the clean run."""
    positions = [e.position for variant in variants for e in variant]
    return min(positions) if positions else None
