import resource
import statistics
import sys

import pytest
import torch
from torch import nn

from multihop.errors import UserError
from multihop.models import tiny
from multihop.models.adapter import Adapter, output_tensor
from multihop.models.allocator import keep_freed_memory


def capture(adapter, ids):
    """Block inputs and outputs, and the attention and MLP vectors added, per layer."""
    seen = {"in": [], "out": [], "attn": [], "mlp": []}
    handles = []
    for layer, attn, mlp in zip(adapter.layers, adapter.attention_outputs, adapter.mlp_outputs, strict=True):
        handles.append(
            layer.register_forward_pre_hook(
                lambda m, args, kw: seen["in"].append(args[0] if args else kw["hidden_states"]), with_kwargs=True
            )
        )
        handles.append(layer.register_forward_hook(lambda m, a, out: seen["out"].append(output_tensor(out))))
        handles.append(attn.register_forward_hook(lambda m, a, out: seen["attn"].append(output_tensor(out))))
        handles.append(mlp.register_forward_hook(lambda m, a, out: seen["mlp"].append(output_tensor(out))))
    with torch.no_grad():
        logits = adapter.model(ids).logits
    for h in handles:
        h.remove()
    return seen, logits


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_sublayer_outputs_sum_to_the_residual_stream(family):
    model = tiny.model(family, vocab_size=300)
    adapter = Adapter(model)
    assert adapter.num_layers == 4
    ids = torch.randint(3, 300, (2, 7))
    seen, _ = capture(adapter, ids)
    for layer in range(adapter.num_layers):
        rebuilt = seen["in"][layer] + seen["attn"][layer] + seen["mlp"][layer]
        torch.testing.assert_close(rebuilt, seen["out"][layer], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_projecting_the_last_layer_reproduces_the_models_logits(family):
    model = tiny.model(family, vocab_size=300)
    adapter = Adapter(model)
    seen, logits = capture(adapter, torch.randint(3, 300, (2, 7)))
    projected = adapter.logits(seen["out"][-1])
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        projected = cap * torch.tanh(projected / cap)
    torch.testing.assert_close(projected, logits, atol=1e-4, rtol=1e-4)


def test_unsupported_architecture_is_a_plain_error():
    model = nn.Linear(2, 2)
    model.config = type("Config", (), {"model_type": "bert"})()
    with pytest.raises(UserError, match="'bert' is not supported"):
        Adapter(model)


def test_an_absent_device_is_a_plain_error():
    from multihop.models.loading import pick_device

    assert pick_device("cpu").type == "cpu"
    with pytest.raises(UserError, match="CUDA GPU"):
        pick_device(f"cuda:{torch.cuda.device_count()}")  # one past the last GPU, or any GPU on a CPU machine
    with pytest.raises(UserError, match="not a device name"):
        pick_device("gpu0")


@pytest.mark.parametrize("bf16", [True, False])
def test_a_dtype_the_gpu_cannot_run_is_a_plain_error(bf16, monkeypatch):
    """A GPU without bfloat16 (V100, T4; simulated here): auto takes float16, bfloat16 is refused."""
    from multihop.models.loading import pick_dtype

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)
    gpu = torch.device("cuda:0")
    assert pick_dtype("auto", gpu) == (torch.bfloat16 if bf16 else torch.float16)
    assert pick_dtype("float32", gpu) == torch.float32 and pick_dtype("auto", torch.device("cpu")) == torch.float32
    if bf16:
        assert pick_dtype("bfloat16", gpu) == torch.bfloat16
    else:
        with pytest.raises(
            UserError, match=r"the GPU \(cuda:0\) cannot run bfloat16; set the model's dtype to float16"
        ):
            pick_dtype("bfloat16", gpu)


def test_a_missing_model_directory_is_a_plain_error(tmp_path):
    from multihop.models.loading import load

    with pytest.raises(UserError, match=f"model directory {tmp_path}/absent does not exist"):
        load(str(tmp_path / "absent"), device="cpu")


def test_an_unknown_hub_id_offline_is_a_plain_error(monkeypatch):
    import huggingface_hub

    from multihop.models.loading import load

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="could not load the tokenizer of 'nobody/no-such-model'"):
        load("nobody/no-such-model", device="cpu")


def test_an_analysis_in_another_precision_than_its_evaluation_is_refused():
    """runtime.json records the evaluation's dtype; a job that loads the model otherwise (`dtype:
    auto` on a node without the evaluation's GPU) stops with a plain message."""
    from multihop.models.loading import check_runtime, runtime

    model = tiny.model("llama", vocab_size=300)
    recorded = runtime(model)
    assert recorded["dtype"] == "float32" and recorded["device"] == "cpu"
    assert check_runtime(model, recorded) == recorded
    with pytest.raises(UserError, match="loaded the model as bfloat16 on cpu, but its evaluation ran it as float32"):
        check_runtime(model.to(torch.bfloat16), recorded)


def test_the_weights_stamp_changes_with_the_local_files(tmp_path):
    """A shard's resume data (its fingerprint) holds the stamp: retrained weights in the same
    directory discard the cases finished with the old ones."""
    from multihop.models.loading import weights_stamp

    (tmp_path / "model.safetensors").write_bytes(b"old weights")
    before = weights_stamp(str(tmp_path), model=None)
    assert before == weights_stamp(str(tmp_path), model=None)
    (tmp_path / "model.safetensors").write_bytes(b"new, retrained weights")
    assert weights_stamp(str(tmp_path), model=None) != before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_on_a_cpu_freed_activations_are_reused_without_page_faults():
    """Activations as large as the evaluation's prompt forward makes (48 MB), through a few ops:
    glibc maps each one afresh and faults every 4 KB page (160,000 to 640,000 faults per pass on
    this project's machines), unless `keep_freed_memory` keeps freed buffers for reuse. Now and
    then a pass still faults one buffer's pages (12,288), hence the median."""

    def faults_of_a_pass():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        x = torch.ones(12 * 2**20)
        for _ in range(4):
            x = torch.nn.functional.gelu(x * 2) + 1
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    assert keep_freed_memory()
    faults_of_a_pass()  # the heap grows to hold them once
    assert statistics.median(faults_of_a_pass() for _ in range(5)) < 1000
