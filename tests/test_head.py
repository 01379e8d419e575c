"""The exact screened head: the same winners and fp32 logits as the full projection."""

import pytest
import torch

from multihop.engine import head as head_module
from multihop.engine.head import BLOCK, ExactHead
from multihop.models import tiny

MEASURED_SCREEN_DTYPE = head_module.screen_dtype  # the fixture below replaces it in every test


@pytest.fixture(params=["bf16", "fp32"], autouse=True)
def screen_dtype(request, monkeypatch):
    """Each test under both screens: bf16 (a CPU that multiplies bf16 faster) and fp32."""
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[request.param]
    monkeypatch.setattr(head_module, "screen_dtype", lambda hidden: dtype)
    return dtype


def head_and_states(vocab=4096, hidden_size=64, seed=0, **overrides):
    """A head whose weights have exact ties (duplicated rows) and rows of very different sizes,
    and hidden states with outlier dimensions, tiny ones (flat logits) and large ones."""
    model = tiny.model("llama", vocab_size=vocab, seed=seed, hidden_size=hidden_size, **overrides)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight = model.get_output_embeddings().weight
        weight.copy_(torch.randn(weight.shape, generator=generator) * torch.rand(vocab, 1, generator=generator))
        weight[7] = 20 * weight[7] / weight[7].norm()  # longer than any other row
        weight[vocab // 2 : vocab // 2 + 40] = weight[7]  # forty tokens tied with token 7
    states = torch.randn(96, hidden_size, generator=generator)
    states[:16, :3] *= 40  # outlier dimensions
    states[16:32] *= 1e-3  # nearly flat logits: many candidates
    states[32:48] *= 30  # large logits
    states[48:56] = weight[7].detach() + 0.01 * states[48:56]  # token 7 and its forty twins win together
    return ExactHead(model), states


def test_the_screen_is_within_its_bound(screen_dtype):
    head, states = head_and_states()
    assert head.screened and head.low.dtype == screen_dtype
    screen, block_max = head.screen(states)
    assert torch.equal(block_max, screen.unflatten(0, (-1, BLOCK)).amax(dim=1))
    screen = screen.float()[: head.weight.shape[0]].T  # token-major, padded
    exact = states @ head.weight.T
    bound = head.margin(states)[:, None] + head.output_rounding * screen.abs()
    assert ((screen - exact).abs() <= bound).all()
    if screen_dtype == torch.bfloat16:
        assert ((screen - exact).abs() > 0).any()  # the screen is not exact: the bound does work


def test_greedy_tokens_are_the_full_projections_ties_to_the_lowest_id():
    head, states = head_and_states()
    full = head.logits(states)
    assert torch.equal(head.argmax(states), full.argmax(dim=-1))
    assert (head.argmax(states[48:56]) == 7).all()


@pytest.mark.parametrize("k", [1, 8, 50])
def test_candidates_hold_the_k_best_with_their_exact_logits(k):
    head, states = head_and_states(vocab=4096 + 17)  # not a whole number of blocks
    full = head.logits(states)
    values, tokens = head.candidates(states, k)
    best = values.topk(k, dim=-1).values
    assert torch.equal(best, full.topk(k, dim=-1).values)  # bit for bit
    found = values > float("-inf")
    assert torch.equal(values[found], full.gather(1, tokens)[found])
    assert (tokens[:, 1:] > tokens[:, :-1])[found[:, 1:]].all()  # ascending within a row
    assert found.sum(dim=-1).float().median() < 4096 / 4  # the screen does rule most tokens out


@pytest.mark.parametrize("k, dense", [(1, 4), (50, 56)])
def test_rows_screened_in_chunks_and_rows_computed_in_full_give_the_same_candidates(k, dense, monkeypatch):
    """Rows in several screen products (SCREEN_ROWS), each in several parts (SCREEN_TOKENS) and
    padded to the kernel's row multiple, and rows with many candidate blocks (DENSE) computed in
    full, hold the same k best with the same logits as the full projection. A zero state (every
    logit tied at 0) opens every block under either screen."""
    head, states = head_and_states(vocab=4096 + 17)
    zero = torch.zeros(1, states.shape[1])
    states = torch.cat([zero, states, zero])  # one in each chunk
    full = head.logits(states)
    monkeypatch.setattr(head_module, "SCREEN_ROWS", 50)  # 98 rows: two chunks of 49 (bf16: padded to 64)
    monkeypatch.setattr(head_module, "SCREEN_TOKENS", 1024)  # 4160 tokens with the pad: five parts
    monkeypatch.setattr(head_module, "DENSE", dense)
    computed_in_full = []
    with_dense = head._with_dense
    monkeypatch.setattr(
        head, "_with_dense", lambda v, t, h, d, k: computed_in_full.append(int(d.sum())) or with_dense(v, t, h, d, k)
    )
    values, tokens = head.candidates(states, k)
    assert torch.equal(values.topk(k, dim=-1).values, full.topk(k, dim=-1).values)
    found = values > float("-inf")
    assert torch.equal(values[found], full.gather(1, tokens)[found])
    assert len(computed_in_full) == 1 and 0 < computed_in_full[0] < len(states)  # once, for some rows of all chunks


@pytest.mark.parametrize("overrides", [{"vocab": 3 * BLOCK}, {"final_logit_softcapping": 5.0}])
def test_without_enough_blocks_or_with_soft_capping_every_logit_is_computed(overrides):
    """Capping rounds distant logits to the same value (5.0 here): ties that no screen could see."""
    head, states = head_and_states(**overrides)
    assert not head.screened
    values, tokens = head.candidates(states, 5)
    assert torch.equal(values, head.logits(states)) and tokens.shape == values.shape
    assert torch.equal(head.argmax(states), head.logits(states).argmax(dim=-1))


def test_the_screen_takes_bf16_only_where_the_cpu_multiplies_it_faster(monkeypatch):
    screen_dtype = MEASURED_SCREEN_DTYPE
    monkeypatch.setattr(head_module, "_SCREEN_DTYPES", {})
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert screen_dtype(64) == torch.float32 and head_module._SCREEN_DTYPES == {}  # no bf16: not even measured
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    for faster in (torch.float32, torch.bfloat16):  # measured: each may win on some machine
        monkeypatch.setattr(head_module, "_SCREEN_DTYPES", {})
        monkeypatch.setattr(head_module, "_best_time", lambda a, b, faster=faster: 1.0 if a.dtype == faster else 2.0)
        assert screen_dtype(64) == faster
    # AMX listed but barred from the matrix library (ONEDNN_MAX_CPU_ISA): measured too, not assumed
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    for faster in (torch.float32, torch.bfloat16):
        monkeypatch.setattr(head_module, "_SCREEN_DTYPES", {})
        monkeypatch.setattr(head_module, "_best_time", lambda a, b, faster=faster: 1.0 if a.dtype == faster else 2.0)
        assert screen_dtype(128) == faster
