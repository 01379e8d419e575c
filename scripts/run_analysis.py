"""Rule analysis_shard: one analysis (Patchscopes, projection, knockout, back-patching) on a shard."""

import logging

import torch

from multihop import analyses, models
from multihop.adapter import Adapter
from multihop.cases import load_cases
from multihop.io import read_table, write_parquet
from multihop.scripting import run


def main(snakemake):
    torch.set_num_threads(snakemake.threads)
    spec, analysis = snakemake.params.model, snakemake.wildcards.analysis
    located = read_table(snakemake.input.cases)
    model, tokenizer = models.load(spec["source"], spec["dtype"], spec["device"])
    cases = load_cases(tokenizer, located, spec["prompt_prefix"])
    logging.info("%s on %d cases with %s on %s", analysis, len(cases), spec["name"], model.device)
    table = analyses.run(analysis, Adapter(model), tokenizer, cases, snakemake.params.settings)
    write_parquet(table, snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
