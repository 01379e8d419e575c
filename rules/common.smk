from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from multihop.analyses.registry import ANALYSES, STAGE_ANALYSES, case_counts
from multihop.configuration import check as check_config
from multihop.dependencies import code_files
from multihop.errors import UserError
from multihop.evaluation.splits import SPLITS
from multihop.models.bundled import BUNDLED, RESOURCES, bundled_dir, bundled_name
from multihop.models.bundled import module_file as bundled_module_file
from multihop.models.gpus import gpu_count

min_version("9.0")


try:  # the first mistake in one line, rather than the schema dumped
    check_config(config, f"{workflow.basedir}/schemas/config.schema.yaml")
except UserError as error:
    raise WorkflowError(str(error)) from None
validate(config, "../schemas/config.schema.yaml")  # fills in the defaults


if config["dataset"]["source"] == "file" and not config["dataset"]["file"]:
    raise WorkflowError(
        "config: dataset.source is file but dataset.file is not set; give the path of a CSV or Parquet of chains"
    )


MODELS = {model["name"]: model for model in config["models"]}
if len(MODELS) != len(config["models"]):
    raise WorkflowError("config: two models share a name; each needs its own `name`")
for model in MODELS.values():  # an unknown bundled model stops the plan, not a job
    try:
        bundled_name(model["source"])
    except UserError as error:
        raise WorkflowError(f"config: models: {error}") from None
# folders of results/ that are not models
RESERVED = {"dataset", "comparison", "logs", "benchmarks"}
if RESERVED & set(MODELS):
    raise WorkflowError(
        f"config: a model may not be named {sorted(RESERVED & set(MODELS))} (results/ uses it)"
    )


wildcard_constraints:
    model="|".join(MODELS),
    split="|".join(SPLITS),
    analysis="|".join(ANALYSES),
    bundled="|".join(BUNDLED),


def dump_input(wildcards):
    """The dump file is an input only when the dump is the source."""
    wikidata = config["wikidata"]
    return [wikidata["dump"]] if wikidata["source"] == "dump" else []


def model_config(wildcards):
    """The model's entry, less its resources: what a model job's outputs depend on."""
    return {
        key: value
        for key, value in MODELS[wildcards.model].items()
        if key != "resources"
    }


def model_threads(wildcards):
    """Threads of a model job: the model's resources.cpus, else every core of a local run (its
    model jobs then run one after another), or 4 under a cluster executor, which has no total.
    """
    cpus = MODELS[wildcards.model]["resources"]["cpus"]
    if cpus:
        return cpus
    try:
        return workflow.cores
    except WorkflowError:
        return 4


def model_resource(name):
    return lambda wildcards: MODELS[wildcards.model]["resources"][name]


# What each job of a model asks of a cluster (or of `--resources` on one machine), from the
# model's entry: a 70B model's entry asks for more GPUs and memory than a 7B one's.
MODEL_RESOURCES = dict(
    gpu=lambda wildcards: gpu_count(MODELS[wildcards.model]),
    mem_mb=model_resource("mem_mb"),
    runtime=model_resource("runtime"),
    # empty: any GPU type (the executor passes a type only when one is named)
    gpu_model=lambda wildcards: MODELS[wildcards.model]["resources"]["gpu_model"] or "",
)


def model_files(wildcards):
    """The bundled model's snapshot, when the model is bundled; nothing for hub ids and directories."""
    local = bundled_dir(MODELS[wildcards.model]["source"])
    return [local] if local else []


# cases per split of each analysis (checks that the config names each analysis once)
CASES = case_counts(config["analyses"]["cases_per_split"])
# what the analyses run with: their section of the config, and the evaluation's rule for answers
SETTINGS = {**config["analyses"], "match": config["evaluation"]["match"]}
# each analysis's table is written in parts (by position, seed, sublayer or target; see the registry)
PARTS = {name: analysis.part_names(SETTINGS) for name, analysis in ANALYSES.items()}


def analysis_parts(analysis):
    """The file names of one analysis's gathered parts (in each results/{model}/{split}/)."""
    return [f"{analysis}_{part}.parquet" for part in PARTS[analysis]]


def per_split(**files):
    """Named inputs `{name}_{split}`: the files of one model's split, for each split.

    `files` maps a name to file names in results/{model}/{split}/; scripts read them back with
    multihop.scripting.by_split.
    """

    def inputs(wildcards):
        return {
            f"{name}_{split}": [
                f"results/{wildcards.model}/{split}/{file}" for file in names
            ]
            for name, names in files.items()
            for split in SPLITS
        }

    return inputs


def reported_table(name, caption=None):
    """A table's web page (its CSV sits beside it), shown in the report under the model's tables."""
    return report(
        f"results/{{model}}/tables/{name}.html",
        caption=f"../report/{caption or name}.rst",
        category="{model}",
        subcategory="tables",
    )
