"""Which GPUs a model job runs on, so that jobs running side by side never share one.

Under SLURM the scheduler has already chosen: the job sees only its own GPUs. On one machine,
each job claims GPUs by locking one file per GPU in a folder shared by every job of the machine
(`MULTIHOP_GPU_LOCKS`, else multihop-gpus in the temp folder); the locks are the operating
system's, so they are released when the job ends, however it ends (SIGKILL included). A job that
finds too few free GPUs waits. Snakemake's `--resources gpu=N` keeps such waits rare: it starts
no more GPU jobs than there are GPUs.
"""

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path

from multihop.errors import UserError


def gpu_count(spec: dict) -> int:
    """GPUs per job of a model (a config's `models` entry): its resources.gpus, else none on the
    CPU and one otherwise."""
    gpus = spec.get("resources", {}).get("gpus")
    return gpus if gpus is not None else (0 if spec.get("device", "auto") == "cpu" else 1)


def lock_folder() -> Path:
    return Path(os.environ.get("MULTIHOP_GPU_LOCKS") or Path(tempfile.gettempdir()) / "multihop-gpus")


@contextlib.contextmanager
def claim(count: int, available: int, folder=None, wait: float = 2.0):
    """Hold `count` of GPUs 0..available-1 for the block; yields their indices, lowest free first."""
    if count > available:
        raise UserError(f"a job asks for {count} GPU(s) (the model's resources.gpus) and this machine has {available}")
    folder = Path(folder or lock_folder())
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        held = {}
        for index in range(available):
            handle = open(folder / f"gpu{index}.lock", "a")  # noqa: SIM115 (held until the block ends)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            held[index] = handle
            if len(held) == count:
                break
        if len(held) == count:
            break
        for handle in held.values():
            handle.close()
        if not waited:
            logging.info("waiting for %d free GPU(s): other jobs hold the rest of this machine's %d", count, available)
            waited = True
        time.sleep(wait)
    try:
        yield sorted(held)
    finally:
        for handle in held.values():
            handle.close()


@contextlib.contextmanager
def job_gpus(device: str, count: int):
    """The GPUs this job holds for a model on `device` given `count` GPUs (the job's resources):
    None where no GPU is claimed (the CPU; an explicit cuda:N; a SLURM job, whose GPUs the
    scheduler chose)."""
    import torch

    if count == 0 or device == "cpu" or ":" in device or not torch.cuda.is_available():
        yield None
    elif "SLURM_JOB_ID" in os.environ:
        yield list(range(torch.cuda.device_count()))
    else:
        with claim(count, torch.cuda.device_count()) as indices:
            logging.info("running on GPU(s) %s", indices)
            yield indices
