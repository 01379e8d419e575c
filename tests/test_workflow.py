"""The whole workflow under Snakemake, on a tiny config in a temp dir (tiny excerpt, tiny random model)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import tiny
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir, *args, cores=2):
    command = [SNAKEMAKE, "-s", ROOT / "Snakefile", "-d", workdir, "--configfile", ROOT / "config.yaml"]
    command += [workdir / "tiny.yaml", "--cores", str(cores), *args]
    command += ["--set-threads", "evaluate=1", "analysis_shard=1"]  # tiny models: two jobs at once
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
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_workflow_runs_end_to_end_and_reruns_nothing(workdir):
    results = workdir / "results"
    assert len(pd.read_csv(results / "dataset" / "two_hop.csv")) == 6
    evaluation = pd.read_csv(results / "tiny-llama" / "evaluation.csv")
    assert len(evaluation) == 6 and evaluation["first_hop_generation"].notna().all()
    funnel = pd.read_csv(results / "tiny-llama" / "funnel.csv")
    assert funnel["cases"].iloc[0] == 6 and funnel["cases"].is_monotonic_decreasing
    for split in ("correct", "incorrect"):  # a random model answers nothing: empty splits, still files
        assert (results / "tiny-llama" / "cases" / f"{split}.csv").is_file()
    assert (results / "logs" / "tiny-llama" / "evaluate.log").is_file()
    layers = pd.read_csv(results / "tiny-llama" / "incorrect" / "layers.csv")
    assert layers.empty and "fixable_t2" in layers.columns  # an empty split flows through every step
    assert pd.read_parquet(results / "tiny-llama" / "incorrect" / "patchscopes_t2_s2.parquet").empty
    assert (results / "tiny-llama" / "figures" / "backpatching.pdf").is_file()  # drawn, saying "no cases"
    assert set(pd.read_csv(results / "tiny-llama" / "tables" / "findings.csv")["holds"]) == {"too few cases"}
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


SWEEPS = ["backpatch_t1", "backpatch_t2", "knockout_e1"]


def run_sweeps(workdir, other, shards):
    """Two sweeps on a hand-made split (the random model answers nothing), cut into `shards` jobs."""
    other.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config["analyses"] = {"shards": shards, "cases_per_split": 4, "max_new_tokens": 3}
    (other / "tiny.yaml").write_text(yaml.safe_dump(config))
    cases = other / "results" / "tiny-llama" / "cases"
    cases.mkdir(parents=True)
    (cases / "correct.csv").write_text((workdir / "results" / "dataset" / "two_hop.csv").read_text())
    results = other / "results" / "tiny-llama" / "correct"
    targets = [str(results.relative_to(other) / f"{name}.parquet") for name in SWEEPS]
    rules = ["locate_cases", "analysis_shard", "gather_analysis"]
    run = snakemake(other, *targets, "--allowed-rules", *rules)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(list((results / "shards").glob("backpatch_*.parquet"))) == shards
    return {name: pd.read_parquet(results / f"{name}.parquet") for name in SWEEPS}


def test_sharded_sweeps_gather_to_the_same_files(workdir, tmp_path):
    one, three = (run_sweeps(workdir, tmp_path / str(n), n) for n in (1, 3))  # 3 shards of 4 cases: 2, 1, 1
    assert len(one["backpatch_t1"]) == 4 * 6 and one["backpatch_t1"]["id"].nunique() == 4  # 4 layers: 6 pairs s > t
    for name, table in one.items():
        pd.testing.assert_frame_equal(table, three[name])


REPORT_RULES = ["locate_cases", "analysis_shard", "gather_analysis", "summarize_layers", "describe_model"]
REPORT_RULES += ["plot_stages", "plot_heatmaps", "make_tables", "compare_models"]
CAPTIONS = ["stages", "first_layers", "patchscopes", "backpatching_heatmaps", "backpatching_table"]
CAPTIONS += ["projection_table", "findings", "comparison_figure", "comparison_table"]


def test_figures_tables_and_report_on_hand_made_splits(workdir, tmp_path):
    """The random model answers nothing, so its splits are made by hand; a second model reuses the
    first one's results (copied), which is enough to draw the comparison."""
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    source = config["models"][0]["source"]
    config["models"] = [{"name": name, "source": source, "device": "cpu"} for name in ("tiny-a", "tiny-b")]
    config["analyses"] = {"cases_per_split": 2, "max_new_tokens": 3}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    dataset = pd.read_csv(workdir / "results" / "dataset" / "two_hop.csv")
    results = tmp_path / "results"
    (results / "tiny-a" / "cases").mkdir(parents=True)
    dataset.iloc[:3].to_csv(results / "tiny-a" / "cases" / "correct.csv", index=False)
    dataset.iloc[3:].to_csv(results / "tiny-a" / "cases" / "incorrect.csv", index=False)
    figures = [
        f"results/tiny-a/figures/{name}.png" for name in ("stages", "first_layers", "patchscopes", "backpatching")
    ]
    tables = [f"results/tiny-a/tables/{name}.csv" for name in ("backpatching", "projection", "findings")]
    run = snakemake(tmp_path, *figures, *tables, "--allowed-rules", *REPORT_RULES)
    assert run.returncode == 0, run.stderr[-3000:]
    shutil.copytree(results / "tiny-a", results / "tiny-b")
    marked = pd.read_csv(results / "tiny-b" / "tables" / "backpatching.csv").assign(share=0.125, ci_high=0.25)
    marked.to_csv(results / "tiny-b" / "tables" / "backpatching.csv", index=False)  # tiny-b's own numbers
    targets = [*figures, *tables, "results/comparison/models.png"]
    run = snakemake(tmp_path, *targets, "--allowed-rules", *REPORT_RULES)
    assert run.returncode == 0, run.stderr[-3000:]

    backpatching = pd.read_csv(results / "tiny-a" / "tables" / "backpatching.csv")
    assert list(backpatching["n"]) == [2] * 6  # 2 cases per split, 3 rows each (t1, t2, t1 or t2)
    assert len(pd.read_csv(results / "tiny-a" / "tables" / "findings.csv")) == 7  # claims 1, 2, 3 (three rows), 4 (two)
    projection = pd.read_csv(results / "tiny-a" / "tables" / "projection.csv")
    assert set(projection["n"]) == {2} and projection["share"].between(0, 1).all()
    compared = pd.read_csv(results / "comparison" / "models.csv")
    a, b = (
        compared[compared["model"] == name].drop(columns="model").reset_index(drop=True)
        for name in ("tiny-a", "tiny-b")
    )
    assert len(a) == 2 * 7 and set(a["layers"]) == {4}  # 4 stages and 3 fixable shares per split
    fixable = a["measure"].str.startswith("fixable")
    assert set(b.loc[fixable, "value"]) == {0.125} and 0.125 not in set(a.loc[fixable, "value"])
    pd.testing.assert_frame_equal(a[~fixable], b[~fixable])  # the same layers, so the same stage rows
    for figure in ("stages", "first_layers", "patchscopes", "backpatching"):
        assert (results / "tiny-a" / "figures" / f"{figure}.pdf").read_bytes()[:4] == b"%PDF"

    report = snakemake(tmp_path, *targets, "--report", "report.html", "--allowed-rules", *REPORT_RULES)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    for name in ("stages.png", "patchscopes.png", "backpatching.png", "findings.html", "models.png", "models.html"):
        assert name in html
    for caption in CAPTIONS:  # every caption's first words, as the report renders them
        first_words = " ".join((ROOT / "report" / f"{caption}.rst").read_text().split()[:4])
        assert first_words.split("{{")[0].strip() in html, caption
