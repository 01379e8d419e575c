"""config.yaml holds every value, the schema checks them; each default lives in one place."""

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, merged
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from multihop.configuration import OWN_CONFIG, RUN_NAME, run_folder, run_name, shipped
from multihop.errors import UserError
from multihop.models.bundled import BUNDLED, bundled_dir

SCHEMA = ROOT / "schemas" / "config.schema.yaml"
OUR_RULES = ROOT / "configs" / "our-rules.yaml"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def test_the_default_config_is_valid_and_sets_every_key(config):
    schema = yaml.safe_load(SCHEMA.read_text())
    validate(copy.deepcopy(config), str(SCHEMA), set_default=False)
    for section, spec in schema["properties"].items():
        if spec.get("type") == "object" and "properties" in spec:
            assert set(spec["required"]) == set(spec["properties"]) == set(config[section]), section


def test_only_a_model_entrys_optional_keys_have_defaults_in_the_schema():
    def defaults(node, path=()):
        if isinstance(node, dict):
            found = [path] if "default" in node else []
            return found + [d for key, value in node.items() for d in defaults(value, (*path, key))]
        return []

    model_keys = ("properties", "models", "items", "properties")
    found = defaults(yaml.safe_load(SCHEMA.read_text()))
    assert found and all(path[:4] == model_keys for path in found), found


def test_a_missing_value_is_named(config):
    broken = copy.deepcopy(config)
    del broken["analyses"]["knockout_window"]
    with pytest.raises(WorkflowError, match="knockout_window"):
        validate(broken, str(SCHEMA))


def test_the_test_run_config_only_overrides_known_keys(config):
    test = merged(config, yaml.safe_load((ROOT / ".test" / "config.yaml").read_text()))
    validate(test, str(SCHEMA))
    assert test["models"][0]["source"] in {"bundled:" + name for name in BUNDLED}


def test_bundled_sources():
    assert bundled_dir("bundled:tiny-llama") == "resources/models/tiny-llama"
    assert bundled_dir("meta-llama/Llama-2-7b-hf") is None
    with pytest.raises(UserError, match="bundled:gemma3-270m"):
        bundled_dir("bundled:gemma-9000")


CONFIGS = sorted((ROOT / "configs").glob("llama*.yaml"))


def test_the_studys_four_models_have_configs():
    assert [p.stem for p in CONFIGS] == ["llama2-13b", "llama2-7b", "llama3-70b", "llama3-8b"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_each_model_config_validates_and_plans_the_whole_study(path, config, tmp_path):
    ours = merged(config, yaml.safe_load(path.read_text()))
    validate(ours, str(SCHEMA))
    model = ours["models"][0]
    assert model["name"] == path.stem and model["source"].startswith("meta-llama/")
    # as the authors loaded them: 7B, 8B and 13B in float32, the 70B as its checkpoint (bfloat16)
    assert model["dtype"] == ("auto" if "70b" in path.stem else "float32") and model.get("prompt_prefix", "") == ""
    assert ours["dataset"] == {**config["dataset"], "source": "file", "file": "resources/study/two_hop.csv"}
    command = [SNAKEMAKE, "-s", ROOT / "Snakefile", "-d", tmp_path, "--configfile", path, "--dry-run"]
    missing = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0
    said = missing.stdout + missing.stderr
    assert "dataset.file resources/study/two_hop.csv does not exist; it is the study's released chains: " in said
    assert "https://raw.githubusercontent.com/edenbiran/HoppingTooLate/main/datasets/two_hop.csv" in said
    released = tmp_path / "resources" / "study" / "two_hop.csv"
    released.parent.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "data" / "study_two_hop.csv", released)  # the released format, 34 rows
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)  # plans; loads no model
    assert run.returncode == 0, run.stderr[-2000:]
    assert "rule import_dataset:" in run.stdout and "rule extract_wikidata:" not in run.stdout
    assert f"results/{path.stem}/{path.stem}/tables/findings.csv" in run.stdout  # the run named after its file


