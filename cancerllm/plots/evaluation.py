"""Chapter 30 figures (notebooks/30_evaluation.ipynb): the F1 forest plot, F1 heatmaps and the confusion
matrices of one system."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .style import FIG_WIDTH, MIN_FONT, _no_data, _short, model_color


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
        ax.scatter(t["f1"], y, c=[model_color(s) for s in t["system"]], zorder=3, s=40)
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


def _top_confusion(m: pd.DataFrame, max_labels: int) -> pd.DataFrame:
    """The square matrix over the labels with the most gold + predicted instances, the others summed into
    "(other)" (a row and a column), so a panel shows where the instances are, not the first labels in sort order."""
    labels = list(dict.fromkeys([*m.index, *m.columns]))
    m = m.reindex(index=labels, columns=labels, fill_value=0)
    weight = (m.sum(axis=1) + m.sum(axis=0)).sort_values(ascending=False, kind="stable")
    weight = weight[weight > 0]
    keep = set(weight.index[: max_labels if len(weight) <= max_labels else max_labels - 1])
    order = [lab for lab in labels if lab in keep] + (["(other)"] if len(weight) > len(keep) else [])
    name = {lab: (lab if lab in keep else "(other)") for lab in labels}
    m = m.groupby(name.get, sort=False).sum().T.groupby(name.get, sort=False).sum().T
    return m.reindex(index=order, columns=order, fill_value=0).rename_axis(index="gold", columns="predicted")


def confusion_grid(mats: dict, system: str, source: str, max_labels: int = 12):
    """Confusion matrices (gold rows, predicted columns, counts) of one system, one panel per field: fields with
    short labels (stages) three to a row with their 6 most frequent labels, a field with long labels (diagnosis)
    on a row of its own with `max_labels`; the other labels are summed into "(other)". Each row is a subfigure,
    so the long labels of one row do not squeeze the panels of another."""
    import numpy as np

    top = {fld: _top_confusion(m, min(max_labels, 6)) for fld, m in mats.items()}
    long = [f for f, m in top.items() if max((len(str(v)) for v in m.index), default=0) > 14]
    short = [f for f in mats if f not in long]
    top.update({fld: _top_confusion(mats[fld], max_labels) for fld in long})
    rows = [short[i:i + 3] for i in range(0, len(short), 3)] + [[f] for f in long]
    heights = [3.0 if r[0] in short else 0.3 * max(len(top[r[0]]), 4) + 2.4 for r in rows] or [1.5]
    fig = plt.figure(figsize=(FIG_WIDTH, sum(heights) + 0.4), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))
    for sub, row in zip(subfigs, rows):
        axes = np.atleast_1d(sub.subplots(1, 3 if row[0] in short else 1))
        for ax in axes[len(row):]:
            ax.remove()  # a short last row: no empty frames
        for ax, fld in zip(axes, row):
            m = top[fld]
            total = int(m.to_numpy().sum())
            ax.set_title(f"{fld.replace('_', ' ')} (n = {total})", fontsize="medium")
            if total == 0:
                _no_data(ax, "no test instance of this field")
                continue
            width, lines = (30, 1) if fld in long else (9, 2)  # "not mentioned" on two lines in a stage panel
            shown = m.rename(index=lambda v, w=width, n=lines: _short(v, w, n),
                             columns=lambda v, w=width, n=lines: _short(v, w, n))
            annot = np.where(m.to_numpy() > 0, m.to_numpy().astype(str), "")
            sns.heatmap(shown, annot=annot, fmt="", annot_kws={"fontsize": MIN_FONT}, cmap="Blues", cbar=False,
                        ax=ax, linewidths=0.5, linecolor="#EEEEEE", square=fld in short)
            ax.set(xlabel="predicted", ylabel="gold")
            ax.tick_params(labelsize=MIN_FONT)
            ax.tick_params(axis="y", rotation=0)
    if not rows:
        _no_data(fig.add_subplot(), "no categorical field in the test set")
    fig.suptitle(f"Confusion matrices, {system}: counts of test instances\n({source})")
    return fig
