"""config.yaml holds every value, the schema checks them; each default lives in one place."""

import copy

import pytest
import yaml
from conftest import ROOT
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from multihop.errors import UserError
from multihop.models.bundled import BUNDLED, bundled_dir

SCHEMA = ROOT / "schemas" / "config.schema.yaml"


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
    test = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    merged = copy.deepcopy(config)
    for section, values in test.items():
        merged[section] = {**merged[section], **values} if isinstance(values, dict) else values
    validate(merged, str(SCHEMA))
    assert merged["models"][0]["source"] in {"bundled:" + name for name in BUNDLED}


def test_bundled_sources():
    assert bundled_dir("bundled:tiny-llama") == "resources/models/tiny-llama"
    assert bundled_dir("meta-llama/Llama-2-7b-hf") is None
    with pytest.raises(UserError, match="bundled:gemma3-270m"):
        bundled_dir("bundled:gemma-9000")
