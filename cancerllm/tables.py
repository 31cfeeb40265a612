"""How the book's tables read: every DataFrame a chapter shows is rendered by `frame_html` once a notebook has
called `report_tables()` (its setup cell does). Missing values print as "—" instead of NaN; integer columns, and
float columns that hold only whole numbers (steps, parameter counts), print as integers with thousands
separators ("1,299,584", not "1299584.0"). The data are not changed: only their HTML."""

from __future__ import annotations

import math
import re

import pandas as pd

MISSING = "—"


def _whole(col: pd.Series) -> bool:
    vals = col.dropna()
    return pd.api.types.is_float_dtype(col) and len(vals) > 0 and bool((vals % 1 == 0).all()) \
        and bool((vals.abs() < 1e15).all())


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose integer and whole-number float columns are formatted integers ("1,299,584") and whose missing
    values in those and in text columns are "—" (float columns keep NaN for `to_html`'s na_rep)."""
    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if pd.api.types.is_integer_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out.isetitem(i, col.map(lambda v: f"{int(v):,}"))
        elif _whole(col):
            out.isetitem(i, col.map(lambda v: MISSING if _missing(v) else f"{int(v):,}"))
        elif col.dtype == object:
            out.isetitem(i, col.map(lambda v: MISSING if _missing(v) else v))
    return out


LONG_TEXT = 60  # characters: a cell longer than this (a prompt, an answer) may wrap; shorter cells never do


def frame_html(df: pd.DataFrame) -> str:
    """The HTML a notebook shows for `df`: `readable(df)`, missing values as "—", pandas' row/column limits. The
    book's CSS (book/_static/report.css) keeps cells on one line, so a CI never wraps; a cell of more than
    LONG_TEXT characters gets class "long-text", which may wrap, so a long prompt stays inside the column."""
    html = readable(df).to_html(na_rep=MISSING, max_rows=pd.get_option("display.max_rows"),
                                max_cols=pd.get_option("display.max_columns"), border=0)
    return re.sub(rf"<td>([^<]{{{LONG_TEXT + 1},}})</td>", r'<td class="long-text">\1</td>', html)


def report_tables() -> None:
    """Render this kernel's DataFrames with `frame_html` (a no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
