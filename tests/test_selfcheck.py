"""The engine's self-check: each model job recomputes a sample of its own generations through
transformers' generate; in float32 on a CPU a difference stops the job with a plain message."""

import re
import time

import pytest
import torch

from multihop.analyses import runner
from multihop.analyses.cases import load_cases, locate_all
from multihop.analyses.finished import FinishedCases
from multihop.api import analysis_settings
from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.engine import decoding
from multihop.engine.decoding import generate_prompts
from multihop.engine.selfcheck import EngineMismatch, Sample, SelfCheck
from multihop.models import tiny
from multihop.models.adapter import Adapter
from multihop.report.checks import check_line, check_table

SETTINGS = analysis_settings(max_new_tokens=4, patchscopes_seeds=[0, 1], knockout_window=1)
PREFIX = "the capital of Japan is Tokyo. "


@pytest.fixture
def setup(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    dataset = build_chains(entities, facts, config["relations"])
    tokenizer = tiny.tokenizer()
    adapter = Adapter(tiny.model("gemma3", vocab_size=len(tokenizer)))
    cases = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)
    return adapter, tokenizer, cases[:2]


@pytest.mark.parametrize("analysis", ["patchscopes", "knockout", "backpatching"])
def test_each_analysis_job_checks_sixteen_of_its_generations_and_finds_them_identical(setup, analysis):
    adapter, tokenizer, cases = setup
    check = SelfCheck(16, "0|test", adapter.model)
    runner.run(analysis, adapter, tokenizer, cases, SETTINGS, batch_size=64, self_check=check)
    record = check.record(time.perf_counter())
    assert record["checked"] == 16 and record["identical"] == 16 and record["promised"]
    assert record["device"] == "cpu" and record["dtype"] == "float32" and record["seconds"] > 0


def test_a_broken_engine_stops_the_job_naming_the_generation_and_the_way_out(setup, monkeypatch, tmp_path):
    adapter, tokenizer, cases = setup
    real = decoding.generate_calls

    def broken(*args, **kwargs):  # the engine gets one generation in eight wrong
        calls = real(*args, **kwargs)
        return [[text + " (wrong)" if i % 8 == 3 else text for i, text in enumerate(texts)] for texts in calls]

    monkeypatch.setattr(decoding, "generate_calls", broken)
    check = SelfCheck(16, "0|test", adapter.model)
    finished = FinishedCases(tmp_path / "shard.unfinished", "digest")
    with pytest.raises(EngineMismatch, match=r"case .*differs.*\(wrong\).*engine: \{path: reference\}"):
        runner.run("knockout", adapter, tokenizer, cases, SETTINGS, batch_size=64, self_check=check, finished=finished)
    # the cases it had stored are gone: a rerun computes them again rather than resuming from them
    assert not (tmp_path / "shard.unfinished").exists()
    # on the reference path the same job gives the engine's table, with nothing to check
    monkeypatch.setattr(decoding, "generate_calls", real)
    fast = runner.run("knockout", adapter, tokenizer, cases, SETTINGS, batch_size=64)
    reference = runner.run("knockout", adapter, tokenizer, cases, SETTINGS, batch_size=64, path="reference")
    assert fast.equals(reference)


def test_where_identity_is_not_promised_a_difference_is_recorded_not_fatal(setup, caplog):
    adapter, tokenizer, cases = setup
    samples = [Sample(f"prompt {i}", "same" if i % 4 else "other", i) for i in range(16)]
    check = SelfCheck(16, "0|test", adapter.model.to(dtype=torch.bfloat16), warn_below=0.9)
    check.offer(lambda items: ["same"] * len(items), samples)
    record = check.record(time.perf_counter())
    assert (record["checked"], record["identical"], record["promised"]) == (16, 12, False)
    assert re.match(r"prompt (0|4|8|12): engine 'other', reference 'same'", record["first_difference"])
    assert "only 12 of 16" in caplog.text


def test_the_evaluation_checks_its_prompts_as_one_padded_batch_through_generate(setup, monkeypatch):
    adapter, tokenizer, _ = setup
    prompts = [PREFIX + f"the capital of country {i} is" for i in range(20)]
    texts = generate_prompts(adapter, tokenizer, prompts, max_new_tokens=4, batch_size=8)
    batches = []

    def reference(chosen):
        batches.append(chosen)
        return generate_prompts(
            adapter, tokenizer, chosen, max_new_tokens=4, batch_size=len(chosen), share_prefix=False
        )

    check = SelfCheck(16, "evaluate", adapter.model)
    check.offer(reference, (Sample(p, t, p) for p, t in zip(prompts, texts, strict=True)))
    assert check.record(time.perf_counter())["identical"] == 16
    assert len(batches) == 1 and len(set(batches[0])) == 16
    # and a wrong text among those sampled stops it
    check = SelfCheck(16, "evaluate", adapter.model)
    check.offer(reference, (Sample(p, t + "!", p) for p, t in zip(prompts, texts, strict=True)))
    with pytest.raises(EngineMismatch, match="differs"):
        check.check()


def test_the_sample_of_cases_taken_together_runs_as_one_batch_in_another_order_than_the_engines(
    setup, tiny_dump, config, monkeypatch
):
    adapter, tokenizer, _ = setup
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    dataset = build_chains(entities, facts, config["relations"])
    cases = load_cases(tokenizer, dataset.merge(locate_all(tokenizer, dataset, PREFIX), on="id"), PREFIX)
    length = max({len(c.ids) for c in cases}, key=[len(c.ids) for c in cases].count)
    cases = [c for c in cases if len(c.ids) == length]  # knockout takes them together
    assert len(cases) >= 2
    engine_rows, reference_batches = [], []
    real_engine, real_reference = decoding.generate_calls, decoding.reference_rows

    def engine(adapter, tokenizer, calls, **settings):
        engine_rows.extend((tuple(ids), v) for ids, variants, _ in calls for v in variants)
        return real_engine(adapter, tokenizer, calls, **settings)

    def reference(adapter, tokenizer, prompts, variants, **settings):
        reference_batches.append([(tuple(ids), v) for ids, v in zip(prompts, variants, strict=True)])
        return real_reference(adapter, tokenizer, prompts, variants, **settings)

    monkeypatch.setattr(decoding, "generate_calls", engine)
    monkeypatch.setattr(decoding, "reference_rows", reference)
    check = SelfCheck(8, "0|test", adapter.model)
    runner.run("knockout", adapter, tokenizer, cases, SETTINGS, batch_size=512, self_check=check)
    assert check.record(time.perf_counter())["identical"] == 8
    [batch] = reference_batches  # one call of the engine for these cases: one reference batch
    places = [engine_rows.index(row) for row in batch]
    assert len(engine_rows) > 8 and len(set(places)) == 8 and places != sorted(places)
    assert len({ids for ids, _ in batch}) > 1  # rows of several cases' prompts


def test_the_report_line_sums_the_jobs_and_leaves_out_those_without_cases():
    record = {"checked": 16, "identical": 16, "promised": True, "device": "cpu", "dtype": "float32"}
    records = {"evaluate": record | {"seconds": 1.0, "job_seconds": 50.0}, "correct/knockout_1-of-1": record}
    records["correct/controls_1-of-1"] = {"checked": 0, "identical": 0, "reason": "no cases in this shard"}
    table = check_table(records)
    assert list(table["job"]) == ["evaluate", "correct/knockout_1-of-1"]
    assert table.loc[0, "share_of_job"] == pytest.approx(0.02)
    assert check_line("m", table) == (
        "m: the engine agreed with transformers' generate on 32 of 32 sampled generations, in 2 jobs, on cpu (float32)"
    )
