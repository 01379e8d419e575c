"""Write docs/results.md, the README's table of findings and the statistics page's worked
examples from one reference run, the files in docs/reference-run/ (`make results-pages`), so no
page mixes runs: tests/test_reference_run.py fails while a page differs from what this script
writes from them."""

import ast
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
TABLE = re.compile(
    r"(<!-- findings of docs/reference-run: start -->\n)(.*?)(<!-- findings of docs/reference-run: end -->)", re.S
)


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
            # its description, the links made relative to docs/ rather than docs/reference-run/
            (RUN / "README.md").read_text().split("\n", 1)[1].strip().replace("](../", "]("),
            "",
            "## The dataset",
            "",
            "The two-hop chains the run built from the bundled excerpt (`results/default/dataset/stats.csv`):",
            "",
            *dataset,
            "",
            "## The run's own page",
            "",
            "What follows is the run's `results/default/gemma3-270m/summary.md`, as it wrote it. The stage figure: "
            "[gemma3-270m-stages.png](gemma3-270m-stages.png). How each statistic is computed: "
            "[the statistics page](statistics.md).",
            "",
            demoted((RUN / "summary.md").read_text()).strip(),
            "",
        ]
    )


# the README's paragraph on the run sits between these two lines
ABOUT = re.compile(r"(<!-- the reference run: start -->\n)(.*?)(<!-- the reference run: end -->)", re.S)


def commit_of(summary: str) -> str:
    """The code a run's summary.md names (its `- code:` line)."""
    return re.search(r"^- code: (\S+);", summary, re.M).group(1)


def about_the_run() -> str:
    """The README's paragraph naming the run, its commit and its counts, from its files."""
    commit = commit_of((RUN / "summary.md").read_text())
    choices = pd.read_csv(RUN / "choices.csv").set_index("setting")["value"]
    cases = ast.literal_eval(choices["analyses.cases_per_split"])
    stats = pd.read_csv(RUN / "stats.csv").set_index(["statistic", "value"])["count"]
    funnel = pd.read_csv(RUN / "funnel.csv").set_index("step")["cases"]
    return (
        f"One reference run, `make reproduce` from a fresh clone of commit {commit} on this project's 2-core\n"
        f"CPU (the study's rules, Gemma 3 270M, Patchscopes on {cases['patchscopes']} cases per split, the other "
        f"analyses and\nthe nulls on {cases['backpatching']} or all the split has; how it was run and its files: "
        "[docs/reference-run/](docs/reference-run/README.md)).\n"
        f"Of the excerpt's {stats['funnel', 'chains from the facts']:,} two-hop chains the dataset keeps "
        f"{stats['total', 'chains']:,} (top bridge entities, at most\n100 chains each, then e1, e2 and e3 with an "
        f"English alias); {funnel['first hop correct']:,} first hops and {funnel['second hop correct']:,} second "
        f"hops are\nanswered, and {funnel['correct split (rebalanced by e2 type)']:,} correct and "
        f"{funnel['incorrect split (rebalanced by e2 type)']:,} incorrect cases make the splits.\n"
    )


def readme_text() -> str:
    findings = pd.read_csv(RUN / "findings.csv")
    claims = findings[findings["claim"].astype(str) != "nulls"]
    table = "\n".join(findings_table(claims, why=False)) + "\n"
    text = README.read_text()
    assert TABLE.search(text) and ABOUT.search(text), "README.md lacks the markers of the reference run"
    text = ABOUT.sub(lambda match: match.group(1) + about_the_run() + match.group(3), text)
    return TABLE.sub(lambda match: match.group(1) + table + match.group(3), text)


STATISTICS = DOCS / "statistics.md"
# each worked example of the statistics page sits between two such lines, its name in them
EXAMPLE = re.compile(r"(<!-- worked example: (\w+) -->\n)(.*?)(<!-- end of worked example -->)", re.S)


def _row(findings: pd.DataFrame, claim: str, split: str, statement: str) -> dict:
    rows = findings[
        (findings["claim"].astype(str) == claim)
        & (findings["split"] == split)
        & findings["statement"].str.startswith(statement)
    ]
    assert len(rows) == 1, (claim, split, statement)
    return rows.iloc[0].to_dict()


def _f(value: float) -> str:
    return f"{value:.2f}"


def _headline(findings: pd.DataFrame, position: str) -> dict:
    """Back-patching's headline row at `position` (t1 or t2)."""
    statement = "back-patching a later layer's state into an earlier layer fixes some incorrect cases"
    return _row(findings, "4", "incorrect", f"{statement}, at {position} (the study's")


def _nulls(findings: pd.DataFrame, position: str) -> dict[str, dict]:
    """The headline's comparison with each null at `position`, on the fixable flag."""
    return {
        name: _row(
            findings, "nulls", "incorrect", f"back-patching fixes more cases than {name} at {position} (the fixable"
        )
        for name in ("forward patching", "matched noise", "another case's state")
    }


