"""A run's results page, `results/{run}/{model}/summary.md`: what a reader needs of one run on one page,
written by the run itself (so no page mixes runs): which code and settings, the funnel from the
dataset to the studied cases, each claim's verdict in words with its number, and back-patching
against its nulls."""

import math
import subprocess

import pandas as pd

VERDICTS = {
    "yes": "holds",
    "yes, among the minority that reach it": "holds only among the minority of cases that reach the stage",
    "no": "does not hold",
    "inconclusive": "undecided",
    "too few groups": "undecided (too few groups)",
    "not distinguishable from chance": "not distinguishable from chance",
}


def commit(folder) -> str:
    """The git commit of the code in `folder` ("+ changes" where its files differ from it), or
    "not a git checkout"."""

    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True).stdout.strip()

    try:
        head = git("rev-parse", "--short=7", "HEAD")
    except OSError:  # no git on this machine
        return "unknown (git not found)"
    if not head:
        return "not a git checkout"
    return head + (" + changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def _number(value) -> str:
    if pd.isna(value):
        return ""
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 10 else f"{value:.2f}"


def _interval(row) -> str:
    value = _number(row["value"])
    if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
        return value
    return f"{value} ({_number(row['ci_low'])} to {_number(row['ci_high'])})"


def _verdict(row) -> str:
    said = VERDICTS.get(row["holds"], str(row["holds"]))
    word = row.get("holds_word")
    if isinstance(word, str) and word != row["holds"]:  # the other judge, whole words, decides otherwise
        said += f" (by whole words: {VERDICTS.get(word, word)})"
    needed = row.get("cases_needed", math.nan)
    if not pd.isna(needed) and math.isfinite(needed):
        said += f"; about {needed:,.0f} cases would decide"
    return said


def _cases(row) -> str:
    """The cases a row counts: how many of those studied reach its stage, or the cases compared."""
    if str(row["claim"]) == "nulls" or pd.isna(row["reached"]) or pd.isna(row["studied"]) or not row["studied"]:
        return f"{row['n']:.0f} cases"
    return f"{row['reached']:.0f} of {row['studied']:.0f} reach it"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells):
        return "| " + " | ".join(str(cell).replace("|", "/").replace("\n", " ") for cell in cells) + " |"

    return [line(header), line(["---"] * len(header)), *map(line, rows)]


def summary_page(*, model: dict, findings: pd.DataFrame, funnel: pd.DataFrame, settings: str, code: str) -> str:
    """The page's Markdown. `model`: model.json; `findings`: findings.csv; `funnel`: funnel.csv;
    `settings`: the choices' one-line summary; `code`: the commit (`commit`)."""
    dtype = findings["dtype"].iloc[0] if "dtype" in findings and len(findings) else "unknown"
    lines = [
        f"# {model['name']}: the study's claims on this run",
        "",
        f"- code: {code}; model: {model['name']} ({model['layers']} layers), run in {dtype}",
        f"- settings: {settings}",
        "- figures: `figures/stages.png` (the layer of each stage, correct vs incorrect cases) and one per analysis",
        "",
        "## Which cases are studied",
        "",
        *_table(
            ["step", "cases"],
            [[step, f"{cases:,}"] for step, cases in zip(funnel["step"], funnel["cases"], strict=True)],
        ),
        "",
    ]
    claims = findings[findings["claim"].astype(str) != "nulls"]
    nulls = findings[findings["claim"].astype(str) == "nulls"]
    lines += ["## The claims", "", "What each value measures: `tables/findings.csv`, column `quantity`.", ""]
    lines += [*findings_table(claims), ""]
    if len(nulls):
        lines += ["## Back-patching against its nulls", "", *findings_table(nulls), ""]
    return "\n".join(lines)


def findings_table(findings: pd.DataFrame, *, why: bool = True) -> list[str]:
    """Rows of findings.csv as a Markdown table in words (the README's table: `why=False`)."""
    header = ["claim", "split", "statement", "value (95% interval)", "cases", "verdict", "why"][: 7 if why else 6]
    rows = [
        [
            row["claim"],
            row["split"],
            row["statement"],
            _interval(row),
            _cases(row),
            _verdict(row),
            "" if pd.isna(row["why"]) else row["why"],
        ][: len(header)]
        for row in findings.to_dict("records")
    ]
    return _table(header, rows)
