"""The whole workflow under Snakemake, on a tiny config in a temp dir (tiny excerpt, tiny random model)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import tiny
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir, *args):
    command = [SNAKEMAKE, "-s", ROOT / "Snakefile", "-d", workdir, "--configfile", ROOT / "config.yaml"]
    command += [workdir / "tiny.yaml", "--cores", "1", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    tokenizer = tiny.tokenizer()
    tiny.model("llama", vocab_size=len(tokenizer)).save_pretrained(workdir / "tiny-llama")
    tokenizer.save_pretrained(workdir / "tiny-llama")
    config = {
        "wikidata": {"dump": str(ROOT / "tests" / "data" / "tiny.nt")},
        "models": [{"name": "tiny-llama", "source": str(workdir / "tiny-llama"), "device": "cpu", "batch_size": 4}],
    }
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    return workdir


def test_workflow_runs_end_to_end_and_reruns_nothing(workdir):
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    results = workdir / "results"
    assert len(pd.read_csv(results / "dataset" / "two_hop.csv")) == 6
    evaluation = pd.read_csv(results / "tiny-llama" / "evaluation.csv")
    assert len(evaluation) == 6 and evaluation["first_hop_generation"].notna().all()
    funnel = pd.read_csv(results / "tiny-llama" / "funnel.csv")
    assert funnel["cases"].iloc[0] == 6 and funnel["cases"].is_monotonic_decreasing
    for split in ("correct", "incorrect"):  # a random model answers nothing: empty splits, still files
        assert (results / "tiny-llama" / "cases" / f"{split}.csv").is_file()
    assert (results / "logs" / "tiny-llama" / "evaluate.log").is_file()
    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_bad_input_stops_with_a_plain_message_and_no_output(workdir, tmp_path):
    broken = tmp_path / "broken.nt"
    lines = (ROOT / "tests" / "data" / "tiny.nt").read_text().splitlines()
    broken.write_text("\n".join(lines[:5] + ["<http://x> not a triple ."] + lines[5:]) + "\n")
    other = workdir / "other"
    other.mkdir()
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config["wikidata"]["dump"] = str(broken)
    (other / "tiny.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(other, "results/dataset/two_hop.csv")
    assert run.returncode != 0
    assert "broken.nt, line 6: malformed N-Triples line" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (other / "results" / "dataset" / "entities.csv").exists()


def test_misspelt_config_key_is_named(workdir, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({"evaluation": {"max_new_tokes": 3}}))
    run = snakemake(tmp_path, "--dry-run")
    assert run.returncode != 0 and "'max_new_tokes' was unexpected" in run.stdout + run.stderr
