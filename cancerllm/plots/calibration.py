"""Chapter 35 figures (notebooks/35_calibration.ipynb): reliability diagrams and coverage–accuracy curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .style import model_color


def reliability_diagrams(bins: pd.DataFrame, source: str):
    """Accuracy against mean confidence per confidence bin, one panel per task, one colour per system; marker
    area ~ answers in the bin; the diagonal is perfect calibration (below it = overconfident).
    `bins`: columns task, system, confidence, accuracy, n (``calibration.reliability`` rows, stacked)."""
    tasks = list(dict.fromkeys(bins["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 6.0), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls=":", label="perfect calibration")
        for system, g in bins[bins["task"] == task].groupby("system", sort=False):
            color = model_color(system.split(" ")[0])
            ax.plot(g["confidence"], g["accuracy"], color=color, lw=1.2, label=system)
            ax.scatter(g["confidence"], g["accuracy"], s=8 + 120 * g["n"] / max(g["n"].max(), 1), color=color,
                       alpha=0.7, lw=0)
        ax.set(title=task.replace("_", " "), xlabel="mean confidence in bin", ylabel="exact-match accuracy in bin",
               xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal")
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # each panel's kinds
    fig.suptitle(f"Reliability diagrams, test split ({source})")
    fig.tight_layout()
    return fig


def coverage_risk_curves(curves: pd.DataFrame, source: str, target: float | None = None):
    """Accuracy of the answers kept against the share kept (most confident first), one panel per task;
    `target` draws the accuracy the defer threshold aims for. `curves`: columns task, system, coverage,
    accuracy (``calibration.coverage_risk`` rows, stacked)."""
    tasks = list(dict.fromkeys(curves["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.6 * len(tasks), 4.2), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        for system, g in curves[curves["task"] == task].groupby("system", sort=False):
            ax.step(100 * g["coverage"], 100 * g["accuracy"], where="post", color=model_color(system.split(" ")[0]),
                    label=system)
        if target is not None:
            ax.axhline(100 * target, color="#999999", ls=":", lw=1, label=f"target {100 * target:.0f}%")
        ax.set(title=task.replace("_", " "), xlabel="answers kept (% of test answers, most confident first)",
               ylabel="exact-match accuracy of kept answers (%)", xlim=(0, 101), ylim=(-2, 102))
    axes[0][-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"Coverage–accuracy: what deferring the least confident answers buys ({source})")
    fig.tight_layout()
    return fig
