import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from multihop.engine.decoding import _regrouped, generate_calls, generate_variants, reference_generate
from multihop.engine.edits import Knockout, Patch, edited
from multihop.engine.kvcache import regroup, reserved
from multihop.engine.sampling import variant_seed
from multihop.engine.states import read_states, read_sublayers
from multihop.models import tiny
from multihop.models.adapter import Adapter

PROMPT = "the spouse of the performer of Imagine is"
# Every tiny family, and Gemma 3 with a window longer than the prompt (see `setup`): the engine-vs-reference
# tests run on each, so a family added to `tiny.FAMILIES` gets them without a change here.
FAMILIES = [*tiny.FAMILIES, "gemma3-long"]


def with_attention(families):
    """(family, attn) for eager and sdpa attention: the whole cross product, a few tenths of a second
    each. sdpa is skipped, visibly, where transformers has none for the family (Gemma 2)."""
    cases = []
    for family in families:
        config = tiny.config(family.removesuffix("-long"), vocab_size=300)
        model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
        no_sdpa = pytest.mark.skip(reason=f"transformers has no sdpa attention for {model_class.__name__}")
        cases.append(pytest.param(family, "eager", id=f"{family}-eager"))
        marks = () if model_class._supports_sdpa else no_sdpa
        cases.append(pytest.param(family, "sdpa", marks=marks, id=f"{family}-sdpa"))
    return cases


def setup(family, attn="eager", layers=4):
    """A tiny model; 'gemma3-long' is Gemma 3 with a sliding window longer than the prompt."""
    tokenizer = tiny.tokenizer()
    overrides = {"sliding_window": 512} if family == "gemma3-long" else {}
    family = family.removesuffix("-long")
    model = tiny.model(family, vocab_size=len(tokenizer), layers=layers, attn_implementation=attn, **overrides)
    return Adapter(model), tokenizer, tokenizer(PROMPT)["input_ids"]


def clean(adapter, tokenizer, ids, n=6):
    return generate_variants(adapter, tokenizer, ids, [()], max_new_tokens=n)[0]


def last_logits(adapter, ids, variants):
    batch = torch.as_tensor(ids)[None].expand(len(variants), -1)
    with edited(adapter, variants), torch.inference_mode():
        return adapter.model(batch).logits[:, -1]


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_patching_another_prompts_states_carries_its_prediction(family):
    adapter, tokenizer, ids = setup(family)
    other = tokenizer("the capital of Japan is Tokyo. the author of Hamlet is")["input_ids"]
    other = other[len(other) - len(ids) :]  # same length, other tokens
    donor = read_states(adapter, other)
    last = len(ids) - 1
    for layer in (0, 2, adapter.num_layers - 1):
        variant = tuple(Patch(k, last, donor[k, last]) for k in range(layer, adapter.num_layers))
        torch.testing.assert_close(last_logits(adapter, ids, [variant])[0], last_logits(adapter, other, [()])[0])
    assert not torch.allclose(last_logits(adapter, ids, [()])[0], last_logits(adapter, other, [()])[0])


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_patching_a_layers_own_state_changes_nothing(family):
    adapter, tokenizer, ids = setup(family)
    states = read_states(adapter, ids)
    variants = [(Patch(t, p, states[t, p]),) for t in range(adapter.num_layers) for p in (2, len(ids) - 1)]
    expected = clean(adapter, tokenizer, ids)
    assert generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6) == [expected] * len(variants)


@pytest.mark.parametrize(("family", "attn"), with_attention(FAMILIES))
def test_engine_agrees_with_the_reference_path(family, attn):
    adapter, tokenizer, ids = setup(family, attn)
    states = read_states(adapter, ids)
    last = len(ids) - 1
    variants = [(Patch(t, last, states[s, last]),) for s in range(4) for t in range(s)]
    variants += [(Knockout(tuple(range(lo, lo + 2)), last, (3,)),) for lo in range(3)]
    variants += [(Patch(0, 3, states[3, 3]), Knockout((1, 2), last, (3, 4)))]
    assert generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, batch_size=5) == reference_generate(
        adapter, tokenizer, ids, variants, max_new_tokens=6
    )
    seeds = [variant_seed(0, str(i)) for i in range(len(variants))]
    sampled = generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds, batch_size=4)
    assert sampled == reference_generate(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds)
    other_seeds = [variant_seed(1, str(i)) for i in range(len(variants))]
    assert generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=other_seeds) != sampled


