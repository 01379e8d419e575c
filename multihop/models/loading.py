"""Loading the configured causal LMs (hub id, local directory, or a bundled model)."""

from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from multihop.errors import UserError
from multihop.models.adapter import Adapter
from multihop.models.allocator import keep_freed_memory
from multihop.models.bundled import bundled_dir


def local_dir(source: str) -> str | None:
    """The local directory a source loads from (None for a hub id)."""
    return bundled_dir(source) or (source if Path(source).is_dir() else None)


def _location(source: str) -> tuple[str, bool]:
    """(path or hub id, offline): local files never ask the hub, and must exist."""
    path = local_dir(source) or source
    offline = local_dir(source) is not None
    if not offline and source.startswith(("/", ".", "~")):  # a path, never a hub id
        raise UserError(f"model directory {source} does not exist; give an existing directory or a hub id")
    if offline and not Path(path).is_dir():
        raise UserError(f"model directory {path} does not exist (for {source}, run the prepare_bundled_model rule)")
    return path, offline


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise UserError(f"device {device!r} is not a device name; use auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and (chosen.index or 0) >= torch.cuda.device_count():
        raise UserError(
            f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s) visible; "
            "set the model's device to auto (a GPU where there is one, else the CPU) or cpu"
        )
    return chosen


def spreads(device: str) -> bool:
    """Whether the model is placed by accelerate: `auto` with a GPU fills the first GPU, then the
    next ones, so a model too big for one GPU spreads over the visible GPUs."""
    return device == "auto" and torch.cuda.is_available()


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The model's dtype: `auto` is bfloat16 on a GPU that has it (float16 on older ones), float32
    on a CPU; a bfloat16 the GPU cannot run is a plain error (a CPU runs every dtype offered)."""
    bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported(including_emulation=False)
    if dtype == "auto":
        return torch.float32 if device.type != "cuda" else torch.bfloat16 if bf16 else torch.float16
    if dtype == "bfloat16" and not bf16:
        raise UserError(f"the GPU ({device}) cannot run bfloat16; set the model's dtype to float16 or float32")
    return getattr(torch, dtype)


def load_tokenizer(source: str):
    """The tokenizer alone (fast to load), padding on the left."""
    path = local_dir(source) or source
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_dir(source) is not None)
    except OSError as error:
        raise UserError(f"could not load the tokenizer of {source!r}: {error}") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load(source: str, dtype: str = "auto", device: str = "auto", attn_implementation: str | None = None, gpus=None):
    """(model, tokenizer) in eval mode on the chosen device; the tokenizer pads on the left.

    With `device: auto` and GPUs, accelerate places the layers (see `spreads`); the engine's
    hooks move what they write to the device of the layer they edit. `gpus` (indices, from
    multihop.models.gpus.job_gpus) restricts the model to those GPUs: one, or spread over several.

    The attention implementation is the library's default (SDPA where the family has it, else
    eager); knockouts work under both. Flash attention ignores the masks knockouts edit.

    On a CPU, the process's allocator keeps freed memory for reuse (`allocator`).
    """
    path, offline = _location(source)
    if gpus is not None and len(gpus) == 1:
        device = f"cuda:{gpus[0]}"
    target = pick_device(device)
    if target.type == "cpu":
        keep_freed_memory()
    tokenizer = load_tokenizer(source)
    placement = {"device_map": "sequential"} if spreads(device) else {}
    if gpus is not None and len(gpus) > 1:  # only the job's GPUs, filled one after the other
        placement = {"device_map": "sequential", "max_memory": {i: torch.cuda.mem_get_info(i)[0] for i in gpus}}
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=pick_dtype(dtype, target),
            local_files_only=offline,
            attn_implementation=attn_implementation,
            **placement,
        )
    except OSError as error:
        raise UserError(
            f"could not load model {source!r}: {error}. Without network, download it first where there is "
            "network (`hf download <id>`) and set HF_HUB_OFFLINE=1, or set the model's source to a local directory."
        ) from None
    Adapter(model)  # fails early, with a plain message, for an unsupported architecture
    if not placement:
        model = model.to(target)
    return model.eval(), tokenizer


def num_layers(source: str) -> int:
    """The number of decoder blocks, read from the model's config alone (no weights)."""
    path, offline = _location(source)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=offline)
    except OSError as error:
        raise UserError(f"could not read the config of {source!r}: {error}") from None
    return config.get_text_config().num_hidden_layers


def runtime(model) -> dict:
    """What a job ran `model` as: its dtype, the kind of device, and the libraries' versions. The
    evaluation records it beside its answers; every analysis job checks its own against it."""
    return {
        "dtype": str(model.dtype).removeprefix("torch."),
        "device": model.device.type,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def check_runtime(model, recorded: dict):
    """Refuse to analyse cases in another precision than the one that chose them (bf16 changes
    answers): with `dtype: auto`, a job on a CPU-only node runs float32 where a GPU ran bfloat16.
    Returns the job's own runtime."""
    own = runtime(model)
    if own["dtype"] != recorded["dtype"]:
        raise UserError(
            f"this job loaded the model as {own['dtype']} on {own['device']}, but its evaluation ran it as "
            f"{recorded['dtype']} on {recorded['device']}; set the model's dtype (and device) in the config "
            "so that every job of a study runs it alike"
        )
    return own


def weights_stamp(source: str, model) -> list:
    """What tells one set of weights from another, cheaply (no hashing of gigabytes): the local
    files' names, sizes and modification times, or the hub revision's commit."""
    local = local_dir(source)
    if local is None:
        return [getattr(model.config, "_commit_hash", None)]
    files = sorted(p for p in Path(local).rglob("*") if p.is_file())
    return [(str(p.relative_to(local)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
