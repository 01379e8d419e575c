import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from multihop.analyses.catalog import (
    CATALOG,
    NULLS_COMPARED,
    STAGE_ANALYSES,
    added_settings,
    case_counts,
    constants_read,
    product_settings,
    stage_settings,
    stages,
    uses,
)
from multihop.configuration import check as check_config
from multihop.configuration import run_name, schema_file, shipped
from multihop.dataset.chain_file import missing_chain_file
from multihop.dependencies import code_digest, code_files
from multihop.errors import UserError
from multihop.evaluation.splits import SPLITS
from multihop.models.bundled import BUNDLED, RESOURCES, bundled_dir, bundled_name
from multihop.models.bundled import module_file as bundled_module_file
from multihop.models.gpus import gpu_count
from multihop.report.choices import chosen
from multihop.report.stages import CHANCE_READS

min_version("9.12")  # pathvars: <results> in every path


# the schema, with the settings that the catalog's analyses add (multihop.configuration.schema)
with schema_file(
    f"{workflow.basedir}/schemas/config.schema.yaml", added_settings()
) as schema:
    try:  # the first mistake in one line, rather than the schema dumped
        check_config(config, schema)
    except UserError as error:
        raise WorkflowError(str(error)) from None
    # extra_models extend the models (a config file's `models` replaces the whole list)
    config["models"] = [*config["models"], *config["extra_models"]]
    config["extra_models"] = []
    validate(config, schema)  # fills in the defaults


# The run's name (`run`, else its config files' names; multihop.configuration.run_name) is its
# folder: every path below starts with <results>, results/{run}, so runs of other settings (the
# study's rules, ours, a chain file) leave each other's results alone.
try:
    config["run"] = run_name(
        config["run"], workflow.overwrite_configfiles, f"{workflow.basedir}/config.yaml"
    )
except UserError as error:
    raise WorkflowError(str(error)) from None


pathvars:
    results=f"results/{config['run']}",


# the embedded excerpt ships with the workflow: a run elsewhere (--directory) reads it there
config["wikidata"]["dump"] = shipped(config["wikidata"]["dump"], workflow.basedir)


if config["dataset"]["source"] == "file" and not config["dataset"]["file"]:
    raise WorkflowError(
        "config: dataset.source is file but dataset.file is not set; give the path of a CSV or Parquet of chains"
    )
if config["dataset"]["source"] == "file" and not os.path.exists(
    config["dataset"]["file"]
):
    raise WorkflowError(missing_chain_file(config["dataset"]["file"]))


MODELS = {model["name"]: model for model in config["models"]}
if len(MODELS) != len(config["models"]):
    raise WorkflowError("config: two models share a name; each needs its own `name`")
for model in MODELS.values():  # an unknown bundled model stops the plan, not a job
    try:
        bundled_name(model["source"])
    except UserError as error:
        raise WorkflowError(f"config: models: {error}") from None
# folders of a run's results/{run}/ that are not models
RESERVED = {"dataset", "comparison", "logs", "benchmarks"}
if RESERVED & set(MODELS):
    raise WorkflowError(
        f"config: a model may not be named {sorted(RESERVED & set(MODELS))} (results/{config['run']}/ uses it)"
    )


# the report's first screen, written by write_landing and read by the Snakefile's `report:`
LANDING = "<results>/landing.rst"


def report_text():
    """The report's opening text: the run's findings (landing.rst) once written, else the
    workflow's description alone."""
    landing = os.path.abspath(workflow.pathvars.apply(LANDING))
    return (
        landing
        if os.path.exists(landing)
        else f"{workflow.basedir}/report/workflow.rst"
    )


wildcard_constraints:
    model="|".join(MODELS),
    split="|".join(SPLITS),
    analysis="|".join(CATALOG),
    bundled="|".join(BUNDLED),


def dump_input(wildcards):
    """The dump file is an input only when the dump is the source."""
    wikidata = config["wikidata"]
    return [wikidata["dump"]] if wikidata["source"] == "dump" else []


def model_config(wildcards):
    """The model's entry, less its resources and batch size: what a model job's outputs depend on
    (the batch size is a param of its own, `batch`, where it can change outputs)."""
    return {
        key: value
        for key, value in MODELS[wildcards.model].items()
        if key not in ("resources", "batch_size")
    }


def exact(model):
    """Whether the engine promises the same outputs whatever its batch size: on a CPU in float32
    (its self-check stops a job that differs). On a GPU or in a lower precision, batch sizes and
    paths can change answers; "auto" may mean a GPU, so it counts as one."""
    return model["device"] == "cpu" and model["dtype"] in ("auto", "float32")


def batch_of(key):
    """A model job's param `batch`: the batch size (the model's `batch_size` for the evaluation,
    `analyses.batch_size` for the analyses) where it can change outputs, else None, so that a
    change reruns nothing where the engine promises identity (scripts read it from the config).
    """

    def batch(wildcards):
        model = MODELS[wildcards.model]
        if exact(model):
            return None
        return (
            model["batch_size"] if key == "model" else config["analyses"]["batch_size"]
        )

    return batch


