"""The engine checks itself in every model job: a seeded sample of the job's own generations is
computed again through the reference path (transformers' `generate` over a full forward) and
compared with what the engine gave. The sampled generations of one engine call (an analysis's
variants of one prompt, or of several cases' prompts taken together) or of the evaluation's
prompts go through `generate` as one batch, in a shuffled order: a reference
generation costs about as much alone as in a batch of 16 (on a CPU, the vocabulary projection
reads its whole matrix for one row), so checking them one at a time would cost 8 times more.

Where the engine promises identity (float32 on a CPU: tested bit for bit) a difference stops the
job; elsewhere (bfloat16, GPUs) kernels may round differently, so the agreement is measured and
recorded, and the job warns below `engine.warn_below`. Each job writes its record (`record`) beside
its output; the report gathers them per model.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import transformers

from multihop.errors import UserError

HOW_TO_RERUN = (
    "rerun with `engine: {path: reference}` in the config (transformers' generate for every "
    "generation: slow, but the study's own way), and please report the difference"
)


class EngineMismatch(UserError):
    """The engine and the reference path gave different generations where they must not."""


def promised(model) -> bool:
    """Whether the engine promises the reference path's exact outputs: float32 on a CPU."""
    return model.device.type == "cpu" and model.dtype == torch.float32


@dataclass(frozen=True)
class Sample:
    """One generation to check: what it is, the engine's text, and what the reference takes to make
    it again (a variant and its seed, or a prompt)."""

    label: str
    engine: str
    item: object


@dataclass
class SelfCheck:
    """Collects a job's generations, samples `count` of them (seeded), recomputes and compares them."""

    count: int
    seed: int | str  # random.Random's seed: the job's own, so jobs sample differently
    model: object  # the loaded model: its device and dtype say whether identity is promised
    warn_below: float = 1.0
    offered: list = field(default_factory=list)
    result: dict | None = None

    @property
    def wanted(self) -> bool:
        """Whether generations are still collected (until checked)."""
        return self.count > 0 and self.result is None

    def offer(self, reference: Callable[[list], list[str]], samples) -> None:
        """Generations the job made; `reference(items)`: their texts from transformers' `generate`,
        the given items as one batch."""
        if self.wanted:
            self.offered.extend((reference, sample) for sample in samples)

    def ready(self) -> bool:
        return self.wanted and len(self.offered) >= self.count

    def check(self) -> dict:
        """Recompute a seeded sample of what was offered on the reference path and compare."""
        start = time.perf_counter()
        chosen = random.Random(self.seed).sample(self.offered, min(self.count, len(self.offered)))
        # one reference batch per `reference` offered (an engine call's; the evaluation's, one for
        # all its stages), its rows in the sample's order, not the engine's
        batches = {}
        for reference, sample in chosen:
            batches.setdefault(reference, []).append(sample)
        pairs = (  # lazily: a difference stops the job before the next batch runs
            pair
            for make, samples in batches.items()
            for pair in zip(samples, make([s.item for s in samples]), strict=True)
        )
        exact = promised(self.model)
        identical, first = 0, None
        for sample, reference in pairs:
            if reference == sample.engine:
                identical += 1
                continue
            if exact:
                raise EngineMismatch(
                    f"engine self-check: on {self.model.device} in float32 the engine must give transformers' "
                    f"generate's outputs, and {sample.label} differs (engine {sample.engine!r}, generate "
                    f"{reference!r}); {HOW_TO_RERUN}"
                )
            first = first or f"{sample.label}: engine {sample.engine!r}, reference {reference!r}"
        self.offered = []
        self.result = {
            "checked": len(chosen),
            "identical": identical,
            "promised": exact,
            "first_difference": first,
            "seconds": round(time.perf_counter() - start, 3),
        }
        share = identical / len(chosen) if chosen else 1.0
        logging.info("engine self-check: %d of %d sampled generations identical to generate", identical, len(chosen))
        if share < self.warn_below:
            logging.warning(
                "engine self-check: only %d of %d sampled generations equal generate's on %s in %s (first: %s)",
                identical,
                len(chosen),
                self.model.device,
                self.model.dtype,
                first,
            )
        return self.result

    def record(self, start: float, path: str = "fast") -> dict:
        """What the job checked, on what, for its record file (checks what is left first);
        `start`: when the job's sweep began (time.perf_counter), the check included."""
        if self.result is None:  # also with nothing to check (count 0): a record of none checked
            self.check()
        job_seconds = time.perf_counter() - start
        return {
            **self.result,
            "path": path,
            "job_seconds": round(job_seconds, 3),
            "device": str(self.model.device),
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }
