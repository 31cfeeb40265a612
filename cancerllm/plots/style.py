"""The figures' shared style: the seaborn theme (set on import), the column width and smallest font every
figure keeps to, the split, system and arm colours, one legend under the panels, the empty-panel note, label
wrapping, the data-source label and `save`."""

from __future__ import annotations

import hashlib
import re

import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")  # notebook context: ticks and legends 11 pt, labels 12 pt
SPLIT_COLORS = {"train": "#4C72B0", "dev": "#DD8452", "test": "#55A868"}

# The book's text column is ~730 px and notebooks show figures at 100 dpi, so a figure up to COLUMN_WIDTH inches
# wide is shown at its own size and one wider is shrunk (a 14-inch figure to half: its 11 pt ticks read as 5.5 pt).
# Figures here are at most COLUMN_WIDTH wide and no text is under MIN_FONT pt; more panels means more rows, not a
# wider figure. tests/test_plots.py checks both on every figure.
COLUMN_WIDTH = 7.3
FIG_WIDTH = 7.0  # the saved tight bbox adds a little (an outside legend, a twin axis) and must stay within the column
MIN_FONT = 9


def _legend_below(fig, handles=None, labels=None, ncol: int = 3, **kw):
    """One figure legend under the axes, outside every panel (needs layout="constrained")."""
    if handles is None:
        handles, labels = fig.axes[0].get_legend_handles_labels()
    return fig.legend(handles, labels, loc="outside lower center", ncol=min(ncol, max(len(handles), 1)),
                      frameon=False, fontsize=MIN_FONT + 1, **kw)


def _no_data(ax, why: str):
    """Say in the panel why it is empty instead of leaving a blank frame."""
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, fontsize=MIN_FONT + 1, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _short(label: str, width: int = 24, lines: int = 2) -> str:
    """A long category label wrapped onto at most `lines` lines of `width` characters (ellipsis beyond)."""
    import textwrap

    parts = textwrap.wrap(str(label), width) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "…"
    return "\n".join(parts)


def data_label(cohort) -> str:
    if not cohort.is_real:
        return "synthetic data"
    return f"REAL data: {cohort.name}"


def save(fig, path):
    """Save a figure as PNG (150 dpi) next to the stage's metrics and return it, so a cell can show it."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


MODEL_COLORS = {"base": "#999999", "no_cpt": "#4C72B0", "general_cpt": "#DD8452", "cancer_cpt": "#C44E52",
                "zero_shot": "#999999", "rule": "#8172B3", "tfidf_logreg": "#55A868"}
#: external arms (params key `arms`) take these in name order, after the built-in systems' colours
ARM_COLORS = ["#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD", "#17BECF", "#BCBD22", "#2CA02C"]


def model_color(name: str, default: str = "#333333") -> str:
    """A system's colour: the built-in systems' fixed ones; an external arm's from ARM_COLORS by a stable hash of
    its name (the same arm has the same colour in every figure)."""
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    if re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        return ARM_COLORS[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(ARM_COLORS)]
    return default
