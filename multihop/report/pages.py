"""Tables as small web pages, for the report (Snakemake's report does not show a CSV inline)."""

import html

import pandas as pd

from multihop.files import atomic_path

TABLE_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
    "th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}th{background:#f3f3f3}"
)


def _table(df: pd.DataFrame, name: str) -> tuple[str, str]:
    """A table's HTML (numbers to 3 decimals, missing values blank) and the style that right-aligns its numbers."""
    table = df.to_html(index=False, na_rep="", float_format=lambda x: f"{x:.3f}", border=0, table_id=name)
    numbers = [i + 1 for i, column in enumerate(df.columns) if pd.api.types.is_numeric_dtype(df[column])]
    return table, "".join(f"#{name} td:nth-child({i}){{text-align:right}}" for i in numbers)


def write_html_table(df: pd.DataFrame, path, title: str, *, first: list[str] | None = None) -> None:
    """The table as a small web page, for the report. With `first`, the page opens on those
    columns alone (what a reader needs), and the whole table follows under "every column"."""
    parts = [("", df[first], "reader")] if first else []
    parts.append(("every column" if first else "", df, "table"))
    style, body = TABLE_STYLE, ""
    for heading, table, name in parts:
        markup, aligned = _table(table, name)
        style += aligned
        body += (f"<h4>{html.escape(heading)}</h4>\n" if heading else "") + markup + "\n"
    page = f"<!doctype html>\n<meta charset='utf-8'>\n<title>{html.escape(title)}</title>\n"
    page += f"<style>{style}</style>\n<h3>{html.escape(title)}</h3>\n{body}"
    with atomic_path(path) as tmp:
        tmp.write_text(page)
