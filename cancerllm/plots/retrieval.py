"""Chapter 60 figures (notebooks/60_retrieval.ipynb): the F1 gain from retrieved examples and F1 against the
number of examples k, one colour per retriever."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .style import FIG_WIDTH, MIN_FONT, _legend_below, _no_data

RETRIEVER_COLORS = {"none": "#999999", "bm25": "#4C72B0", "tfidf": "#55A868", "char_ngram": "#C44E52"}


def retrieval_gain(gains: pd.DataFrame, source: str):
    """F1 with retrieval minus without (paired-bootstrap 95% CI) per model and retriever, one row per task, each
    bar labelled with its value (a gain of exactly 0 is a number, not an empty panel); clean notes only. The
    panel title gives the number of paired test questions. Used in notebooks/60_retrieval.ipynb."""
    import numpy as np

    sub = gains[gains["noise"] == 0]
    tasks, retr = list(dict.fromkeys(sub["task"])), list(dict.fromkeys(sub["retriever"]))
    systems = list(dict.fromkeys(sub["system"]))
    fig, axes = plt.subplots(max(len(tasks), 1), 1, squeeze=False, figsize=(FIG_WIDTH, 2.9 * max(len(tasks), 1) + 1),
                             layout="constrained")
    width = 0.8 / max(len(retr), 1)
    for ax, task in zip(axes[:, 0], tasks):
        t = sub[sub["task"] == task]
        for j, name in enumerate(retr):
            g = t[t["retriever"] == name].set_index("system").reindex(systems)
            x = np.arange(len(systems)) + (j - (len(retr) - 1) / 2) * width
            ax.bar(x, g["diff"], width, yerr=[g["diff"] - g["ci_low"], g["ci_high"] - g["diff"]], capsize=3,
                   color=RETRIEVER_COLORS.get(name), label=name, ecolor="#444444")
            for xi, d, lo, hi in zip(x, g["diff"], g["ci_low"], g["ci_high"]):
                if pd.notna(d):
                    ax.annotate(f"{d:+.1f}", (xi, hi if d >= 0 else lo), xytext=(0, 3 if d >= 0 else -3),
                                textcoords="offset points", ha="center", va="bottom" if d >= 0 else "top",
                                fontsize=MIN_FONT)
        ax.axhline(0, color="#333333", lw=0.8)
        ax.margins(y=0.2)
        ax.set_xticks(range(len(systems)), systems)
        n = ", ".join(str(int(v)) for v in sorted(t["n"].dropna().unique())) if "n" in t else ""
        warn = " (< 30: wide CIs)" if n and t["n"].min() < 30 else ""
        ax.set(title=task.replace("_", " ") + (f", n = {n} paired test questions{warn}" if n else ""),
               xlabel="model", ylabel="F1 gain (×100)\nwith 95% CI")
    if not tasks:
        _no_data(axes[0][0], "no retrieval condition in this run")
    k = int(sub["k"].iloc[0]) if len(sub) else 0
    if len(sub):
        _legend_below(fig, *axes[0][0].get_legend_handles_labels(), ncol=len(retr), title=f"retriever (k = {k})")
    fig.suptitle(f"F1 with retrieved examples minus without, clean notes\n({source})")
    return fig


def k_sweep(scores: pd.DataFrame, source: str, system: str | None = None, metric: str = "rouge_l_reference"):
    """F1 (95% CI as error bars, nudged sideways per retriever so they do not hide each other) against the number
    of retrieved examples k, one colour per retriever (solid: the model, dashed: kNN majority of the retrieved
    answers), clean notes, one panel per task; k = 0 is no retrieval. The legend sits under the panels.
    Used in notebooks/60_retrieval.ipynb."""
    sub = scores[(scores["metric"] == metric) & (scores["noise"] == 0)]
    lms = [s for s in dict.fromkeys(sub["system"]) if s != "knn"]
    system = system or ("cancer_cpt" if "cancer_cpt" in lms else lms[-1])
    tasks = list(dict.fromkeys(sub["task"]))
    fig, axes = plt.subplots(1, max(len(tasks), 1), squeeze=False, sharey=True, layout="constrained",
                             figsize=(FIG_WIDTH, 4.4))
    for ax, task in zip(axes[0], tasks):
        t = sub[sub["task"] == task]
        base = t[(t["k"] == 0) & (t["system"] == system)]
        names = [r for r in dict.fromkeys(t["retriever"]) if r != "none"]
        for j, name in enumerate(names):
            dx = 0.08 * (j - (len(names) - 1) / 2)
            for who, ls in ((system, "-"), ("knn", "--")):
                line = t[(t["retriever"] == name) & (t["system"] == who)]
                if who == system:
                    line = pd.concat([base, line])
                line = line.sort_values("k")
                ax.errorbar(line["k"] + dx, line["f1"], yerr=[line["f1"] - line["f1_ci_low"],
                            line["f1_ci_high"] - line["f1"]], ls=ls, marker="o", ms=4, capsize=2, lw=1.4,
                            color=RETRIEVER_COLORS.get(name), label=f"{name}: {'kNN' if who == 'knn' else system}")
        ax.set(title=task.replace("_", " "), xlabel="retrieved examples (k)", ylim=(-2, 102))
        ax.set_xticks(sorted(t["k"].unique()))
    axes[0][0].set_ylabel("F1 (×100) with 95% CI")
    if not tasks:
        _no_data(axes[0][0], "no retrieval condition in this run")
    else:
        _legend_below(fig, ncol=3)
    fig.suptitle(f"F1 ({metric}) against k, {system} and kNN\n({source})")
    return fig
