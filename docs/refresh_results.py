"""Write docs/results.md and the README's table of findings from one reference run, the files
in docs/reference-run/ (`make results-pages`), so no page mixes runs: tests/test_docs.py fails
while either page differs from what this script writes from them."""

import json
import re
from pathlib import Path

import pandas as pd

from multihop.files import atomic_path
from multihop.report.summary import findings_table

DOCS = Path(__file__).resolve().parent
RUN = DOCS / "reference-run"
README = DOCS.parent / "README.md"
RESULTS = DOCS / "results.md"
# the README's table sits between these two lines
TABLE = re.compile(r"(<!-- findings of docs/reference-run: start -->\n)(.*?)(<!-- findings of docs/reference-run: end -->)", re.S)


def demoted(markdown: str) -> str:
    """The run's summary.md one heading level down, to sit inside this page."""
    return re.sub(r"^(#+) ", r"#\1 ", markdown, flags=re.M)


def results_page() -> str:
    model = json.loads((RUN / "model.json").read_text())
    stats = pd.read_csv(RUN / "stats.csv")
    totals = stats[stats["statistic"].isin(["total", "funnel"])]
    dataset = ["| dataset | count |", "| --- | --- |"]
    dataset += [f"| {row.value} | {row.count:,} |" for row in totals.itertuples()]
    return "\n".join(
        [
            f"# The embedded default ({model['name']}): the reference run",
            "",
            "<!-- written by docs/refresh_results.py from docs/reference-run/; edit those, not this -->",
            "",
            (RUN / "README.md").read_text().split("\n", 1)[1].strip(),
            "",
            "## The dataset",
            "",
            "The two-hop chains the run built from the bundled excerpt (`results/dataset/stats.csv`):",
            "",
            *dataset,
            "",
            "## The run's own page",
            "",
            "What follows is the run's `results/gemma3-270m/summary.md`, as it wrote it. The stage figure: "
            "[gemma3-270m-stages.png](gemma3-270m-stages.png). How each statistic is computed: "
            "[the statistics page](statistics.md).",
            "",
            demoted((RUN / "summary.md").read_text()).strip(),
            "",
        ]
    )


def readme_text() -> str:
    findings = pd.read_csv(RUN / "findings.csv")
    claims = findings[findings["claim"].astype(str) != "nulls"]
    table = "\n".join(findings_table(claims, why=False)) + "\n"
    text = README.read_text()
    assert TABLE.search(text), "README.md lacks the markers of the findings table"
    return TABLE.sub(lambda match: match.group(1) + table + match.group(3), text)


def pages() -> dict[Path, str]:
    return {RESULTS: results_page(), README: readme_text()}


def main() -> None:
    for path, text in pages().items():
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        print(f"{path}: written from {RUN}")


if __name__ == "__main__":
    main()
