"""The results pages are one run's: docs/results.md and the README's table of findings are what
docs/refresh_results.py writes from docs/reference-run/, and that run's summary.md is what its
findings.csv, funnel and settings give (so the committed copies are of one run)."""

import importlib.util
import json
from pathlib import Path

import pandas as pd

from multihop.report.choices import summary
from multihop.report.summary import summary_page

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "docs" / "reference-run"


def refresh():
    spec = importlib.util.spec_from_file_location("refresh_results", ROOT / "docs" / "refresh_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_results_pages_are_the_reference_runs():
    for path, text in refresh().pages().items():
        assert path.read_text() == text, f"{path.name} differs from docs/reference-run/: make results-pages"


def test_the_reference_runs_summary_is_its_findings():
    page = (RUN / "summary.md").read_text()
    code = refresh().commit_of(page)
    again = summary_page(
        model=json.loads((RUN / "model.json").read_text()),
        findings=pd.read_csv(RUN / "findings.csv"),
        funnel=pd.read_csv(RUN / "funnel.csv"),
        settings=summary(pd.read_csv(RUN / "choices.csv")),
        code=code,
    )
    assert again == page
    assert "+ changes" not in code  # a run of a commit, not of a working tree


def test_the_readme_table_changes_with_the_findings(tmp_path, monkeypatch):
    """The check can fail: one verdict changed in a copy of the run changes the README's table."""
    module = refresh()
    copy = tmp_path / "reference-run"
    copy.mkdir()
    for file in RUN.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    findings = pd.read_csv(copy / "findings.csv")
    first = findings.index[findings["claim"].astype(str) != "nulls"][0]
    findings.loc[first, "holds"] = "no" if findings.loc[first, "holds"] != "no" else "yes"
    findings.to_csv(copy / "findings.csv", index=False)
    monkeypatch.setattr(module, "RUN", copy)
    assert module.readme_text() != (ROOT / "README.md").read_text()


def test_the_chance_example_follows_the_verdicts_of_the_run_it_is_written_from():
    """Another run's verdicts give other words, not a stop: a null beaten at t1 is said, and the
    contrast with the other position appears only where it has a null that is *yes*."""
    module = refresh()
    findings = pd.read_csv(RUN / "findings.csv")
    nulls = findings["claim"].astype(str) == "nulls"
    at = {p: findings["statement"].str.contains(f" at {p} \\(the fixable") for p in ("t1", "t2")}
    noise = findings["statement"].str.contains("than matched noise")

    changed = findings.copy()
    changed.loc[nulls & at["t1"] & noise, "holds"] = "yes"
    changed.loc[nulls & at["t2"], "holds"] = "too few groups"
    chance = module.worked_examples(changed)["chance"]
    assert "only the comparison with matched noise is *yes*" in chance
    assert "At t2" not in chance

    changed.loc[nulls & at["t1"], "holds"] = "too few groups"
    changed.loc[nulls & at["t2"] & noise, "holds"] = "yes"
    chance = module.worked_examples(changed)["chance"]
    assert "none is *yes*" in chance and "At t2 the flag does beat matched noise" in chance
