"""Rule write_summary: the run's results page, results/{run}/{model}/summary.md (multihop/report/summary.py)."""

from pathlib import Path

import pandas as pd

from multihop.files import atomic_path, read_json
from multihop.report.choices import summary
from multihop.report.summary import commit, summary_page
from multihop.scripting import run


def main(snakemake):
    page = summary_page(
        model=read_json(snakemake.input.model),
        findings=pd.read_csv(snakemake.input.findings),
        funnel=pd.read_csv(snakemake.input.funnel),
        settings=summary(pd.read_csv(snakemake.input.choices)),
        # the code that wrote the page (read here, not a param: a new commit need not rerun it)
        code=commit(Path(snakemake.scriptdir).parent),
    )
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(page)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
