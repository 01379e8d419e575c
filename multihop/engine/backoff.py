"""Batches that shrink when memory runs out: the batch halves and the run goes on.

Outputs do not depend on the batch size in fp32 (the tests hold batched runs to one-at-a-time
runs), so a smaller batch changes the time, not the results.
"""

import logging

import torch

from multihop.errors import UserError


def out_of_memory(error: BaseException) -> bool:
    """A GPU's out-of-memory error, or the CPU allocator's refusal."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and ("not enough memory" in message or "can't allocate memory" in message)


def in_batches(items, batch_size: int, run):
    """Yield (chunk, run(chunk)) for consecutive chunks of `items` of `batch_size` each. A chunk
    that runs out of memory is run again at half the size, and the smaller size holds from then
    on (a log line says so); out of memory with one item per batch is an error."""
    start = 0
    while start < len(items):
        chunk = items[start : start + batch_size]
        try:
            result = run(chunk)
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not out_of_memory(error):
                raise
            if batch_size == 1:
                raise UserError(
                    "out of memory with one row per batch: use a smaller model, another device or dtype"
                ) from None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            logging.warning("out of memory with %d rows per batch; going on with %d", batch_size, batch_size // 2)
            batch_size //= 2
            continue
        yield chunk, result
        start += len(chunk)
