"""Figures. Every function returns a matplotlib Figure with a title, labelled axes (with units) and the data
source in the title, so a reader can tell synthetic from real at a glance.
Used in notebooks/00_data_profiling.ipynb (and later chapters).
"""

from __future__ import annotations

import hashlib
import re

import matplotlib.pyplot as plt
import pandas as pd
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


# ----------------------------------------------------------------------------- efficiency (notebooks/50_efficiency.ipynb)
def scaling_frontier(scaling: pd.DataFrame, hardware: str):
    """Left: seconds per 100 instruction-tuning steps against parameters (log-log), one point per width.
    Right: dev loss reached against training seconds, the accuracy/cost frontier. Used in 50_efficiency."""
    scaling = scaling.sort_values("params")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.plot(scaling["params"], scaling["s per 100 steps"], marker="o", color="#4C72B0")
    b.plot(scaling["seconds"], scaling["dev loss"], marker="o", color="#C44E52")
    for h, r in scaling.iterrows():
        a.annotate(f"hidden {h}", (r["params"], r["s per 100 steps"]), textcoords="offset points", xytext=(5, -12),
                   fontsize="small")
        b.annotate(f"{r['params'] / 1e6:.2g}M params", (r["seconds"], r["dev loss"]), textcoords="offset points",
                   xytext=(5, 4), fontsize="small")
    a.set(xscale="log", yscale="log", title="Training time against model size", xlabel="parameters (log scale)",
          ylabel="seconds per 100 SFT steps (log scale)")
    a.set_xticks(list(scaling["params"]), [f"{p / 1e6:.2g}M" for p in scaling["params"]])
    a.xaxis.set_minor_locator(plt.NullLocator())
    b.set(title="Dev loss reached against training time", xlabel="training wall time (s)",
          ylabel="dev loss after the sweep's steps (nats/token)")
    method = scaling["method"].iloc[0] if "method" in scaling else "LoRA"
    fig.suptitle(f"Scaling sweep, {method} SFT from random init (measured here, {hardware})")
    fig.tight_layout()
    return fig


def stage_cost_bars(costs: pd.DataFrame, hardware: str):
    """Seconds per 100 steps and tokens/s of every training run of stages 10 and 20. Used in 50_efficiency."""
    labels = costs["stage"] + " " + costs["model"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(costs) + 2))
    colors = [model_color(m, "#777777") for m in costs["model"]]
    for ax, col, xlabel in zip(axes, ["s per 100 steps", "tokens/s"], ["seconds per 100 optimizer steps",
                                                                      "training tokens per second"]):
        ax.barh(labels[::-1], pd.to_numeric(costs[col], errors="coerce").fillna(0)[::-1], color=colors[::-1])
        ax.set(xlabel=xlabel, title=col)
    fig.suptitle(f"Cost of each training run (measured here, {hardware})")
    fig.tight_layout()
    return fig


def lora_full_bars(table: pd.DataFrame, hardware: str):
    """Full fine-tuning vs LoRA: seconds per step, peak memory, trainable parameters, checkpoint size, as a 2 x 2
    grid of bar panels, each bar labelled with its value. Used in 50_efficiency."""
    panels = [("step_seconds", "seconds per step", "{:.2f} s"), ("peak_rss_gb", "peak RSS (GiB)", "{:.2f} GiB"),
              ("params_trainable", "trainable parameters (millions)", None),
              ("checkpoint_mb", "saved weights (MiB)", "{:.2f} MiB")]
    fig, axes = plt.subplots(2, 2, figsize=(FIG_WIDTH, 5.4), layout="constrained")
    for ax, (col, label, fmt) in zip(axes.flat, panels):
        vals = pd.to_numeric(table[col])
        if fmt is None:
            vals, fmt = vals / 1e6, "{:.2f}M"
        bars = ax.bar(table.index, vals, color=["#4C72B0", "#DD8452"][: len(table)])
        ax.bar_label(bars, [fmt.format(v) for v in vals], fontsize=MIN_FONT + 1, padding=2)
        ax.margins(y=0.18)
        ax.set(title=label, ylabel=label.split(" (")[-1].rstrip(")") if "(" in label else "seconds")
    fig.suptitle(f"Full fine-tuning vs LoRA, same model, data and steps\n(measured here, {hardware})")
    return fig


