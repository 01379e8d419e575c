"""Patchscopes sampling follows transformers: the model's generation config, its processors' order."""

import numpy as np
import pytest
import torch
from scipy import stats
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from multihop.engine.decoding import generate_variants, reference_generate
from multihop.engine.sampling import RowSampler, sampling_settings, variant_seed
from multihop.models import tiny
from multihop.models.adapter import Adapter

DRAWS = 4000


def tiny_model_saying(**generation):
    tokenizer = tiny.tokenizer()
    model = tiny.model("llama", vocab_size=len(tokenizer))
    for name, value in generation.items():
        setattr(model.generation_config, name, value)
    return model, tokenizer


def next_token_logits(model, tokenizer, sharpen=40.0):
    """The model's logits after a prompt, sharpened so that truncation matters (random weights are flat)."""
    ids = torch.tensor([tokenizer("the spouse of the performer of Imagine is")["input_ids"]])
    with torch.inference_mode():
        return model(ids).logits[0, -1] * sharpen


def kept_by_transformers(logits, temperature, top_k, top_p) -> set[int]:
    warpers = LogitsProcessorList(
        [TemperatureLogitsWarper(temperature), TopKLogitsWarper(top_k), TopPLogitsWarper(top_p)]
    )
    processed = warpers(None, logits[None].clone())[0]
    return set(torch.isfinite(processed).nonzero().flatten().tolist()), processed


def test_settings_come_from_the_generation_config_then_transformers_defaults():
    model, _ = tiny_model_saying(temperature=0.6, top_p=0.9)
    nothing = {"temperature": None, "top_k": None, "top_p": None}
    assert sampling_settings(model.generation_config, nothing) == {"temperature": 0.6, "top_k": 50, "top_p": 0.9}
    ours = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
    assert sampling_settings(model.generation_config, ours) == ours


def test_sampled_tokens_are_those_transformers_keeps_with_its_frequencies():
    model, tokenizer = tiny_model_saying(temperature=0.6, top_p=0.9)
    settings = sampling_settings(model.generation_config, {"temperature": None, "top_k": None, "top_p": None})
    logits = next_token_logits(model, tokenizer)
    kept, processed = kept_by_transformers(logits, **settings)
    assert 1 < len(kept) < 50  # top-p really cuts inside the top 50

    ours = RowSampler(list(range(DRAWS)), **settings)(None, logits.expand(DRAWS, -1).clone()).argmax(dim=-1)
    assert set(ours.tolist()) <= kept

    theirs = torch.multinomial(
        processed.softmax(-1), DRAWS, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    tokens = sorted(kept)
    counts = np.array([[int((draws == t).sum()) for t in tokens] for draws in (ours, theirs)])
    counts = counts[:, counts.sum(axis=0) > 0]
    assert stats.chi2_contingency(counts).pvalue > 1e-3  # the same distribution, within sampling error


def test_untruncated_sampling_at_temperature_one_draws_every_token_as_before():
    logits = torch.randn(300) * 2
    drawn = RowSampler(list(range(DRAWS)), 1.0, 0, 1.0)(None, logits.expand(DRAWS, -1).clone()).argmax(dim=-1)
    assert len(set(drawn.tolist())) > 50  # far outside any top 50


@pytest.mark.parametrize("top_k", [None, 3])  # 3: few enough for the screened head (exact top-k)
def test_sampled_variants_are_the_same_alone_or_batched_with_the_models_settings(top_k):
    model, tokenizer = tiny_model_saying(temperature=0.6, top_p=0.9, top_k=top_k)
    adapter = Adapter(model)
    ids = tokenizer("the capital of Japan is")["input_ids"]
    settings = sampling_settings(model.generation_config, {"temperature": None, "top_k": None, "top_p": None})
    variants, seeds = [()] * 6, [variant_seed(0, str(i)) for i in range(6)]
    batched = generate_variants(
        adapter, tokenizer, ids, variants, max_new_tokens=5, seeds=seeds, batch_size=4, sampling=settings
    )
    assert batched == reference_generate(
        adapter, tokenizer, ids, variants, max_new_tokens=5, seeds=seeds, sampling=settings
    )


def test_untruncated_draws_follow_the_softmax():
    logits = torch.randn(300) * 2
    drawn = RowSampler(list(range(DRAWS)), 1.0, 0, 1.0)(None, logits.expand(DRAWS, -1).clone()).argmax(dim=-1)
    theirs = torch.multinomial(logits.softmax(-1), DRAWS, replacement=True, generator=torch.Generator().manual_seed(0))
    counts = np.array([np.bincount(draws.numpy(), minlength=300) for draws in (drawn, theirs)])
    counts = counts[:, counts.sum(axis=0) > 0]
    assert stats.chi2_contingency(counts).pvalue > 1e-3  # the same distribution, within sampling error


def test_untruncated_draws_survive_logits_that_differ_in_their_last_bits():
    """Products of another batch shape change logits by about 1e-5 here and there; over 50,000 tokens
    an inverse CDF then draws another token for 10 rows in 1,000 (measured), the Gumbel-max almost never."""
    torch.manual_seed(0)
    rows, vocabulary = 1000, 50_000
    logits = torch.randn(vocabulary) * 3
    nudged = logits + 1e-5 * torch.randn(vocabulary)
    drawn = [
        RowSampler(list(range(rows)), 1.0, 0, 1.0)(None, x.expand(rows, -1).clone()).argmax(dim=-1)
        for x in (logits, nudged)
    ]
    assert int((drawn[0] != drawn[1]).sum()) <= 1
