import copy
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TEST_RUN = ROOT / ".test"  # the tiny run anyone can start by hand


@pytest.fixture(scope="session")
def config():
    """The project's default config.yaml, as a dict."""
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture
def tiny_dump(tmp_path):
    """A copy of the tiny excerpt of .test/ (8 items, 6 two-hop chains) in a temp dir."""
    path = tmp_path / "tiny.nt"
    shutil.copy(TEST_RUN / "tiny.nt", path)
    return path


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` laid over it as Snakemake merges config files: a section's keys over
    the base section's, other values (lists, numbers) replaced."""
    out = copy.deepcopy(base)
    for section, values in changes.items():
        out[section] = {**out.get(section, {}), **values} if isinstance(values, dict) else values
    return out
