from snakemake.utils import min_version, validate

min_version("9.0")


validate(config, "../schemas/config.schema.yaml")


def dump_input(wildcards):
    """The dump file is an input only when the dump is the source."""
    wikidata = config["wikidata"]
    return [wikidata["dump"]] if wikidata["source"] == "dump" else []