def worked_examples(findings: pd.DataFrame) -> dict[str, str]:
    """The statistics page's worked examples, each from one row (or rows) of the reference run."""
    late = _row(findings, "3", "incorrect", "the second hop is resolved late")
    t1, t2 = _headline(findings, "t1"), _headline(findings, "t2")
    nulls_t1, nulls_t2 = _nulls(findings, "t1"), _nulls(findings, "t2")
    stage = (
        f'*Worked example* (the reference run, claim 3, incorrect split, "{late["statement"]}"): '
        f"{late['reached']:.0f} of the {late['studied']:.0f} studied cases reach the stage (reached share "
        f"{_f(late['reached_share'])}, clustered exact interval {_f(late['reached_low'])} to "
        f"{_f(late['reached_high'])}); their median relative depth is {_f(late['value'])}, with a clustered "
        f"bootstrap interval of {_f(late['ci_low'])} to {_f(late['ci_high'])}, which "
        f"{'reaches below' if late['ci_low'] <= 0.5 else 'lies above'} the claim's bound (0.5). The "
        f"{late['n']:.0f} cases fall in {late['groups']:.0f} groups (cases sharing e2 or e3; an interval "
        f"decides from 20): *{late['holds']}*"
        + (f", and about {late['cases_needed']:,.0f} cases would decide (below)." if late["cases_needed"] > 0 else ".")
    )
    positions = {"t1": (t1, nulls_t1), "t2": (t2, nulls_t2)}
    needed = "*Worked example* (the reference run): " + " ".join(
        _needs(position, headline, rows) for position, (headline, rows) in positions.items()
    )
    return {"stage": stage, "chance": _chance(positions), "needed": needed}


def _chance(positions: dict[str, tuple[dict, dict[str, dict]]]) -> str:
    """The chance example: the headline at a position where it is not *yes* (else t1) against each
    null, then, where the other position has a null that is *yes* while the headline is not, that row."""
    shown = next((p for p, (headline, _) in positions.items() if headline["holds"] != "yes"), "t1")
    headline, nulls = positions[shown]
    forward, noise, other = nulls.values()
    beaten = _beaten(nulls)
    if not beaten:
        said = "none is *yes*"
    elif len(beaten) == len(nulls):
        said = "each is *yes*"
    else:
        said = f"only the comparison with {' and '.join(beaten)} is *yes*"
    text = (
        f"*Worked example* (the reference run, {shown}): back-patching makes {headline['reached']:.0f} of "
        f"{headline['n']:.0f} incorrect cases answer e3 (fixable share {_f(headline['value'])}, clustered exact "
        f"interval {_f(headline['ci_low'])} to {_f(headline['ci_high'])}). On the same cases, paired by case, its "
        f"fixable flag minus forward patching's averages {_f(forward['value'])} ({_f(forward['ci_low'])} to "
        f"{_f(forward['ci_high'])}; sign-flip test over {forward['groups']:.0f} groups, {forward['why']}), minus "
        f"matched noise's {_f(noise['value'])}, minus another case's state's {_f(other['value'])}: {said}, so the "
        f"headline at {shown} is *{headline['holds']}*"
        + (", however large its share." if headline["holds"] != "yes" else ".")
    )
    for position, (other_headline, other_nulls) in positions.items():
        yes = _beaten(other_nulls)
        if position != shown and yes and other_headline["holds"] != "yes":
            beats = " and ".join(
                f"{name} ({_f(other_nulls[name]['value'])}, {other_nulls[name]['why']})" for name in yes
            )
            rows = "that row alone" if len(yes) == 1 else "those rows"
            text += f" At {position} the flag does beat {beats}: *yes* for {rows}, while the headline needs every null."
    return text


def _beaten(nulls: dict[str, dict]) -> list[str]:
    """The nulls whose comparison with the headline is *yes*."""
    return [name for name, row in nulls.items() if row["holds"] == "yes"]


def _need(name: str, row: dict) -> str:
    """What one null's comparison needs, in words."""
    if row["holds"] in ("yes", "no"):
        return f"{name}, decided ({row['holds']})"
    if row["cases_needed"] > 0:
        return f"{name}, about {row['cases_needed']:,.0f} cases"
    if "cannot decide at this estimate" in row["why"]:
        return f"{name}, none (its difference, {_f(row['value'])}, sits on the bound)"
    return f"{name}, none ({row['why'].split('; ')[-1]})"


def _needs(position: str, headline: dict, nulls: dict[str, dict]) -> str:
    """The sentence on what the headline at `position` needs, from its nulls'."""
    said = "; ".join(_need(name, row) for name, row in nulls.items())
    taken = (
        f"the headline takes the largest, about {headline['cases_needed']:,.0f} cases."
        if headline["cases_needed"] > 0
        else "so the headline gives none."
    )
    return f"At {position}, the comparisons with {said}; {taken}"


def statistics_text() -> str:
    examples = worked_examples(pd.read_csv(RUN / "findings.csv"))
    text = STATISTICS.read_text()
    names = [match.group(2) for match in EXAMPLE.finditer(text)]
    assert sorted(names) == sorted(examples), names
    return EXAMPLE.sub(lambda match: match.group(1) + examples[match.group(2)] + "\n" + match.group(4), text)


def pages() -> dict[Path, str]:
    return {RESULTS: results_page(), README: readme_text(), STATISTICS: statistics_text()}


def main() -> None:
    for path, text in pages().items():
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        print(f"{path}: written from {RUN}")


if __name__ == "__main__":
    main()
