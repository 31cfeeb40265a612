"""Training figures (notebooks/10_continued_pretraining.ipynb, 20_instruction_tuning.ipynb): loss curves and
held-out perplexity."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .style import MODEL_COLORS


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
