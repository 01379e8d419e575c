"""Rule describe_model: what later figures need to know of a model (its depth), from its config alone."""

import logging

from multihop.files import write_json
from multihop.models.loading import num_layers
from multihop.scripting import run


def main(snakemake):
    name, source = snakemake.params.name, snakemake.params.source
    layers = num_layers(source)
    logging.info("%s: %d layers", name, layers)
    write_json({"name": name, "source": source, "layers": layers}, snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
