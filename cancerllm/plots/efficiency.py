"""Chapter 50 figures (notebooks/50_efficiency.ipynb): the scaling sweep, the cost of each training run, full
fine-tuning vs LoRA, extraction cost and generation cost."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .style import FIG_WIDTH, MIN_FONT, _legend_below, _no_data, model_color


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