def test_our_rules_differ_from_the_study_in_each_choice_and_validate(config):
    from multihop.report.choices import STUDY, choices, chosen

    ours = merged(config, yaml.safe_load(OUR_RULES.read_text()))
    validate(ours, str(SCHEMA))
    ours["models"][0]["prompt_prefix"] = ""  # (a model's own setting: not in our-rules.yaml)
    table = choices(chosen(ours, ours["models"][0]["name"])).set_index("setting")
    differing = list(table.index[table["follows_study"].eq(False)])
    named = [f"{section}.{key}" for section, values in yaml.safe_load(OUR_RULES.read_text()).items() for key in values]
    assert differing == [key for key in STUDY if key in named] and len(named) == len(differing)
    assert ours["dataset"]["selection"] == "all" != config["dataset"]["selection"]


def test_the_four_models_together_ask_each_for_its_own_resources(config, tmp_path):
    """configs/study.yaml lists the four models as their own files do; planned, each model's
    jobs ask for that model's GPUs, memory and runtime (the 70B model more than the others)."""
    together = yaml.safe_load((ROOT / "configs" / "study.yaml").read_text())
    alone = {path.stem: yaml.safe_load(path.read_text())["models"][0] for path in CONFIGS}
    assert {m["name"]: m for m in together["models"]} == alone
    released = tmp_path / "resources" / "study" / "two_hop.csv"
    released.parent.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "data" / "study_two_hop.csv", released)  # the released format, 34 rows
    command = [SNAKEMAKE, "-s", ROOT / "Snakefile", "-d", tmp_path, "--configfile", ROOT / "configs" / "study.yaml"]
    run = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    planned = {}
    for job in run.stdout.split("rule analysis_shard:")[1:]:
        model = re.search(r"wildcards: model=([\w.-]+)", job).group(1)
        resources = dict(re.findall(r"(\w+)=(\w+)", re.search(r"resources: (.*)", job).group(1)))
        planned.setdefault(model, set()).add((resources["gpu"], resources["mem_mb"], resources["runtime"]))
    assert planned == {
        m["name"]: {(str(m["resources"]["gpus"]), str(m["resources"]["mem_mb"]), str(m["resources"]["runtime"]))}
        for m in together["models"]
    }


CONFIG_MISTAKES = {
    "unknown key": (
        {"evaluation": {"max_new_tokes": 3}},
        "evaluation: Additional properties are not allowed ('max_new_tokes' was unexpected); the keys allowed here are",
    ),
    "wrong type": (
        {"evaluation": {"max_new_tokens": "ten"}},
        "evaluation.max_new_tokens: 'ten' is not of type integer",
    ),
    "bad QID": ({"entity_types": {"Z5": "human"}}, "entity_types: 'Z5' is not a Wikidata item id (Q and digits)"),
    "bad PID": (
        {"relations": {"X26": {"label": "spouse", "template": "the spouse of {}"}}},
        "relations: 'X26' is not a Wikidata property id (P and digits)",
    ),
    "template without {}": (
        {"relations": {"P26": {"label": "spouse", "template": "the spouse of"}}},
        "relations.P26.template: 'the spouse of' needs exactly one {} where the entity goes",
    ),
    "unknown choice": ({"evaluation": {"match": "exact"}}, "evaluation.match: 'exact' is not one of substring, word"),
    "negative GPUs": (
        {"models": [{"name": "m", "source": "bundled:tiny-llama", "resources": {"gpus": -1}}]},
        "models[0].resources.gpus: -1 is less than the minimum of 0",
    ),
    "unknown bundled model": (
        {"models": [{"name": "m", "source": "bundled:nope"}]},
        "models: unknown bundled model 'bundled:nope'; the bundled ones are bundled:gemma3-270m, bundled:tiny-llama",
    ),
    "two models, one name": (
        {"models": [{"name": "m", "source": "bundled:tiny-llama"}, {"name": "m", "source": "bundled:gemma3-270m"}]},
        "two models share a name; each needs its own `name`",
    ),
    "a run name that is no folder name": ({"run": "a/b"}, "run: 'a/b' is not a folder name (letters, digits, . _ + -)"),
    "a number as text": (  # what `--config analyses={cases_per_split: 5}` gives
        {"analyses": {"cases_per_split": "5"}},
        "analyses.cases_per_split: '5' is not valid under any of the given schemas; `--config` passes values "
        "inside a section as text: give them in a YAML file with --configfile",
    ),
}