@pytest.mark.parametrize(("family", "attn"), [("llama", "eager"), ("gemma3-long", "sdpa"), ("gpt2", "sdpa")])
def test_prompts_of_one_length_batched_together_give_what_each_gives_alone(family, attn):
    """Knockout takes several cases at once: their variants share batches (and a prefix cache of
    what the prompts share), and each gives what generate gives for its prompt alone."""
    adapter, tokenizer, ids = setup(family, attn)
    others = [tokenizer(f"the spouse of the performer of {w} is")["input_ids"] for w in ("Valerie", "Vogue", "Dreams")]
    prompts = [ids] + [o for o in others if len(o) == len(ids)]
    assert len(prompts) == 4, [len(o) for o in others]
    last = len(ids) - 1
    calls = []
    for i, prompt in enumerate(prompts):
        # a repeat of the clean run; one call with fewer variants than the others
        variants = [()] + [(Knockout((lo, lo + 1), last, (2 + i,)),) for lo in range(3 - (i == 1))] + [()]
        seeds = [variant_seed(i, str(v)) for v in range(len(variants))]
        calls.append((prompt, variants, seeds))
    greedy = generate_calls(adapter, tokenizer, [(p, v, None) for p, v, _ in calls], max_new_tokens=6, batch_size=7)
    assert greedy == [reference_generate(adapter, tokenizer, p, v, max_new_tokens=6) for p, v, _ in calls]
    sampled = generate_calls(adapter, tokenizer, calls, max_new_tokens=6, batch_size=7)
    assert sampled == [reference_generate(adapter, tokenizer, p, v, max_new_tokens=6, seeds=s) for p, v, s in calls]
    with pytest.raises(ValueError, match="one token length"):
        generate_calls(adapter, tokenizer, [(ids, [()], None), (ids[:-1], [()], None)], max_new_tokens=6)
    # a generation config the engine's loop does not follow: generate runs, each row on its prompt's prefix
    adapter.model.generation_config.repetition_penalty = 1.5
    greedy = generate_calls(adapter, tokenizer, [(p, v, None) for p, v, _ in calls], max_new_tokens=6, batch_size=7)
    assert greedy == [reference_generate(adapter, tokenizer, p, v, max_new_tokens=6) for p, v, _ in calls]


@pytest.mark.parametrize("family", FAMILIES)
def test_equal_variants_share_batch_rows_until_their_draws_part(family):
    """Patchscopes asks each variant under several seeds: equal variants run as one batch row
    until their sampled tokens differ, and give what each gives alone on the reference path."""
    adapter, tokenizer, ids = setup(family)
    states = read_states(adapter, ids)
    last = len(ids) - 1
    variants = [(Patch(t, last, states[3, last].clone()),) for t in (0, 1) for _ in range(3)]
    seeds = [variant_seed(0, str(i)) for i in range(len(variants))]
    rows = []

    def count(module, args, kwargs):
        if "position_ids" in kwargs:  # a decoding step (the shared prefix's forward has none)
            rows.append((args[0] if args else kwargs["input_ids"]).shape[0])  # GPT-2's passes it by position

    hook = adapter.model.get_decoder().register_forward_pre_hook(count, with_kwargs=True)
    try:
        sampled = generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds)
        assert rows[0] == 2 and 2 < max(rows) <= 6  # two distinct variants, parting up to a row per output
        assert sampled == reference_generate(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds)
        rows.clear()
        same_seed = generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=[seeds[0]] * 6)
        assert rows == [2] * len(rows)  # equal variant, equal seed: equal draws, never parting
        assert same_seed == [same_seed[0]] * 3 + [same_seed[3]] * 3
    finally:
        hook.remove()


