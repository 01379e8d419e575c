"""A shard's finished cases, kept on disk as it goes, so that a shard killed part-way (SIGKILL,
preemption, a lost node) resumes at its first unfinished case instead of starting again.

Each case's rows go to their own Parquet file in a folder beside the shard's output; the folder
also holds the fingerprint of everything the rows depend on (analysis, model, settings, cases,
code). A rerun with the same fingerprint keeps the files; any other fingerprint discards them.
Once the shard's output is written, the folder goes.
"""

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from multihop.files import read_json, write_json, write_parquet

FINGERPRINT = "fingerprint.json"


def fingerprint(**inputs) -> str:
    """A digest of JSON-able `inputs` (the code among them as multihop.dependencies.code_digest)."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class FinishedCases:
    """The finished cases of one shard, in `folder`: case i of the shard is `case_{i}.parquet`."""

    def __init__(self, folder, digest: str):
        self.folder = Path(folder)
        marker = self.folder / FINGERPRINT
        if self.folder.exists() and (not marker.exists() or read_json(marker) != digest):
            kept = len(list(self.folder.glob("case_*.parquet")))
            logging.info("discarding %d finished cases of an earlier attempt with other inputs", kept)
            shutil.rmtree(self.folder)
        if not marker.exists():
            write_json(digest, marker)

    def _path(self, index: int) -> Path:
        return self.folder / f"case_{index:05d}.parquet"

    def has(self, index: int) -> bool:
        return self._path(index).exists()

    def count(self) -> int:
        return len(list(self.folder.glob("case_*.parquet")))

    def put(self, index: int, rows: pd.DataFrame) -> None:
        write_parquet(rows, self._path(index))  # atomic: a case is either all there or not at all

    def get(self, index: int) -> pd.DataFrame:
        return pd.read_parquet(self._path(index))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
