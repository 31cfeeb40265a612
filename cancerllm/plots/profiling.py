"""Chapter 00 figures (notebooks/00_data_profiling.ipynb): patients per cancer type and split, note lengths,
gold label status and most frequent gold values per field, clinical abbreviations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .style import FIG_WIDTH, MIN_FONT, SPLIT_COLORS, _legend_below, _no_data, _short


def cohort_bars(table: pd.DataFrame, source: str):
    """Stacked bars: patients per cancer type, coloured by split."""
    tab = table.drop(index="all types", errors="ignore").drop(columns="total")
    fig, ax = plt.subplots(figsize=(9, max(3, 0.28 * len(tab) + 1)))
    tab.iloc[::-1].plot.barh(stacked=True, ax=ax, color=[SPLIT_COLORS[c] for c in tab.columns], width=0.8)
    ax.set(title=f"Patients per cancer type and split ({source})", xlabel="patients", ylabel="cancer type")
    ax.legend(title="split", loc="lower right")
    fig.tight_layout()
    return fig


def length_histograms(lengths: pd.DataFrame, source: str, column: str = "words"):
    """Distribution of note length per note type (log-scaled x when lengths span decades)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.histplot(data=lengths, x=column, hue="note_type", bins=40, element="step", ax=ax, log_scale=column != "tokens")
    unit = {"words": "whitespace tokens", "characters": "characters", "tokens": "BPE tokens"}[column]
    ax.set(title=f"Note length by note type ({source})", xlabel=f"length ({unit}, log scale)", ylabel="notes")
    fig.tight_layout()
    return fig


def label_status_bars(status: pd.DataFrame, source: str):
    """Per field: stated / not mentioned / no label, as stacked horizontal bars. A status no field has (e.g. no
    "not mentioned" gold answer in the whole cohort) is left out of bars and legend, and the figure says so."""
    colors = {"stated": "#4C72B0", "not mentioned": "#C44E52", "no label": "#BBBBBB"}
    cols = [c for c in colors if status[c].sum() > 0]
    absent = [c for c in colors if c not in cols]
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.4 * len(status) + 2), layout="constrained")
    status[cols].iloc[::-1].plot.barh(stacked=True, ax=ax, color=[colors[c] for c in cols], width=0.8, legend=False)
    ax.set(title=f"Gold label status per field ({source})", xlabel="patients", ylabel="field")
    note = f"   ({' and '.join(absent)}: 0 patients in every field)" if absent else ""
    _legend_below(fig, *ax.get_legend_handles_labels(), title=f"gold label{note}")
    return fig


def label_value_grid(counts: pd.DataFrame, source: str, ncols: int = 2):
    """Small multiples: the most frequent gold values of each field, `ncols` panels a row (long values wrap onto
    two lines); with an odd number of fields the last panel takes the whole row, so no slot is left empty."""
    fields = list(dict.fromkeys(counts["field"]))
    nrows = max(1, -(-len(fields) // ncols))
    per_row = [max((counts["field"] == f).sum() for f in fields[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
    fig = plt.figure(figsize=(FIG_WIDTH, sum(0.36 * n + 0.9 for n in per_row) + 0.6), layout="constrained")
    grid = fig.add_gridspec(nrows, ncols, height_ratios=[0.36 * n + 0.9 for n in per_row])
    for i, fld in enumerate(fields):
        r, c = divmod(i, ncols)
        last = i == len(fields) - 1
        ax = fig.add_subplot(grid[r, c:] if last else grid[r, c])
        sub = counts[counts["field"] == fld]
        ax.barh([_short(v) for v in sub["value"]][::-1], sub["patients"].to_numpy()[::-1], color="#4C72B0")
        ax.set_title(fld, fontsize="medium")
        ax.set_xlabel("patients")
        ax.tick_params(axis="y", labelsize=MIN_FONT)
    if not fields:
        _no_data(fig.add_subplot(grid[0, :]), "no labelled field in this cohort")
    fig.suptitle(f"Most frequent gold values per field\n({source})")
    return fig


def abbreviation_bars(abbr: pd.DataFrame, source: str, top: int = 15):
    """Notes that use each clinical abbreviation."""
    sub = abbr.head(top)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(sub["abbreviation"], sub["notes"], color="#8172B3")
    ax.set(title=f"Clinical abbreviations in the notes ({source})", xlabel="abbreviation", ylabel="notes using it")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig
