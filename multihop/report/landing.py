"""The report's first screen, `results/landing.rst`: the study's findings in words, model by model
(each claim's verdict per split, its number and interval, the cases reaching it), the funnel and
the stage figure, then the workflow's own description. Snakemake shows this text beside (here:
above) its workflow graph when the report opens.

The findings are raw HTML inside the reStructuredText: a table a reader scans by row, and a style
that widens the text column and moves the graph below it (the report is one page, so the style
reaches it from here, whichever command wrote the report)."""

import base64
import html

import pandas as pd

from multihop.report.summary import VERDICTS, _cases, _interval

# Snakemake 9's report lays the description and the graph out side by side in a narrow column
STYLE = """<style>
.prose.max-w-lg { max-width: 72rem; }
div.h-screen.overflow-auto:has(.multihop-landing) { align-items: flex-start; justify-content: flex-start; }
div.grow.flex.gap-3.p-3.items-start:has(.multihop-landing) { flex-direction: column; }
.multihop-landing h1 { font-size: 1.4rem; margin: 0 0 0.3rem 0; }
.multihop-landing h2 { font-size: 1.1rem; margin: 0.5rem 0 0.2rem 0; }
.multihop-landing table { font-size: 0.75rem; line-height: 1.25; margin: 0.3rem 0; width: 100%; }
.multihop-landing th, .multihop-landing td { padding: 0.1rem 0.4rem; vertical-align: top; }
.multihop-landing td:nth-child(2) { width: 32%; }
.multihop-landing .holds { color: #146c2e; font-weight: 600; }
.multihop-landing .fails { color: #a4161a; font-weight: 600; }
.multihop-landing .undecided { color: #555; font-weight: 600; }
.multihop-landing p { margin: 0.3rem 0; font-size: 0.75rem; line-height: 1.35; }
.multihop-landing img { width: 100%; max-width: 56rem; margin: 0; }
</style>"""

GLOSSARY = (
    "A chain (e1, r1, e2), (e2, r2, e3) asks for e3 through the bridge entity e2: "
    "<b>t1</b> is the last token of e1, <b>t2</b> the last token of the prompt; "
    "<b>correct</b> and <b>incorrect</b> are the cases the model composes or not (it knows both hops); "
    "the <b>nulls</b> are back-patching's comparisons (forward patching, matched noise, another case's state). "
    "Layers count from 0."
)


def _verdict_class(holds: str) -> str:
    if holds == "yes" or str(holds).startswith("yes,"):
        return "holds"
    return "fails" if holds == "no" else "undecided"


def _cell(row: dict | None) -> str:
    """One split's finding: the verdict in words, the number and its interval, the cases."""
    if row is None:
        return "<td></td>"
    verdict = html.escape(VERDICTS.get(row["holds"], str(row["holds"])))
    number = html.escape(_interval(row))
    cases = html.escape(_cases(row))
    return (
        f'<td><span class="{_verdict_class(row["holds"])}">{verdict}</span><br>'
        f"{number + ', ' if number else ''}{cases}</td>"
    )


def findings_table(findings: pd.DataFrame, *, claims: bool = True) -> str:
    """The claims (or the nulls, `claims=False`) as one row per statement and one column per split."""
    is_null = findings["claim"].astype(str) == "nulls"
    rows = findings[~is_null if claims else is_null]
    splits = list(dict.fromkeys(rows["split"]))
    header = "".join(f"<th>{html.escape(split)}</th>" for split in splits)
    lines = [f"<table><thead><tr><th>claim</th><th>statement</th>{header}</tr></thead><tbody>"]
    for (claim, statement), group in rows.groupby(["claim", "statement"], sort=False):
        by_split = {record["split"]: record for record in group.to_dict("records")}
        cells = "".join(_cell(by_split.get(split)) for split in splits)
        lines.append(f"<tr><td>{html.escape(str(claim))}</td><td>{html.escape(statement)}</td>{cells}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def funnel_line(funnel: pd.DataFrame) -> str:
    steps = [f"{html.escape(step)} {cases:,}" for step, cases in zip(funnel["step"], funnel["cases"], strict=True)]
    return "<p><b>Which cases are studied:</b> " + " &rarr; ".join(steps) + "</p>"


def model_section(*, model: dict, findings: pd.DataFrame, funnel: pd.DataFrame, stages_png: bytes) -> str:
    """One model's findings, its nulls behind a fold, its funnel and its stage figure, as HTML."""
    # in lines, as docutils refuses longer ones (a URL's line breaks are dropped by the browser)
    figure = base64.encodebytes(stages_png).decode("ascii").strip()
    nulls = (findings["claim"].astype(str) == "nulls").sum()
    return "\n".join(
        [
            f"<h2>{html.escape(model['name'])} ({model['layers']} layers)</h2>",
            funnel_line(funnel),
            findings_table(findings),
            f'<img alt="the layer of each stage, {html.escape(model["name"])}" src="data:image/png;base64,{figure}">',
            f"<details><summary>Back-patching against its nulls ({nulls} rows)</summary>",
            findings_table(findings, claims=False),
            "</details>",
        ]
    )


def landing_page(*, sections: list[str], description: str) -> str:
    """The report's opening text (reStructuredText): the findings of each model (`model_section`),
    then the workflow's description (report/workflow.rst, which Snakemake renders with Jinja)."""
    body = "\n".join(
        [
            STYLE,
            '<div class="multihop-landing">',
            "<h1>Hopping Too Late, rerun: what this run finds</h1>",
            f"<p><small>{GLOSSARY} Each cell: the verdict, the number (95% interval), the cases it counts; "
            "the statisticians' columns are in each model's findings table (Results, then the model, then "
            "tables) and its summary.md.</small></p>",
            *sections,
            "</div>",
        ]
    )
    raw = ".. raw:: html\n\n" + "\n".join("   " + line for line in body.splitlines()) + "\n"
    return raw + "\n" + description