# What a model job's self-check record (its .check.json) depends on: the engine's path (the
# reference path checks nothing) and how many generations it samples (an analysis shard's sample
# also follows analyses.seed).
ENGINE_CHECK = {
    "path": config["engine"]["path"],
    "self_check": (
        config["engine"]["self_check"] if config["engine"]["path"] == "fast" else 0
    ),
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


# cases per split of each analysis (checks that the config names only analyses of the catalog)
try:
    CASES = case_counts(config["analyses"]["cases_per_split"])
except UserError as error:
    raise WorkflowError(str(error)) from None
# what the analyses run with: their section of the config, and the evaluation's rule for answers;
# each analysis's jobs get only the settings its catalog entry reads
SETTINGS = {
    **config["analyses"],
    **{key: config["evaluation"][key] for key in ("match", "one_character")},
}
# each analysis's table is written in parts (by position, seed, sublayer or target; see the catalog)
PARTS = {name: analysis.part_names(SETTINGS) for name, analysis in CATALOG.items()}


def settings_of(wildcards):
    """The settings the analysis of a job reads."""
    return CATALOG[wildcards.analysis].settings(SETTINGS)


CATALOG_FILE = "multihop/analyses/catalog.py"
# What of the catalog each analysis's shards depend on: its entry, and the values of the catalog's
# constants that its code imports (the shards leave the catalog out of their code digest).
ENTRIES = {
    name: {
        **analysis.described(SETTINGS),
        "constants": constants_read(
            code_files("scripts/run_analysis.py", analysis.module_file)
        ),
    }
    for name, analysis in CATALOG.items()
}
# the modules whose functions read the stages of stages.csv (the catalog names them)
STAGE_READERS = sorted({stage.module_file for _, stage in stages().values()})


# Each rule's params hold `code=code_digest(script, ...)`: the digest of what its script and the
# modules it imports mean (multihop/dependencies.py), so a comment or docstring edit reruns nothing.


def analysis_parts(analysis):
    """The file names of one analysis's gathered parts (in each <results>/{model}/{split}/)."""
    return [f"{analysis}_{part}.parquet" for part in PARTS[analysis]]


def per_split(**files):
    """Named inputs `{name}_{split}`: the files of one model's split, for each split.

    `files` maps a name to file names in <results>/{model}/{split}/; scripts read them back with
    multihop.scripting.by_split.
    """

    def inputs(wildcards):
        return {
            f"{name}_{split}": [
                f"<results>/{wildcards.model}/{split}/{file}" for file in names
            ]
            for name, names in files.items()
            for split in SPLITS
        }

    return inputs


def reported_table(name, caption=None):
    """A table's web page (its CSV sits beside it), shown in the report under the model's tables."""
    return report(
        f"<results>/{{model}}/tables/{name}.html",
        caption=f"../report/{caption or name}.rst",
        category="{model}",
        subcategory="tables",
    )


def product_inputs(analysis, product):
    """A figure's or table's inputs: the parts of the analyses it reads, split by split,
    the stage tables, the studied cases and split sizes if it reads them, and the model's
    depth."""
    files = {name: analysis_parts(name) for name in uses(analysis, product)}
    if product.stages:
        files["stages"] = ["stages.csv"]
    if product.groups:
        files["studied"] = ["studied.csv"]
    inputs = per_split(**files)

    def sizes(wildcards):  # each split's cases, whose count weighs the splits
        if not product.groups:
            return {}
        model = wildcards.model
        return {"cases": [f"<results>/{model}/cases/{split}.csv" for split in SPLITS]}

    return lambda wildcards: {
        **inputs(wildcards),
        **sizes(wildcards),
        "model": f"<results>/{wildcards.model}/model.json",
    }


def engine_checks(wildcards):
    """The self-check records of a model's jobs: its evaluation's and every analysis shard's."""
    records = [f"<results>/{wildcards.model}/evaluate.check.json"]
    for split in SPLITS:
        for name in CATALOG:
            records += gather.cases(
                f"<results>/{wildcards.model}/{split}/shards/{name}_{{scatteritem}}.check.json"
            )
    return records


def final_outputs():
    """Everything `snakemake` makes by default: the dataset, and per model its splits, stages, the
    stage figures, each analysis's figure and table (from the catalog), and the findings.
    """
    per_model = [
        "summary.md",
        *(f"cases/{split}.csv" for split in SPLITS),
        "funnel.csv",
        "tables/funnel.html",
        *(f"{split}/stages.csv" for split in SPLITS),
        *(
            f"figures/{figure}.{kind}"
            for figure in ("stages", "first_layers")
            for kind in ("png", "pdf")
        ),
        *(
            f"tables/{table}.{kind}"
            for table in ("findings", "choices", "engine_check")
            for kind in ("csv", "html")
        ),
    ]
    for name, analysis in CATALOG.items():
        if analysis.figure:
            per_model += [f"figures/{name}.png", f"figures/{name}.pdf"]
        if analysis.table:
            per_model += [f"tables/{name}.csv", f"tables/{name}.html"]
    outputs = [
        LANDING,
        "<results>/dataset/two_hop.csv",
        "<results>/dataset/stats.csv",
        "<results>/dataset/stats.html",
    ]
    outputs += [f"<results>/{model}/{path}" for model in MODELS for path in per_model]
    # the side-by-side comparison, once there is something to compare
    if len(MODELS) > 1:
        outputs.append("<results>/comparison/models.png")
    return outputs
