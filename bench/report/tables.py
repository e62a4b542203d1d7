"""The report's tables as pandas DataFrames of formatted cells, and their Markdown form."""

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

MISSING = "n/a"


def fmt(value: Any, spec: str | None = None) -> str:
    """`value` formatted with `spec`, or "n/a" where it is missing (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec) if spec else str(value)


MARKDOWN_SPECIALS = "\\`*[]!#"  # "_" only emphasises whole words: ids keep theirs


def plain(text: Any) -> str:
    """Free text from a result file (a CPU model, a version, a reason) as literal Markdown.

    Its emphasis, link and image syntax is escaped, so it shows as written; "|" is escaped by
    `to_markdown` and "<" by the report's last pass (bench.report.markdown.neutralise).
    """
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIALS else c for c in str(text))


def formatted(values: pd.Series, spec: str | None = None) -> pd.Series:
    """Each value of `values` through `fmt`."""
    return values.map(lambda value: fmt(value, spec))


def to_markdown(frame: pd.DataFrame, numeric: Iterable[str] = (), index: bool = False) -> str:
    """`frame` as a GitHub table, cells verbatim, the `numeric` columns right-aligned."""
    numeric = set(numeric)
    align = ["right" if column in numeric else "left" for column in frame.columns]
    if index:
        align.insert(0, "left")
    cells = frame.map(lambda cell: str(cell).replace("|", "\\|"))
    return cells.to_markdown(index=index, disable_numparse=True, colalign=align)


def skipped_table(skipped: list[tuple[str, str]]) -> str:
    """The files left out and why, as a Markdown table."""
    return to_markdown(pd.DataFrame(skipped, columns=["file", "reason"]))
