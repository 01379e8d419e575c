"""Writing outputs atomically, so an interrupted run never leaves a file that looks finished."""

import contextlib
import html
import json
import os
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


TABLE_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
    "th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}th{background:#f3f3f3}"
)


def write_html_table(df: pd.DataFrame, path, title: str) -> None:
    """The table as a small web page, for the report (numbers to 3 decimals, missing values blank)."""
    table = df.to_html(index=False, na_rep="", float_format=lambda x: f"{x:.3f}", border=0)
    numbers = [i + 1 for i, column in enumerate(df.columns) if pd.api.types.is_numeric_dtype(df[column])]
    style = TABLE_STYLE + "".join(f"td:nth-child({i}){{text-align:right}}" for i in numbers)
    page = f"<!doctype html>\n<meta charset='utf-8'>\n<title>{html.escape(title)}</title>\n"
    page += f"<style>{style}</style>\n<h3>{html.escape(title)}</h3>\n{table}\n"
    with atomic_path(path) as tmp:
        tmp.write_text(page)
