"""What notebooks/60_retrieval.ipynb shows and hands on: F1 and gain tables, the condition overview, the Markdown
summary with this run's numbers, metrics.json's content and one example prompt (synthetic data only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluation import HEADLINE
from ..instructions import TASKS
from ..report import ci_text, subsample_note
from .scoring import KNN


def f1_table(scores: pd.DataFrame, task: str, metric: str = HEADLINE, noise: float | None = None) -> pd.DataFrame:
    """Rows: conditions (in run order); columns: ``n`` (test questions; a subsample of chapter 30's, see
    ``sample_note``), then systems; cells 'F1 (CI low–CI high)' (x100, ``report.ci_text``)."""
    sub = scores[(scores["task"] == task) & (scores["metric"] == metric)]
    if noise is not None:
        sub = sub[sub["noise"] == noise]
    cell = sub.assign(cell=[ci_text(r.f1, r.f1_ci_low, r.f1_ci_high) for r in sub.itertuples()])
    tab = cell.pivot(index="condition", columns="system", values="cell")
    rows, cols = list(dict.fromkeys(sub["condition"])), list(dict.fromkeys(sub["system"]))
    tab = tab.reindex(index=rows, columns=cols).fillna("—")
    tab.insert(0, "n", sub.groupby("condition", sort=False)["n"].first().astype(int).reindex(tab.index))
    return tab


def sample_note(stacked: pd.DataFrame, test: pd.DataFrame) -> str:
    """The line beside this chapter's scores: how many test questions per task the no-retrieval condition holds of
    chapter 30's test set (capped by retrieval_max_instances), with a warning below report.FEW."""
    clean = stacked[(stacked["k"] == 0) & (stacked["noise"] == 0)]
    return subsample_note(clean.groupby("task").size().to_dict(), test.groupby("task").size().to_dict())


def gain_display(gains: pd.DataFrame) -> pd.DataFrame:
    """The gain table as the chapter shows it: rows task x notes (clean / misspelled) x model, one column per
    retriever, cells 'gain (95% CI)' in F1 points (``report.ci_text``)."""
    g = gains.assign(cell=[ci_text(r.diff, r.ci_low, r.ci_high, signed=True) for r in gains.itertuples()],
                     notes=np.where(gains["noise"] > 0, "misspelled " + gains["noise"].map("{:g}".format), "clean"))
    tab = g.pivot(index=["task", "notes", "system"], columns="retriever", values="cell")
    order = pd.MultiIndex.from_frame(g[["task", "notes", "system"]].drop_duplicates().sort_values(
        ["task", "notes"], key=lambda c: c.map({t: i for i, t in enumerate(TASKS)}) if c.name == "task" else c,
        kind="stable"))
    return tab.reindex(index=order, columns=list(dict.fromkeys(g["retriever"])))


def condition_overview(stacked: pd.DataFrame, budget: int) -> pd.DataFrame:
    """Per condition: test rows, retrieved cases, and prompt length in tokens (mean / max, against the budget)."""
    g = stacked.groupby("condition", sort=False)
    return pd.DataFrame({"rows": g.size(), "retrieved cases": g["retrieved_ids"].apply(lambda s: int(s.map(len).sum())),
                         "mean prompt tokens": g["prompt_tokens"].mean().round(0).astype(int),
                         "max prompt tokens": g["prompt_tokens"].max(), "budget": budget})


def noise_table(scores: pd.DataFrame, k: int, metric: str = HEADLINE) -> pd.DataFrame:
    """F1 (x100) per task and system (rows) for clean and misspelled notes, without and with each retriever at k,
    after a column ``n`` (test questions per task)."""
    sub = scores[(scores["metric"] == metric) & scores["k"].isin([0, k])]
    tab = sub.pivot_table(index=["task", "system"], columns="condition", values="f1", sort=False).round(1)
    tab = tab.reindex(columns=list(dict.fromkeys(sub["condition"])))
    tab.insert(0, "n", tab.index.get_level_values("task").map(sub.groupby("task")["n"].first()).astype(int))
    return tab


