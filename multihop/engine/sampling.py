"""Sampling with one random generator per batch row, so a variant draws the same tokens alone or batched."""

import hashlib

import torch
from transformers import LogitsProcessor


class RowSampler(LogitsProcessor):
    """Sampling (temperature 1) with one random generator per row, as a logits processor for greedy
    decoding: each step it draws the row's token by inverse CDF and leaves only that token finite.

    A row's draws depend only on its own seed, so a variant samples the same tokens whether it runs
    alone or in a batch; one uniform number per row and step keeps it cheap for large vocabularies.
    """

    def __init__(self, seeds):
        self.seeds, self.generators = seeds, None

    def __call__(self, input_ids, scores):
        if self.generators is None:  # on the device of the logits, wherever the model's head sits
            self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        uniform = torch.cat([torch.rand(1, generator=g, device=scores.device) for g in self.generators])
        weights = (scores.float() - scores.max(dim=-1, keepdim=True).values).exp_()  # softmax, unnormalised
        cumulative = weights.cumsum_(dim=-1)
        target = uniform[:, None] * cumulative[:, -1:]
        chosen = torch.searchsorted(cumulative, target).clamp_(max=scores.shape[1] - 1)
        return scores.fill_(float("-inf")).scatter_(1, chosen, 0.0)


def variant_seed(seed: int, key: str) -> int:
    """A sampling seed for one variant, from the run's seed and a stable description of the variant."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{key}".encode()).digest()[:7], "big")
