from snakemake.utils import min_version, validate

from multihop.bundled import BUNDLED, BUNDLED_DIR

min_version("9.0")


validate(config, "../schemas/config.schema.yaml")


def dump_input(wildcards):
    """The dump file is an input only when the dump is the source."""
    wikidata = config["wikidata"]
    return [wikidata["dump"]] if wikidata["source"] == "dump" else []


MODELS = {model["name"]: model for model in config["models"]}
if len(MODELS) != len(config["models"]):
    raise ValueError("config: two models share a name; each needs its own `name`")


wildcard_constraints:
    model="|".join(MODELS),


def model_config(wildcards):
    return MODELS[wildcards.model]


def model_files(wildcards):
    """The converted snapshot, when the model is the bundled default; nothing otherwise."""
    source = MODELS[wildcards.model]["source"]
    return [BUNDLED_DIR] if source == BUNDLED else []