def retrieval_summary(scores: pd.DataFrame, gains: pd.DataFrame, metric: str = HEADLINE) -> str:
    """What a clinical reader should take away, per task, with this run's numbers (Markdown)."""
    lines = []
    sub = scores[scores["metric"] == metric]
    for task in [t for t in TASKS if t in set(gains["task"])]:
        g = gains[(gains["task"] == task) & (gains["noise"] == 0)]
        k = int(g["k"].iloc[0])
        s = sub[sub["task"] == task]
        plain = s[(s["k"] == 0) & (s["noise"] == 0)].set_index("system")["f1"]
        knn = s[(s["system"] == KNN) & (s["noise"] == 0) & (s["k"] == k)].set_index("retriever")["f1"]
        up, down = g[g["ci_low"] > 0], g[g["ci_high"] < 0]
        text = f"- **{task.replace('_', ' ')}** (n = {int(g['n'].iloc[0])} test questions, k = {k}): "
        if (g["diff"].abs() < 0.05).all():
            text += f"retrieval left every model's F1 unchanged ({len(g)} model × retriever pairs)"
        else:
            best = g.loc[g["diff"].idxmax()]
            text += (f"retrieval changed F1 by {g['diff'].min():+.1f} to {g['diff'].max():+.1f} points over {len(g)} "
                     f"model × retriever pairs; {len(up)} gains have a 95% CI above 0 and {len(down)} below 0 "
                     f"(largest: {best.system} + {best.retriever}, {best.f1_without:.1f} → {best.f1_with:.1f})")
        if len(knn) and len(plain):
            text += (f". The retrieved labels alone (kNN majority vote) score {knn.min():.1f}–{knn.max():.1f}, "
                     f"against {plain.max():.1f} for the best model without retrieval ({plain.idxmax()})")
            best_with = s[(s["k"] == k) & (s["noise"] == 0) & (s["system"] != KNN)]["f1"].max()
            if knn.max() > best_with:
                text += ": the models make less of the retrieved cases than a plain vote over their answers does"
        noisy = gains[(gains["task"] == task) & (gains["noise"] > 0)]
        if len(noisy):
            hurt = (s[(s["k"] == 0) & (s["noise"] > 0)].set_index("system")["f1"] - plain).dropna()
            text += (f". With {noisy['noise'].iloc[0]:.0%} of words misspelled, F1 without retrieval moved by "
                     f"{hurt.drop(KNN, errors='ignore').mean():+.1f} points (mean over models), and adding retrieved "
                     f"examples changed it by {noisy['diff'].mean():+.1f} (range {noisy['diff'].min():+.1f} to "
                     f"{noisy['diff'].max():+.1f}; {int((noisy['ci_low'] > 0).sum())} of {len(noisy)} CIs above 0)")
        lines.append(text + ".")
    any_up = bool((gains["ci_low"] > 0).any())
    verdict = ("**Reading.** " + ("Retrieval helps where a gain's CI sits above 0 (see the table); elsewhere this "
                                  "test set cannot tell it from no retrieval." if any_up else
                                  "In this run retrieval does not measurably help any model on either task, clean "
                                  "or misspelled; ") +
               "a gain that is not above 0 with its CI is not evidence that retrieved examples make extraction safer.")
    return "\n".join(lines) + "\n\n" + verdict


def metrics_json(scores: pd.DataFrame, gains: pd.DataFrame, leakage: pd.DataFrame, timing: pd.DataFrame,
                 budget: int) -> dict:
    """What the stage hands on: scores per condition/task/system/metric, gains, leakage counts and the
    retrievers' timings. Write it with provenance.write_metrics: the timing values (keys with "seconds" and
    "latency") go to timings.json, so metrics.json stays identical between identical runs."""
    plain = scores[(scores["k"] == 0) & (scores["noise"] == 0)]
    out: dict = {"n_instances": {t: int(n) for t, n in plain.groupby("task")["n"].first().items()},
                 "prompt_budget_tokens": budget, "conditions": {},
                 "gains": gains.round(6).to_dict(orient="records"),
                 "leakage": {c: {k: int(v) for k, v in r.items()} for c, r in leakage.to_dict(orient="index").items()},
                 "timing": timing.to_dict(orient="index")}
    for r in scores.itertuples():
        out["conditions"].setdefault(r.condition, {"retriever": r.retriever, "k": r.k, "noise": r.noise}) \
            .setdefault(r.task, {}).setdefault(r.system, {})[r.metric] = {
                "precision": round(float(r.precision), 6), "recall": round(float(r.recall), 6),
                "f1": round(float(r.f1), 6), "ci_low": round(float(r.f1_ci_low), 6),
                "ci_high": round(float(r.f1_ci_high), 6)}
    return out


def example_prompt(stacked: pd.DataFrame, is_real: bool, show: bool, k: int | None = None) -> str:
    """One augmented phenotype prompt (at `k` examples when given) and its gold answer, for synthetic data with
    show_examples only: real note text and retrieved snippets are never shown."""
    if is_real or not show:
        return "(not shown: real data, or show_examples is off)"
    rows = stacked[(stacked["k"] > 0) & (stacked["noise"] == 0) & (stacked["task"] == "phenotype_extraction")]
    rows = rows[rows["k"] == k] if k is not None else rows
    return rows["prompt"].iloc[0] + rows["response"].iloc[0] if len(rows) else "(no retrieval condition)"
