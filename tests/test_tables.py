"""cancerllm.tables: how the book renders DataFrames (NaN as "—", whole-number floats as integers)."""

import numpy as np
import pandas as pd

from cancerllm.tables import frame_html, readable, report_tables


def _frame():
    return pd.DataFrame({"steps": [300.0, 60.0], "loss": [1.652, 2.0], "dev loss": [np.nan, np.nan],
                         "params": [1299584.0, np.nan], "same": [True, None], "tokens": [72671, 5]}, index=["general_cpt", "cancer_cpt"])


def test_whole_number_floats_become_integers_and_others_stay():
    out = readable(_frame())
    assert list(out["steps"]) == ["300", "60"] and list(out["params"]) == ["1,299,584", "—"]
    assert list(out["tokens"]) == ["72,671", "5"]
    assert list(out["loss"]) == [1.652, 2.0]  # a column with a fraction is left alone (2.0 included)
    assert out["dev loss"].isna().all()  # all missing: not a whole-number column, left for na_rep
    pd.testing.assert_frame_equal(_frame(), _frame())  # the input is not changed


def test_html_has_no_nan_and_no_float_counts():
    html = frame_html(_frame())
    assert "NaN" not in html and "None" not in html and "1299584.0" not in html and "300.0" not in html
    assert html.count("<td>—</td>") == 4 and "<td>1,299,584</td>" in html and "<td>1.652</td>" in html


def test_report_tables_registers_the_formatter_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    report_tables()  # outside IPython: nothing to register, no error
    shell = InteractiveShell.instance()
    try:
        report_tables()
        data, _ = shell.display_formatter.format(_frame())
        assert data["text/html"] == frame_html(_frame())
    finally:
        InteractiveShell.clear_instance()


def test_long_text_cells_may_wrap_and_short_ones_do_not():
    prompt = "You are an excellent linguist. The task is to answer the question by given the context or text."
    html = frame_html(pd.DataFrame({"F1 (95% CI)": ["20.8 (15.8–25.8)"], "prompt": [prompt]}))
    assert f'<td class="long-text">{prompt}</td>' in html
    assert "<td>20.8 (15.8–25.8)</td>" in html  # a CI stays a plain cell, kept on one line by the book's CSS


def test_book_css_keeps_cells_on_one_line_and_scrolls_wide_tables():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[1] / "book" / "_static" / "report.css").read_text(encoding="utf-8")
    assert "white-space: nowrap" in css and "overflow-x: auto" in css and "td.long-text" in css
    assert "white-space: pre-wrap" in css  # printed prompts wrap
