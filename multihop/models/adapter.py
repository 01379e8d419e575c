"""One view of any supported causal LM: its decoder blocks, sublayers, final norm and unembedding.

Every analysis reads a model through an `Adapter`, so supporting a new family is one entry in
`_LAYOUTS` below and a tiny-model test.
"""

from dataclasses import dataclass

import torch
from torch import nn

from multihop.errors import UserError


@dataclass(frozen=True)
class Layout:
    """Where a family keeps its parts (attribute paths from the *ForCausalLM model)."""

    layers: str
    final_norm: str
    attention: str  # the self-attention module of a block (its output[0] is the attention output)
    mlp: str
    # Gemma 2/3 normalise each sublayer output before the residual add; the added vector is then
    # the output of these norms, not of the sublayer itself.
    attention_out: str | None = None
    mlp_out: str | None = None


_LLAMA = Layout("model.layers", "model.norm", "self_attn", "mlp")
_GEMMA2 = Layout(
    "model.layers",
    "model.norm",
    "self_attn",
    "mlp",
    attention_out="post_attention_layernorm",
    mlp_out="post_feedforward_layernorm",
)
_LAYOUTS = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "qwen3": _LLAMA,
    "gemma": _LLAMA,
    "gemma2": _GEMMA2,
    "gemma3_text": _GEMMA2,
    "gpt2": Layout("transformer.h", "transformer.ln_f", "attn", "mlp"),
}


def _get(obj, path: str):
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


class Adapter:
    """The parts of one model that the study reads and edits.

    - `layers[l]`: decoder block l; its output is the residual stream "after layer l".
    - `attention_outputs[l]` / `mlp_outputs[l]`: modules whose forward output is the vector that
      the attention / MLP sublayer adds to the residual stream (first element if a tuple).
    - `attentions[l]`: the self-attention module of block l.
    - `final_norm`, `unembed`: together they map a residual-stream vector to logits.
    """

    def __init__(self, model: nn.Module):
        model_type = getattr(model.config, "model_type", None)
        layout = _LAYOUTS.get(model_type)
        if layout is None:
            raise UserError(
                f"model type {model_type!r} is not supported yet (supported: {', '.join(sorted(_LAYOUTS))}); "
                "add its layout to multihop/models/adapter.py"
            )
        self.model = model
        self.model_type = model_type
        self.layers = list(_get(model, layout.layers))
        self.attentions = [_get(block, layout.attention) for block in self.layers]
        self.attention_outputs = [_get(block, layout.attention_out or layout.attention) for block in self.layers]
        self.mlp_outputs = [_get(block, layout.mlp_out or layout.mlp) for block in self.layers]
        self.final_norm = _get(model, layout.final_norm)
        self.unembed = model.get_output_embeddings()

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def logits(self, residual: torch.Tensor) -> torch.Tensor:
        """Project residual-stream vectors (..., hidden) to vocabulary logits, as the model's head does.

        Final logit soft-capping (Gemma 2/3) is left out: it is monotonic, so ranks are unchanged.
        """
        return self.unembed(self.final_norm(residual))


def output_tensor(output) -> torch.Tensor:
    """The hidden-state tensor of a module's output: the output itself or its first element."""
    return output[0] if isinstance(output, tuple) else output
