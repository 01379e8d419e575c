"""Rule describe_model: what later figures need to know of a model (its depth), from its config alone."""

import logging

from multihop.io import write_json
from multihop.models import num_layers
from multihop.scripting import run


def main(snakemake):
    model = snakemake.params.model
    layers = num_layers(model["source"])
    logging.info("%s: %d layers", model["name"], layers)
    write_json({"name": model["name"], "source": model["source"], "layers": layers}, snakemake.output[0])


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
