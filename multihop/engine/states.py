"""Reading a prompt's hidden states: the residual stream after each block, and what sublayers add to it."""

import contextlib

import torch

from multihop.models.adapter import Adapter, output_tensor


@contextlib.contextmanager
def captured(modules):
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
    with captured(adapter.layers) as states, torch.inference_mode():
        _forward(adapter, ids)
    return _stacked(states)


def _forward(adapter, ids):
    """The decoder's forward over one prompt: the states, without the logits no reader needs; returns
    the decoder's output (after its final norm: what the head reads)."""
    return _forward_batch(adapter, [ids])[0]


def _forward_batch(adapter, prompts):
    """`_forward` over prompts of one token length, one batch (unpadded): their outputs, one row each."""
    return adapter.model.get_decoder()(torch.as_tensor(prompts, device=adapter.model.device)).last_hidden_state


def _stacked(outputs, row=0) -> torch.Tensor:
    """Row `row` of each layer's output, stacked on the first layer's device (layers may sit on several)."""
    return torch.stack([o[row].to(outputs[0].device) for o in outputs])


def read_sublayers(adapter: Adapter, ids, with_output=False):
    """Vectors the attention and MLP sublayers add to the residual stream: two (layers, tokens, hidden);
    with `with_output`, the decoder's output (tokens, hidden) as well, from the same forward."""
    return read_sublayers_of(adapter, [ids], with_output)[0]


def read_sublayers_of(adapter: Adapter, prompts, with_output=False) -> list[tuple]:
    """`read_sublayers` of each of several prompts of one token length, in one forward."""
    with captured(adapter.attention_outputs) as attention, captured(adapter.mlp_outputs) as mlp:
        with torch.inference_mode():
            output = _forward_batch(adapter, prompts)
    return [
        (_stacked(attention, i), _stacked(mlp, i)) + ((output[i],) if with_output else ()) for i in range(len(prompts))
    ]
