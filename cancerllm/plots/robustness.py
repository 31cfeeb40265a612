"""Chapter 40 figures (notebooks/40_robustness.ipynb): F1 under perturbation and the answers to
counterfactual notes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .style import FIG_WIDTH, MIN_FONT, _legend_below, _no_data


def robustness_curves(sweep: pd.DataFrame, metric: str, source: str):
    """Small multiples of F1 against the share of words perturbed: one row per task, one column per system, in
    each panel misspelling (solid) and OCR confusions (dashed) with their 95% CI bands. Axes are shared, so panels
    compare at a glance. Used in notebooks/40_robustness.ipynb."""
    import numpy as np

    sub = sweep[(sweep["metric"] == metric) & sweep["condition"].isin(["misspelling", "ocr"])]
    tasks, systems = list(dict.fromkeys(sub["task"])), list(dict.fromkeys(sub["system"]))
    styles = {"misspelling": ("#4C72B0", "-"), "ocr": ("#DD8452", "--")}
    fig, axes = plt.subplots(max(len(tasks), 1), max(len(systems), 1), squeeze=False, sharex=True, sharey=True,
                             figsize=(FIG_WIDTH, 1.9 * max(len(tasks), 1) + 1.6), layout="constrained")
    for r, task in enumerate(tasks):
        for c, system in enumerate(systems):
            ax, t = axes[r][c], sub[(sub["task"] == task) & (sub["system"] == system)]
            for cond, (color, ls) in styles.items():
                g = t[t["condition"] == cond].sort_values("rate")
                x = 100 * g["rate"]
                ax.plot(x, g["f1"], color=color, ls=ls, marker="o", ms=3,
                        label="misspelling" if cond == "misspelling" else "OCR confusions")
                ax.fill_between(x, g["f1_ci_low"], g["f1_ci_high"], color=color, alpha=0.15, lw=0)
            if t.empty:
                _no_data(ax, "not run")
            if r == 0:
                ax.set_title(system, fontsize=MIN_FONT + 1)
            if c == 0:
                ax.set_ylabel(f"{task.split('_')[0]}\nF1 (×100)")
        rates = 100 * np.sort(sub["rate"].unique())
    if len(sub):
        axes[0][0].set(ylim=(-2, 102), yticks=[0, 50, 100], xticks=[rates[0], rates[-1]] if len(rates) > 1 else rates)
    for ax in axes.flat:
        ax.tick_params(labelsize=MIN_FONT)
    axes[-1][len(systems) // 2].set_xlabel("words perturbed (% of eligible words)")  # centred under the grid
    _legend_below(fig, ncol=2, title="95% CI bands")
    fig.suptitle(f"F1 ({metric}) under typing and scanning noise\n({source})")
    return fig


def evidence_bars(cf: pd.DataFrame, source: str):
    """Counterfactual notes: % of answers that follow the edited note (evidence), repeat the original label
    (prior) or are something else, per system, with 95% bootstrap CIs. Used in notebooks/40_robustness.ipynb."""
    kinds = [("evidence_following", "edited value (evidence-following)", "#55A868"),
             ("prior_following", "original label (prior-following)", "#C44E52"), ("other", "other answer", "#BBBBBB")]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(cf) + 2), 4.2))
    if cf.empty:
        ax.text(0.5, 0.5, "no counterfactual instances in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=f"Answers to counterfactual notes ({source})", xlabel="system", ylabel="answers (% of instances)")
        return fig
    width = 0.8 / len(kinds)
    x = range(len(cf))
    for k, (col, label, color) in enumerate(kinds):
        pos = [i + (k - 1) * width for i in x]
        err = [cf[col] - cf[f"{col}_ci_low"], cf[f"{col}_ci_high"] - cf[col]]
        ax.bar(pos, cf[col], width, yerr=err, capsize=3, color=color, label=label, ecolor="#444444")
    ax.set_xticks(list(x), cf["system"])
    n = ", ".join(sorted({str(int(v)) for v in cf["n"]}))
    ax.set(title=f"Answers to counterfactual notes (n = {n} per system) ({source})", xlabel="system",
           ylabel="answers (% of instances) with 95% CI", ylim=(0, 105))
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
