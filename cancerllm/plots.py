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


def robustness_curves(sweep: pd.DataFrame, metric: str, source: str):
    """F1 against the share of words perturbed, with 95% CI bands, one colour per system and one panel per task:
    misspelling solid, OCR confusions dashed. Used in notebooks/40_robustness.ipynb."""
    sub = sweep[(sweep["metric"] == metric) & sweep["condition"].isin(["misspelling", "ocr"])]
    tasks = list(dict.fromkeys(sub["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.4), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        for (system, cond), g in sub[sub["task"] == task].groupby(["system", "condition"], sort=False):
            g = g.sort_values("rate")
            x, color, ls = 100 * g["rate"], MODEL_COLORS.get(system, "#333333"), "-" if cond == "misspelling" else "--"
            ax.plot(x, g["f1"], color=color, ls=ls, marker="o", ms=3, label=f"{system} ({cond})")
            ax.fill_between(x, g["f1_ci_low"], g["f1_ci_high"], color=color, alpha=0.12, lw=0)
        ax.set(title=task.replace("_", " "), xlabel="words perturbed (% of eligible words)",
               ylabel=f"F1 (×100, {metric}) with 95% CI", ylim=(-2, 102))
    axes[0][-1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"F1 under misspelling (solid) and OCR noise (dashed) ({source})")
    fig.tight_layout()
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
    """F1 with retrieval minus without (paired-bootstrap 95% CI) per model and retriever, one panel per task;
    clean notes only. Used in notebooks/60_retrieval.ipynb."""
    import numpy as np

    sub = gains[gains["noise"] == 0]
    tasks, retr = list(dict.fromkeys(sub["task"])), list(dict.fromkeys(sub["retriever"]))
    systems = list(dict.fromkeys(sub["system"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False, sharey=True)
    width = 0.8 / max(len(retr), 1)
    for ax, task in zip(axes[0], tasks):
        t = sub[sub["task"] == task]
        for j, name in enumerate(retr):
            g = t[t["retriever"] == name].set_index("system").reindex(systems)
            x = np.arange(len(systems)) + (j - (len(retr) - 1) / 2) * width
            ax.bar(x, g["diff"], width, yerr=[g["diff"] - g["ci_low"], g["ci_high"] - g["diff"]], capsize=3,
                   color=RETRIEVER_COLORS.get(name), label=name)
            ax.plot(x, g["diff"], "o", ms=3, color=RETRIEVER_COLORS.get(name))  # a gain of exactly 0 stays visible
        ax.axhline(0, color="#333333", lw=0.8)
        ax.set_xticks(range(len(systems)), systems)
        ax.set(title=task.replace("_", " "), xlabel="model", ylabel="F1 gain (points ×100) with 95% CI")
    k = int(sub["k"].iloc[0]) if len(sub) else 0
    axes[0][0].legend(title=f"retriever (k = {k})", fontsize="small")
    fig.suptitle(f"F1 with retrieved examples minus without, per model ({source})")
    fig.tight_layout()
    return fig


def k_sweep(scores: pd.DataFrame, source: str, system: str | None = None, metric: str = "rouge_l_reference"):
    """F1 (95% CI band) against the number of retrieved examples k, one line per retriever (solid: the model,
    dashed: kNN majority of the retrieved answers), clean notes, one panel per task; k = 0 is no retrieval.
    Used in notebooks/60_retrieval.ipynb."""
    sub = scores[(scores["metric"] == metric) & (scores["noise"] == 0)]
    lms = [s for s in dict.fromkeys(sub["system"]) if s != "knn"]
    system = system or ("cancer_cpt" if "cancer_cpt" in lms else lms[-1])
    tasks = list(dict.fromkeys(sub["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        t = sub[sub["task"] == task]
        base = t[(t["k"] == 0) & (t["system"] == system)]
        for name in [r for r in dict.fromkeys(t["retriever"]) if r != "none"]:
            for who, ls in ((system, "-"), ("knn", "--")):
                line = t[(t["retriever"] == name) & (t["system"] == who)]
                if who == system:
                    line = pd.concat([base, line])
                line = line.sort_values("k")
                color = RETRIEVER_COLORS.get(name)
                ax.plot(line["k"], line["f1"], ls=ls, marker="o", color=color,
                        label=f"{name}: {'kNN' if who == 'knn' else system}")
                ax.fill_between(line["k"], line["f1_ci_low"], line["f1_ci_high"], color=color, alpha=0.12)
        ax.set(title=task.replace("_", " "), xlabel="retrieved examples in the prompt (k)",
               ylabel=f"F1 (×100, {metric}) with 95% CI", ylim=(-2, 102))
        ax.set_xticks(sorted(t["k"].unique()))
    axes[0][-1].legend(fontsize="x-small")
    fig.suptitle(f"F1 against k, {system} and kNN ({source})")
    fig.tight_layout()
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
    colors = [MODEL_COLORS.get(m, "#777777") for m in costs["model"]]
    for ax, col, xlabel in zip(axes, ["s per 100 steps", "tokens/s"], ["seconds per 100 optimizer steps",
                                                                      "training tokens per second"]):
        ax.barh(labels[::-1], pd.to_numeric(costs[col], errors="coerce").fillna(0)[::-1], color=colors[::-1])
        ax.set(xlabel=xlabel, title=col)
    fig.suptitle(f"Cost of each training run (measured here, {hardware})")
    fig.tight_layout()
    return fig


def lora_full_bars(table: pd.DataFrame, hardware: str):
    """Full fine-tuning vs LoRA: seconds per step, peak memory, trainable parameters, checkpoint size.
    Used in 50_efficiency."""
    panels = [("step_seconds", "seconds per step"), ("peak_rss_gb", "peak RSS (GiB)"),
              ("params_trainable", "trainable parameters"), ("checkpoint_mb", "saved weights (MiB)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.4))
    for ax, (col, label) in zip(axes, panels):
        ax.bar(table.index, pd.to_numeric(table[col]), color=["#4C72B0", "#DD8452"][: len(table)])
        ax.set(title=label, ylabel=label)
    fig.suptitle(f"Full fine-tuning vs LoRA, same model, data and steps (measured here, {hardware})")
    fig.tight_layout()
    return fig


def inference_panels(sweep: pd.DataFrame, hardware: str):
    """Generation: throughput and latency against batch size (the reference loop as a point at batch 1),
    KV cache on/off, and throughput against prompt length. Used in 50_efficiency."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    bs = sweep[sweep["experiment"] == "batch size"].sort_values("setting", key=lambda c: c.astype(int))
    ax = axes[0]
    ax.plot(bs["setting"].astype(int), bs["tokens/s"], marker="o", color="#4C72B0", label="batched generate (tokens/s)")
    ref = sweep[sweep["experiment"] == "reference loop"]
    if len(ref):
        ax.scatter([1], ref["tokens/s"], color="#C44E52", zorder=3, label="reference loop, one prompt at a time")
    ax.set(xscale="log", title="Throughput and latency against batch size", xlabel="batch size (log scale)",
           ylabel="generated tokens per second")
    ax.set_xticks(list(bs["setting"].astype(int)), [str(b) for b in bs["setting"].astype(int)])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax2 = ax.twinx()
    ax2.plot(bs["setting"].astype(int), bs["latency per batch (s)"], marker="s", ls="--", color="#55A868",
             label="latency per batch (s)")
    ax2.set_ylabel("seconds per batch (latency)")
    ax2.grid(False)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    # on the twin axis (drawn on top), in headroom above both curves
    for a_ in (ax, ax2):
        lo, hi = a_.get_ylim()
        a_.set_ylim(lo, hi + 0.45 * (hi - lo))
    ax2.legend(handles, [h.get_label() for h in handles], fontsize="x-small", loc="upper left", framealpha=0.9)
    kv = sweep[sweep["experiment"] == "KV cache"]
    axes[1].bar("KV cache " + kv["setting"].astype(str), kv["tokens/s"], color=["#C44E52", "#4C72B0"][: len(kv)])
    axes[1].set(title="KV cache", xlabel="", ylabel="generated tokens per second")
    pl = sweep[sweep["experiment"] == "prompt length"]
    pl = pl.iloc[pl["setting"].astype(str).str.extract(r"(\d+)")[0].astype(int).argsort().to_numpy()]
    full = bs[bs["setting"].astype(int) == 16]
    xs = list(pl["setting"].astype(str)) + (["full prompts"] if len(full) else [])
    ys = list(pl["tokens/s"]) + list(full["tokens/s"])
    axes[2].bar(xs, ys, color="#8172B3")
    axes[2].set(title="Prompt length (batch 16)", xlabel="prompt length", ylabel="generated tokens per second")
    fig.suptitle(f"Greedy generation cost (measured here, {hardware})")
    fig.tight_layout()
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
            color = MODEL_COLORS.get(system.split(" ")[0], "#333333")
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
            ax.step(100 * g["coverage"], 100 * g["accuracy"], where="post", color=MODEL_COLORS.get(system.split(" ")[0], "#333333"),
                    label=system)
        if target is not None:
            ax.axhline(100 * target, color="#999999", ls=":", lw=1, label=f"target {100 * target:.0f}%")
        ax.set(title=task.replace("_", " "), xlabel="answers kept (% of test answers, most confident first)",
               ylabel="exact-match accuracy of kept answers (%)", xlim=(0, 101), ylim=(-2, 102))
    axes[0][-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"Coverage–accuracy: what deferring the least confident answers buys ({source})")
    fig.tight_layout()
    return fig