def test_regrouping_keeps_rows_in_place_and_copies_only_new_parts():
    row, token = torch.tensor([0, 0, 1, 2, 2]), torch.tensor([5, 6, 7, 8, 8])
    finished = torch.tensor([False, False, True, False, False])
    source, tokens, new_row = _regrouped(row, token, finished)
    # row 1 finished and left; row 0 parted: its second part fills the free place 1
    assert (source, tokens, new_row.tolist()) == ([0, 0, 2], [5, 6, 8], [0, 1, 0, 2, 2])


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_a_regrouped_cache_continues_as_one_built_for_its_rows(family):
    adapter, tokenizer, ids = setup(family)
    model = adapter.model
    batch = torch.tensor([ids, ids[::-1], ids])
    with torch.inference_mode():
        for cache in (reserved(model, 3, len(ids) + 2, room=4), None):
            out = model.get_decoder()(batch, cache=cache, use_cache=True)
            rows = torch.tensor([1, 0, 1, 1]) if cache is not None else torch.tensor([1, 0, 1])
            regroup(out.cache, rows)
            step = torch.tensor([[5]] * len(rows))
            after = model.get_decoder()(step, cache=out.cache, use_cache=True).last_hidden_state
            # built afresh for the same rows: as many rows, since the CPU's fp32 products may
            # differ in their last bits between row counts (3 and 4 do on some CPUs)
            fresh = model.get_decoder()(batch[rows], use_cache=True).cache
            expected = model.get_decoder()(step, cache=fresh, use_cache=True).last_hidden_state
            assert torch.equal(after, expected)


def test_a_generation_config_that_changes_the_logits_is_honoured():
    """A repetition penalty in the model's generation config: the engine leaves it to `generate`."""
    adapter, tokenizer, ids = setup("llama")
    plain = generate_variants(adapter, tokenizer, ids, [()], max_new_tokens=8)
    adapter.model.generation_config.repetition_penalty = 50.0
    penalized = generate_variants(adapter, tokenizer, ids, [()], max_new_tokens=8)
    assert penalized == reference_generate(adapter, tokenizer, ids, [()], max_new_tokens=8) and penalized != plain


@pytest.mark.parametrize("family", FAMILIES)
def test_the_reserved_cache_gives_the_growing_caches_outputs(family):
    """Room reserved up front, or (past a sliding window: tiny Gemma 2's and Gemma 3's are 4) refused."""
    adapter, tokenizer, ids = setup(family)
    model = adapter.model
    cache = reserved(model, 3, len(ids) + 6)
    assert (cache is None) == (family in ("gemma2", "gemma3"))
    batch = torch.tensor([ids] * 3)
    with torch.inference_mode():
        grown = model.get_decoder()(batch, use_cache=True)
        if cache is not None:
            kept = model.get_decoder()(batch, cache=cache, use_cache=True)
            assert torch.equal(kept.last_hidden_state, grown.last_hidden_state)
            step = torch.tensor([[5]] * 3)
            after = model.get_decoder()(step, cache=cache, use_cache=True).last_hidden_state
            assert torch.equal(after, model.get_decoder()(step, cache=grown.cache, use_cache=True).last_hidden_state)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_a_knockout_over_no_layers_is_the_clean_run(attn):
    adapter, tokenizer, ids = setup("llama", attn)
    out = generate_variants(adapter, tokenizer, ids, [(Knockout((), len(ids) - 1, (2,)),)], max_new_tokens=6)
    assert out == [clean(adapter, tokenizer, ids)]


@pytest.mark.parametrize("family", ["llama", "gemma3", "qwen3", "gpt2"])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_blocking_every_edge_into_a_position_makes_it_unreachable(family, attn):
    adapter, tokenizer, ids = setup(family, attn)
    k = len(ids) - 3  # inside the tiny Gemma's sliding window of 4
    changed = list(ids)
    changed[k] = (ids[k] + 7) % len(tokenizer)
    everywhere = tuple(range(adapter.num_layers))
    variant = tuple(Knockout(everywhere, q, (k,)) for q in range(k + 1, len(ids)))
    blocked = [last_logits(adapter, x, [variant])[0] for x in (ids, changed)]
    torch.testing.assert_close(blocked[0], blocked[1])
    open_ = [last_logits(adapter, x, [()])[0] for x in (ids, changed)]
    assert not torch.allclose(open_[0], open_[1])


