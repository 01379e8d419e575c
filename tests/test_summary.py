"""The run's results page (multihop/report/summary.py), from hand-made tables."""

import base64
import io
import subprocess

import pandas as pd

from multihop.report.summary import commit, summary_page

FINDINGS = pd.DataFrame(
    [
        (
            1,
            "correct",
            "e2 is resolved early",
            12,
            6,
            6,
            0.4,
            0.2,
            0.6,
            "inconclusive",
            "the interval reaches both",
            80,
        ),
        (
            "nulls",
            "incorrect",
            "back-patching beats forward patching at t1",
            60,
            0,
            60,
            0.1,
            0.02,
            0.2,
            "yes",
            "",
            None,
        ),
    ],
    columns=["claim", "split", "statement", "studied", "reached", "n", "value", "ci_low", "ci_high", "holds", "why"]
    + ["cases_needed"],
).assign(dtype="float32")
FUNNEL = pd.DataFrame({"step": ["two-hop cases", "studied, composition correct"], "cases": [5420, 12]})


def test_the_page_says_each_claim_its_verdict_in_words_and_where_it_came_from():
    page = summary_page(
        model={"name": "m", "layers": 18}, findings=FINDINGS, funnel=FUNNEL, settings="the study's", code="abc1234"
    )
    assert page.startswith("# m: the study's claims on this run")
    assert "code: abc1234; model: m (18 layers), run in float32" in page and "settings: the study's" in page
    assert "| two-hop cases | 5,420 |" in page
    claim = next(line for line in page.splitlines() if "e2 is resolved early" in line)
    assert "0.40 (0.20 to 0.60)" in claim and "6 of 12 reach it" in claim
    assert "undecided; about 80 cases would decide" in claim
    assert page.index("## Back-patching against its nulls") < page.index("beats forward patching")
    beats = next(line for line in page.splitlines() if "beats forward patching" in line)
    assert "| holds |" in beats and "| 60 cases |" in beats


def test_the_commit_is_git_s_and_says_when_the_files_differ(tmp_path):
    assert commit(tmp_path) == "not a git checkout"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("b")
    assert commit(tmp_path) == f"{head} + changes"


def test_the_findings_page_opens_on_the_readers_columns(tmp_path):
    from multihop.report.pages import write_html_table

    first = ["claim", "split", "statement", "holds", "value"]
    write_html_table(FINDINGS, tmp_path / "findings.html", "m: findings", first=first)
    page = (tmp_path / "findings.html").read_text()
    reader, everything = page.split("<h4>every column</h4>")
    headers = [cell.split("</th>")[0] for cell in reader.split("<th>")[1:]]
    assert headers == first and "cases_needed" in everything and "cases_needed" not in reader


def test_without_git_the_page_still_says_where_it_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on this path
    assert commit(tmp_path) == "unknown (git not found)"


def test_the_reports_first_screen_is_valid_text_with_each_verdict_in_words():
    """The landing text parses as reStructuredText without a complaint (docutils refuses lines
    over 10,000 characters: the figure's bytes come in lines), claims and nulls in their own tables."""
    from docutils.core import publish_parts

    from multihop.report.landing import landing_page, model_section

    png = bytes(range(256)) * 200  # 51,200 bytes: one line of them would be refused
    section = model_section(model={"name": "m", "layers": 18}, findings=FINDINGS, funnel=FUNNEL, stages_png=png)
    text = landing_page(sections=[section], description="The workflow's own words.\n")
    warnings = io.StringIO()
    body = publish_parts(text, writer="html", settings_overrides={"warning_stream": warnings})["html_body"]
    assert warnings.getvalue() == "" and "The workflow's own words." in body
    claims, nulls = body.split("Back-patching against its nulls (1 rows)")
    assert '<span class="undecided">undecided</span><br>0.40 (0.20 to 0.60), 6 of 12 reach it' in claims
    assert '<span class="holds">holds</span>' in nulls and "holds</span>" not in claims
    assert "5,420" in body and base64.b64encode(png[:57]).decode() in body
