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
RESERVED = {
    "dataset",
    "comparison",
    "logs",
    "benchmarks",
}  # folders of results/ that are not models
if RESERVED & set(MODELS):
    raise ValueError(
        f"config: a model may not be named {sorted(RESERVED & set(MODELS))} (results/ uses it)"
    )


wildcard_constraints:
    model="|".join(MODELS),


def model_config(wildcards):
    return MODELS[wildcards.model]


def model_files(wildcards):
    """The converted snapshot, when the model is the bundled default; nothing otherwise."""
    source = MODELS[wildcards.model]["source"]
    return [BUNDLED_DIR] if source == BUNDLED else []


SPLITS = ["correct", "incorrect"]
# each analysis's table is written in parts: by position (and seed), sublayer or knockout target
PARTS = {
    "patchscopes": [
        f"{p}_s{s}"
        for p in ("t1", "t2")
        for s in config["analyses"]["patchscopes_seeds"]
    ],
    "projection": ["attention", "mlp"],
    "knockout": ["e1", "r1", "r2"],
    "backpatch": ["t1", "t2"],
}


wildcard_constraints:
    split="|".join(SPLITS),


def analysis_parts(analysis):
    """The file names of one analysis's gathered parts (in each results/{model}/{split}/)."""
    return [f"{analysis}_{part}.parquet" for part in PARTS[analysis]]


def analysis_files(analysis):
    """The gathered files of one analysis for a model and split."""
    return expand("results/{{model}}/{{split}}/{file}", file=analysis_parts(analysis))


def per_split(files):
    """One model's files of both splits, from their names in results/{model}/{split}/."""
    return expand("results/{{model}}/{split}/{file}", split=SPLITS, file=files)


def reported_table(name, caption=None):
    """A table's web page (its CSV sits beside it), shown in the report under the model's tables."""
    return report(
        f"results/{{model}}/tables/{name}.html",
        caption=f"../report/{caption or name}.rst",
        category="{model}",
        subcategory="tables",
    )
