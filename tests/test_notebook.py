"""docs/notebook.ipynb runs top to bottom on the tiny test model, so the notebook API cannot rot."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_the_example_notebook_runs_and_draws_every_analysis(tmp_path):
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    # run where the tiny model may be built (resources/), not in the repository
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    printed = "".join(output.get("text", "") for cell in code for output in cell.outputs)
    assert "the spouse of the performer of Imagine is" in printed
    images = [output for cell in code for output in cell.outputs if "image/png" in output.get("data", {})]
    assert len(images) == 4  # one figure per analysis, each shown once
    assert (tmp_path / "resources" / "models" / "tiny-llama" / "config.json").is_file()


def test_the_stored_notebook_shows_what_it_printed_and_drew():
    """`make notebook` stores its outputs, so a reader online sees them (no progress bars)."""
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 4
    assert not any(output.get("name") == "stderr" for output in outputs)