@pytest.mark.parametrize("mistake", CONFIG_MISTAKES)
def test_a_config_mistake_is_one_line_naming_the_key(mistake, tmp_path):
    """Each mistake stops the run before anything runs, with one line that names the key."""
    change, message = CONFIG_MISTAKES[mistake]
    settings = merged(yaml.safe_load((ROOT / ".test" / "config.yaml").read_text()), change)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(settings))
    command = [SNAKEMAKE, "-s", ROOT / "Snakefile", "-d", tmp_path, "--configfile", tmp_path / "config.yaml", "-n"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    lines = (run.stdout + run.stderr).splitlines()
    error = lines[next(i for i, line in enumerate(lines) if line.startswith("WorkflowError")) + 1]
    assert run.returncode != 0 and error.startswith(f"config: {message}")
    assert "Traceback" not in run.stderr and "Failed validating" not in run.stderr
    assert not (tmp_path / "results").exists()


def test_every_bad_input_in_the_docs_is_a_test():
    """docs/bad-inputs.md names a test for each bad input; each must exist (with its case, if named)."""
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)(?:\[([^\]]+)\])?`", (ROOT / "docs" / "bad-inputs.md").read_text())
    assert len(named) >= 30
    for path, test, case in named:
        source = (ROOT / path).read_text()
        assert f"def {test}(" in source, f"{path}::{test}"
        assert not case or case in source, f"{path}::{test}[{case}]"


def test_a_run_is_named_by_its_config_or_its_config_files(tmp_path):
    """`run` where a config sets it; else the config files given on the command line, the
    workflow's own left out, in their order; else default. The schema's pattern is the same."""
    llama = ROOT / "configs" / "llama2-7b.yaml"
    assert run_name(None, []) == run_name(None, [OWN_CONFIG]) == "default"
    assert run_name(None, [OUR_RULES]) == "our-rules"
    assert run_name(None, [ROOT / "configs" / "study.yaml"]) == "study"  # the four models: not the default run
    assert run_name(None, [llama, OUR_RULES]) == "llama2-7b+our-rules"
    assert run_name("mine", [llama, OUR_RULES]) == "mine"
    with pytest.raises(UserError, match="--config run=NAME"):
        run_name(None, [tmp_path / "my rules.yaml"])
    assert yaml.safe_load(SCHEMA.read_text())["properties"]["run"]["pattern"] == RUN_NAME.pattern


@pytest.mark.parametrize(
    "args,folder",
    [
        ([], "results/default"),
        (["--configfile", OUR_RULES], "results/our-rules"),
        (["--configfile", OUR_RULES, "--config", "run=mine"], "results/mine"),
    ],
    ids=["default", "config file", "named"],
)
def test_the_makefile_finds_the_run_folder_the_workflow_writes(args, folder, tmp_path):
    """From another directory (--directory): the folder the Makefile's report goes to is the one
    the workflow plans, and the embedded excerpt (a path relative to the project) is read from
    the workflow's folder."""
    assert run_folder([str(arg) for arg in args]) == folder
    command = [SNAKEMAKE, "-s", ROOT / "Snakefile", "-d", tmp_path, *args, "--dry-run"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"output: {folder}/dataset/entities.csv" in run.stdout
    assert f"input: {ROOT / 'data' / 'wikidata' / 'excerpt.nt'}" in run.stdout
    assert not (tmp_path / "results").exists()


def test_a_path_that_ships_with_the_workflow_is_found_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    excerpt = "data/wikidata/excerpt.nt"
    assert shipped(excerpt, ROOT) == str(ROOT / excerpt)  # elsewhere: the workflow's copy
    assert shipped("mine.nt", ROOT) == "mine.nt"  # nowhere: as given, for the error to name
    (tmp_path / "data" / "wikidata").mkdir(parents=True)
    (tmp_path / excerpt).write_text("")
    assert shipped(excerpt, ROOT) == excerpt  # the working directory's own comes first
