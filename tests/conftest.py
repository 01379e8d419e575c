import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def config():
    """The project's default config.yaml, as a dict."""
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture
def tiny_dump(tmp_path):
    """A copy of the tiny excerpt (8 items, 8 statements) in a temp dir."""
    path = tmp_path / "tiny.nt"
    shutil.copy(DATA / "tiny.nt", path)
    return path
