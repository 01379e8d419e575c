"""Rule convert_default_model: the bundled Gemma 3 270M GGUF as a safetensors snapshot."""

import logging

from multihop.bundled import convert_bundled_gemma
from multihop.scripting import run


def main(snakemake):
    convert_bundled_gemma(snakemake.output[0])
    logging.info("wrote %s", snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
