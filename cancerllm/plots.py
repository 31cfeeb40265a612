"""Figures. Every function returns a matplotlib Figure with a title, labelled axes (with units) and the data
source in the title, so a reader can tell synthetic from real at a glance.
Used in notebooks/00_data_profiling.ipynb (and later chapters).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")
SPLIT_COLORS = {"train": "#4C72B0", "dev": "#DD8452", "test": "#55A868"}


def data_label(cohort) -> str:
    return f"{cohort.name} — {'REAL' if cohort.is_real else 'synthetic'} data"


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
    """Per field: stated / not mentioned / no label, as stacked horizontal bars."""
    cols = ["stated", "not mentioned", "no label"]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(status) + 1.5))
    status[cols].iloc[::-1].plot.barh(stacked=True, ax=ax, color=["#4C72B0", "#C44E52", "#BBBBBB"], width=0.8)
    ax.set(title=f"Gold label status per field ({source})", xlabel="patients", ylabel="field")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def label_value_grid(counts: pd.DataFrame, source: str, ncols: int = 3):
    """Small multiples: the most frequent gold values of each field."""
    fields = list(dict.fromkeys(counts["field"]))
    nrows = -(-len(fields) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 2.6 * nrows), squeeze=False)
    for ax, fld in zip(axes.flat, fields):
        sub = counts[counts["field"] == fld]
        ax.barh([v[:32] for v in sub["value"]][::-1], sub["patients"].to_numpy()[::-1], color="#4C72B0")
        ax.set_title(fld, fontsize="medium")
        ax.set_xlabel("patients")
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(fields):]:
        ax.set_visible(False)
    fig.suptitle(f"Most frequent gold values per field ({source})")
    fig.tight_layout()
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


def save(fig, path):
    """Save a figure as PNG (150 dpi) next to the stage's metrics and return it, so a cell can show it."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
