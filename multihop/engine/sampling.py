"""Sampling with one random generator per batch row, so a variant draws the same tokens alone or
batched, with temperature, top-k and top-p applied as transformers applies them."""

import hashlib

import torch
from transformers import LogitsProcessor

# what transformers' generate(do_sample=True) uses where the model's generation config is silent
TRANSFORMERS_DEFAULTS = {"temperature": 1.0, "top_k": 50, "top_p": 1.0}


def sampling_settings(generation_config, chosen: dict) -> dict:
    """Temperature, top_k and top_p: each one `chosen` (not None), else the model's generation
    config's, else transformers' default; as `generate(do_sample=True)` with nothing set would."""
    settings = {}
    for name, default in TRANSFORMERS_DEFAULTS.items():
        value = chosen.get(name)
        if value is None:
            value = getattr(generation_config, name, None)
        settings[name] = default if value is None else value
    return settings


class RowSampler(LogitsProcessor):
    """Sampling with one generator per row. The engine calls `pick` on the exact top-k candidates;
    as a logits processor of transformers' greedy `generate` (the reference path) it leaves only
    the drawn token finite.

    The tokens that can be drawn are those transformers keeps: scores divided by `temperature`,
    then the `top_k` best (0: all), then the fewest best whose probabilities reach `top_p`. A
    row's draws depend only on its own seed. With top-k, one uniform number per row and step picks
    by inverse CDF over the k best. Without (top_k 0), every token of the vocabulary is a candidate,
    and an inverse CDF over some 10^5 tokens of tiny probability picks another token whenever the
    logits differ in their last bits (as a CPU's products do between batch shapes: measured on
    Gemma 3, 2-4 of 32 variants against the reference, 113 of 1,944 between two batch sizes);
    so there the draw is the Gumbel-max (the best logit plus -log(-log(u)), one u per token), as
    exact a sampler, which a last bit changes only at a near-tie of the two best.
    """

    def __init__(self, seeds, temperature=1.0, top_k=0, top_p=1.0):
        self.seeds, self.generators = seeds, None
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.every_token = top_k == 0  # every token a candidate: drawn by Gumbel-max, one u per token

    def uniforms(self, device, vocabulary: int) -> torch.Tensor:
        """This step's uniform numbers (generators made on the logits' device): one per row, or
        without top-k one per row and token of the `vocabulary`, (rows, vocabulary)."""
        if self.generators is None:  # wherever the model's head sits
            self.generators = [torch.Generator(device=device).manual_seed(s) for s in self.seeds]
        if self.every_token:
            return torch.stack([torch.rand(vocabulary, generator=g, device=device) for g in self.generators])
        return torch.cat([torch.rand(1, generator=g, device=device) for g in self.generators])

    def pick(self, logits, tokens, uniform) -> torch.Tensor:
        """Each row's drawn token, (rows, 1), from `logits` of the columns' `tokens` (None: the
        whole vocabulary in order) and this step's `uniforms`. With top-k, the columns need only
        hold each row's k best; without, every token of the vocabulary in order."""
        logits = logits.float()
        if self.temperature != 1.0:
            logits = logits / self.temperature
        if self.every_token and self.top_p >= 1.0:  # every token, in vocabulary order
            chosen = _gumbel_max(logits, uniform)
        else:
            k = logits.shape[1] if self.every_token else min(self.top_k, logits.shape[1])
            values, indices = logits.topk(k, dim=-1)  # best first
            if self.top_p < 1.0:
                probs = values.softmax(dim=-1)
                # transformers drops the tokens whose cumulative probability, counted from the
                # least likely up, stays within 1 - top_p; the most likely one always stays
                tail = probs.flip(-1).cumsum(-1).flip(-1)
                dropped = tail <= 1 - self.top_p
                dropped[:, 0] = False
                values = values.masked_fill(dropped, float("-inf"))
            if self.every_token:  # the noise follows the tokens to their sorted places
                chosen = indices.gather(1, _gumbel_max(values, uniform.gather(1, indices)))
            else:
                chosen = indices.gather(1, _draw(values, uniform))
        return chosen if tokens is None else tokens.gather(1, chosen)

    def __call__(self, input_ids, scores):
        chosen = self.pick(scores, None, self.uniforms(scores.device, scores.shape[1]))
        return scores.fill_(float("-inf")).scatter_(1, chosen, 0.0)


def _draw(logits, uniform):
    """Column of each row's draw: the first whose cumulative softmax weight passes `uniform`."""
    weights = (logits - logits.max(dim=-1, keepdim=True).values).exp_()  # softmax, unnormalised
    cumulative = weights.cumsum_(dim=-1)
    target = uniform[:, None] * cumulative[:, -1:]
    return torch.searchsorted(cumulative, target).clamp_(max=logits.shape[1] - 1)


def _gumbel_max(logits, uniform):
    """Column of each row's draw: the largest logit plus Gumbel noise, -log(-log(u)), from its own
    uniform numbers (`uniform`, one per column); a token kept out (-inf) is never drawn."""
    noise = uniform.clamp(min=torch.finfo(uniform.dtype).tiny).log_().neg_().log_().neg_()
    return (logits + noise).argmax(dim=-1, keepdim=True)


def variant_seed(seed: int, key: str) -> int:
    """A sampling seed for one variant, from the run's seed and a stable description of the variant."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{key}".encode()).digest()[:7], "big")