def extraction_panels(costs: pd.DataFrame, hardware: str):
    """Note-level extraction cost (``efficiency.extraction.extraction_costs``): seconds against reports, with the
    reference's loop as a point; seconds per report against batch size; one report at a time, seconds against
    its passages; the reading pass against model size. Used in 50_efficiency."""
    fig, axes = plt.subplots(2, 2, figsize=(FIG_WIDTH, 6.6), layout="constrained")
    (rep_ax, bs_ax), (one_ax, size_ax) = axes
    rep = costs[costs["experiment"] == "reports"]
    rep_ax.plot(rep["reports"], rep["seconds"], marker="o", color="#4C72B0", label="ours (inference.predict)")
    ref = costs[costs["experiment"] == "reference loop"]
    if len(ref):
        rep_ax.scatter(ref["reports"], ref["seconds"], color="#C44E52", zorder=3,
                       label="reference loop (one prompt at a time)")
    rep_ax.set(title="Reports extracted", xlabel="reports (every field + diagnosis)", ylabel="seconds")
    bs = costs[costs["experiment"] == "batch size"]
    bs_ax.plot(bs["setting"].astype(int), bs["seconds per report"], marker="s", color="#55A868")
    bs_ax.set(title="Batch size", xlabel="prompts per forward pass", ylabel="seconds per report")
    one = costs[costs["experiment"] == "one report at a time"]
    one_ax.scatter(one["passages"], one["seconds"], color="#8172B3")
    one_ax.set(title="One report at a time", xlabel="passages in the report", ylabel="seconds")
    size = costs[costs["experiment"] == "model size (reading pass)"]
    if len(size):
        size_ax.plot(size["setting"].str.rstrip("M").astype(float), size["seconds"], marker="^", color="#DD8452")
        size_ax.set(title="Model size (reading pass, 2 reports)", xlabel="parameters (millions)", ylabel="seconds")
    for a_, d in ((bs_ax, bs), (one_ax, one), (size_ax, size), (rep_ax, rep)):
        if d.empty:
            _no_data(a_, "not measured in this run")
    _legend_below(fig, *rep_ax.get_legend_handles_labels(), ncol=2)
    fig.suptitle(f"Cost of extracting reports\n(measured here, {hardware})")
    return fig


def inference_panels(sweep: pd.DataFrame, hardware: str):
    """Generation: throughput and latency against batch size (the reference loop as a point at batch 1) across
    the top, with its legend under it; KV cache on/off and throughput against prompt length below.
    Used in 50_efficiency."""
    fig = plt.figure(figsize=(FIG_WIDTH, 7.2), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[1.15, 1])
    ax, kv_ax, pl_ax = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    bs = sweep[sweep["experiment"] == "batch size"].sort_values("setting", key=lambda c: c.astype(int))
    ax.plot(bs["setting"].astype(int), bs["tokens/s"], marker="o", color="#4C72B0", label="batched generate (tokens/s)")
    ref = sweep[sweep["experiment"] == "reference loop"]
    if len(ref):
        ax.scatter([1], ref["tokens/s"], color="#C44E52", zorder=3, label="reference loop, one prompt at a time")
    ax.set(xscale="log", title="Throughput and latency against batch size", xlabel="batch size (log scale)",
           ylabel="generated tokens/s")
    ax.set_xticks(list(bs["setting"].astype(int)), [str(b) for b in bs["setting"].astype(int)])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax2 = ax.twinx()
    ax2.plot(bs["setting"].astype(int), bs["latency per batch (s)"], marker="s", ls="--", color="#55A868",
             label="latency per batch (s)")
    ax2.set_ylabel("seconds per batch (latency)")
    ax2.grid(False)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=MIN_FONT + 1, loc="upper center",
              bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    kv = sweep[sweep["experiment"] == "KV cache"]
    kv_ax.bar("KV cache " + kv["setting"].astype(str), kv["tokens/s"], color=["#C44E52", "#4C72B0"][: len(kv)])
    kv_ax.set(title="KV cache", xlabel="", ylabel="generated tokens/s")
    pl = sweep[sweep["experiment"] == "prompt length"]
    pl = pl.iloc[pl["setting"].astype(str).str.extract(r"(\d+)")[0].astype(int).argsort().to_numpy()]
    full = bs[bs["setting"].astype(int) == 16]
    xs = [s.replace(" tokens", "\ntokens") for s in pl["setting"].astype(str)] + (["full\nprompts"] if len(full) else [])
    ys = list(pl["tokens/s"]) + list(full["tokens/s"])
    pl_ax.bar(xs, ys, color="#8172B3")
    pl_ax.set(title="Prompt length (batch 16)", xlabel="prompt length", ylabel="generated tokens/s")
    for a_ in (kv_ax, pl_ax):
        if not a_.patches:
            _no_data(a_, "not measured in this run")
    fig.suptitle(f"Greedy generation cost\n(measured here, {hardware})")
    return fig


# ----------------------------------------------------------------------------- calibration (notebooks/35_calibration.ipynb)
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
