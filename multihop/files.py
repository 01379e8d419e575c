"""Reading and writing the project's files; every write is atomic, so an interrupted run never
leaves a file that looks finished."""

import contextlib
import glob
import json
import os
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds.

    A writer killed outright (SIGKILL) leaves its temporary sibling behind, never `path`; the
    next write of `path` removes such leftovers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(df: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_parquet(df: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def read_table(path) -> pd.DataFrame:
    """Read a CSV table of this project; empty cells stay empty strings (a label may be 'NA')."""
    return pd.read_csv(path, keep_default_na=False)
