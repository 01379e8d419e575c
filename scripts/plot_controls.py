"""Rule plot_controls: back-patching beside its controls, and the fixed back-patch, of one model."""

import pandas as pd

from multihop.files import read_json
from multihop.report.figures import controls_bars, save
from multihop.scripting import run


def main(snakemake):
    model = read_json(snakemake.input.model)
    table = pd.read_csv(snakemake.input.table)
    figure = controls_bars(table, f"{model['name']}: does back-patching beat its controls?")
    save(figure, snakemake.output.figure, snakemake.output.figure_pdf)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
