"""Tables as small web pages, for the report (Snakemake's report does not show a CSV inline)."""

import html

import pandas as pd

from multihop.files import atomic_path

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
