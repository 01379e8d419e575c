"""Rule write_landing: the report's first screen, results/landing.rst (multihop/report/landing.py)."""

from pathlib import Path

import pandas as pd

from multihop.files import atomic_path, read_json
from multihop.report.landing import landing_page, model_section
from multihop.scripting import run


def main(snakemake):
    inputs = snakemake.input
    sections = [
        model_section(
            model=read_json(model),
            findings=pd.read_csv(findings),
            funnel=pd.read_csv(funnel),
            stages_png=Path(figure).read_bytes(),
        )
        for model, findings, funnel, figure in zip(
            inputs.models, inputs.findings, inputs.funnels, inputs.figures, strict=True
        )
    ]
    page = landing_page(sections=sections, description=snakemake.params.description)
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(page)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
