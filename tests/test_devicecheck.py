"""`make gpu-check`'s check, run here on the CPU (the same code a GPU runs, so it cannot rot)."""

import pytest
import torch

from multihop.engine import devicecheck


def test_the_cpu_check_compares_every_path_and_passes(capsys):
    code = devicecheck.main(["--device", "cpu", "--families", "llama", "gemma2", "gemma3", "--no-benchmark"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no error, and no difference where identity is promised" in out
    rows = [line.split() for line in out.split("\n\n")[1].splitlines()[1:]]
    assert len(rows) == 10  # Gemma 2 has eager attention only: (2 + 1 + 2) x float32, bfloat16
    for row in rows:
        family, attention, dtype, devices, *rest = row
        assert rest[-1] == "ok" and rest[-2] == ("yes" if dtype == "float32" else "no")
        counts = [tuple(map(int, c.split("/"))) for c in rest if "/" in c]
        assert len(counts) == 4 and all(of > 0 for _, of in counts)
        if dtype == "float32":
            assert all(same == of for same, of in counts)


def test_a_difference_where_identity_is_promised_fails_the_check(monkeypatch, capsys):
    real = devicecheck.generate_variants

    def broken(*args, **kwargs):
        return [text + "!" for text in real(*args, **kwargs)]

    monkeypatch.setattr(devicecheck, "generate_variants", broken)
    assert devicecheck.main(["--device", "cpu", "--families", "llama", "--dtypes", "float32", "--no-benchmark"]) == 1
    assert "0/10" in capsys.readouterr().out


def test_an_error_is_reported_in_the_table_and_fails_the_check(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("Expected all tensors to be on the same device")

    monkeypatch.setattr(devicecheck, "generate_prompts", broken)
    assert devicecheck.main(["--device", "cpu", "--families", "gpt2", "--dtypes", "float32", "--no-benchmark"]) == 1
    assert "error: RuntimeError: Expected all tensors" in capsys.readouterr().out


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])  # untied, tied with buffers, tied GPT-2
def test_a_model_spread_by_accelerates_hooks_gives_the_references_outputs(family, monkeypatch):
    """Two devices as on two GPUs, here both the CPU: accelerate's hooks really wrap the blocks."""
    spread, models = devicecheck.spread, []

    def recorded(model, devices):
        models.append(spread(model, devices))
        return models[-1]

    monkeypatch.setattr(devicecheck, "spread", recorded)
    row = devicecheck.check_model(family, "eager", torch.float32, ("cpu", "cpu"))
    assert all(hasattr(block, "_hf_hook") for block in devicecheck.Adapter(models[0]).layers)
    assert not row.error and not row.failed and all(same == of for same, of in row.counts.values())


def test_without_cuda_the_gpu_check_says_how_to_run_on_the_cpu(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devicecheck.main([]) == 2
    assert "--device cpu" in capsys.readouterr().err
