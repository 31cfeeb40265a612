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
    if not cohort.is_real:
        return "synthetic data"
    return f"REAL data: {cohort.name}"


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


MODEL_COLORS = {"base": "#999999", "no_cpt": "#4C72B0", "general_cpt": "#DD8452", "cancer_cpt": "#C44E52",
                "zero_shot": "#999999", "rule": "#8172B3", "tfidf_logreg": "#55A868"}


def loss_curves(results: dict, title: str, source: str):
    """Training loss (solid) and dev loss (dashed, markers) against optimizer step, one colour per model."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, res in results.items():
        hist = res.get("log_history") or []
        tr = [(h["step"], h["loss"]) for h in hist if "loss" in h]
        ev = [(h["step"], h["eval_loss"]) for h in hist if "eval_loss" in h]
        color = MODEL_COLORS.get(name)
        if tr:
            ax.plot(*zip(*tr), color=color, lw=1.4, label=f"{name} train")
        if ev:
            ax.plot(*zip(*ev), color=color, lw=1.4, ls="--", marker="o", label=f"{name} dev")
    ax.set(title=f"{title} ({source})", xlabel="optimizer step", ylabel="cross-entropy loss (nats/token)")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def perplexity_bars(ppl: pd.DataFrame, source: str):
    """Held-out perplexity per model (rows) and corpus (columns), log scale."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ppl.plot.bar(ax=ax, color=["#C44E52", "#4C72B0"][: ppl.shape[1]], rot=0, logy=True)
    ax.set(title=f"Held-out perplexity before and after CPT ({source})", xlabel="model",
           ylabel="perplexity (lower is better, log scale)")
    ax.legend(title="held-out text")
    fig.tight_layout()
    return fig


def forest(scores: pd.DataFrame, metric: str, source: str):
    """F1 with 95% bootstrap CI per system, one panel per task (the headline comparison)."""
    sub = scores[scores["metric"] == metric]
    tasks = list(dict.fromkeys(sub["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 0.45 * sub["system"].nunique() + 1.8),
                             squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        t = sub[sub["task"] == task].iloc[::-1]
        y = range(len(t))
        ax.errorbar(t["f1"], y, xerr=[t["f1"] - t["f1_ci_low"], t["f1_ci_high"] - t["f1"]], fmt="none",
                    ecolor="#555555", capsize=3)
        ax.scatter(t["f1"], y, c=[MODEL_COLORS.get(s, "#333333") for s in t["system"]], zorder=3, s=40)
        ax.set_yticks(list(y), t["system"])
        ax.set(title=task.replace("_", " "), xlabel=f"F1 (×100, {metric}) with 95% CI", xlim=(-2, 102))
    fig.suptitle(f"Test-set F1 per system ({source})")
    fig.tight_layout()
    return fig


def heatmap(table: pd.DataFrame, title: str, source: str, xlabel: str = "system", ylabel: str = ""):
    """Annotated heatmap of F1 (×100) — rows a group (field or cancer type), columns systems."""
    fig, ax = plt.subplots(figsize=(1.1 * table.shape[1] + 3, 0.38 * table.shape[0] + 1.8))
    sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis", vmin=0, vmax=100, ax=ax,
                cbar_kws={"label": "F1 (×100)"})
    ax.set(title=f"{title} ({source})", xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def confusion_grid(mats: dict, system: str, source: str, max_labels: int = 12):
    """Confusion matrices (gold rows, predicted columns) of one system, one panel per field."""
    n = len(mats)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.4), squeeze=False)
    for ax, (fld, m) in zip(axes[0], mats.items()):
        m = m.iloc[:max_labels, :max_labels]
        sns.heatmap(m, annot=m.shape[0] <= 8, fmt="d", cmap="Blues", cbar=False, ax=ax)
        ax.set(title=fld, xlabel="predicted", ylabel="gold")
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Confusion matrices, {system} ({source})")
    fig.tight_layout()
    return fig
