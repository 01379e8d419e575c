"""Run docs/notebook.ipynb top to bottom and store its outputs in it, so a reader online sees its
printouts and figures (`make notebook`). It runs in a temporary folder (where the tiny model is
built), not in the repository; tests/test_notebook.py runs it the same way."""

import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from multihop.files import atomic_path

NOTEBOOK = Path(__file__).resolve().parent / "notebook.ipynb"


def main() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
    for cell in notebook.cells:
        # timings and progress bars differ every run (and name this machine's paths): kept out
        cell.metadata.pop("execution", None)
        if "outputs" in cell:
            cell.outputs = [out for out in cell.outputs if out.get("name") != "stderr"]
    with atomic_path(NOTEBOOK) as tmp:
        nbformat.write(notebook, tmp)
    print(f"{NOTEBOOK}: outputs stored")


if __name__ == "__main__":
    main()
