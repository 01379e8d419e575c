"""Rule prepare_bundled_model: a bundled model (the Gemma 3 270M default, or the tiny test model) on disk."""

import logging

from multihop.models.bundled import prepare
from multihop.scripting import run


def main(snakemake):
    prepare(snakemake.wildcards.bundled, snakemake.output[0])
    logging.info("wrote %s", snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