def test_states_and_sublayers_read_the_residual_stream():
    adapter, tokenizer, ids = setup("gemma3")
    states = read_states(adapter, ids)
    attention, mlp = read_sublayers(adapter, ids)
    assert states.shape == attention.shape == mlp.shape == (4, len(ids), 64)
    torch.testing.assert_close(states[1], states[0] + attention[1] + mlp[1], atol=1e-5, rtol=1e-5)


def test_the_engine_works_on_a_model_placed_by_accelerate(tmp_path):
    """Layers 1 and 3 offloaded to disk (accelerate moves their weights in at each forward, as it
    does between GPUs): states, sublayers and edited generations match the plain model's."""
    adapter, tokenizer, ids = setup("llama")
    adapter.model.save_pretrained(tmp_path / "model")
    where = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.norm": "cpu", "lm_head": "cpu"}
    where |= {f"model.layers.{i}": "disk" if i % 2 else "cpu" for i in range(adapter.num_layers)}
    placed = AutoModelForCausalLM.from_pretrained(
        tmp_path / "model", device_map=where, offload_folder=tmp_path / "offload", attn_implementation="eager"
    )
    assert hasattr(placed.model.layers[1], "_hf_hook")  # accelerate really wraps the offloaded blocks
    other = Adapter(placed.eval())
    torch.testing.assert_close(read_states(other, ids), read_states(adapter, ids))
    for mine, theirs in zip(read_sublayers(other, ids), read_sublayers(adapter, ids), strict=True):
        torch.testing.assert_close(mine, theirs)
    states = read_states(adapter, ids)
    last = len(ids) - 1
    variants = [(), (Patch(0, last, states[3, last]),), (Knockout((1, 2), last, (2, 3)),)]
    seeds = [variant_seed(0, str(i)) for i in range(len(variants))]
    expected = generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds)
    assert generate_variants(other, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds) == expected


def test_out_of_memory_halves_the_batch_and_changes_no_output(caplog):
    """A model that runs out of memory on more than three rows at once: the variants and the
    prompts still all get their continuations, the same as with room to spare, and the log says
    the batch halved."""
    from multihop.engine.decoding import generate_prompts

    adapter, tokenizer, ids = setup("llama")
    states = read_states(adapter, ids)
    last = len(ids) - 1
    variants = [(Patch(t, last, states[s, last]),) for s in range(4) for t in range(s)]
    seeds = [variant_seed(0, str(i)) for i in range(len(variants))]
    prompts = [PROMPT, "the capital of France is", "the author of Hamlet is", "x", "the spouse of"] * 2
    expected = (
        generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds, batch_size=8),
        generate_prompts(adapter, tokenizer, prompts, max_new_tokens=6, batch_size=8),
    )

    def small_memory(module, args):
        if args[0].shape[0] > 3:  # rows of token ids going into the embedding
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    hook = adapter.model.get_input_embeddings().register_forward_pre_hook(small_memory)
    try:
        with caplog.at_level("WARNING"):
            halved = (
                generate_variants(adapter, tokenizer, ids, variants, max_new_tokens=6, seeds=seeds, batch_size=8),
                generate_prompts(adapter, tokenizer, prompts, max_new_tokens=6, batch_size=8),
            )
    finally:
        hook.remove()
    assert halved == expected and len(expected[0]) == 6 and len(expected[1]) == 10
    assert "out of memory with 8 rows per batch; going on with 4" in caplog.text
    assert "out of memory with 4 rows per batch; going on with 2" in caplog.text


def test_out_of_memory_with_one_row_per_batch_is_a_plain_error():
    from multihop.engine.backoff import in_batches
    from multihop.errors import UserError

    def never_fits(rows):
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1 GB")

    with pytest.raises(UserError, match="out of memory with one row per batch"):
        list(in_batches(list(range(5)), 4, never_fits))
    with pytest.raises(RuntimeError, match="shape mismatch"):  # any other error is left alone
        list(in_batches([1], 4, lambda rows: (_ for _ in ()).throw(RuntimeError("shape mismatch"))))
