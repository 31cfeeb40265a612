"""Scores of chapter 30 with the reference scorer (and the clinical variant beside it): per task, system and
metric with bootstrap CIs (``score``, ``comparison_table``, ``metrics_json``), paired tests against `cancer_cpt`
(``paired_tests``) and per-instance F1 (``instance_table``, ``by_group``). The chapter's stage name and headline
metric are defined here (report.py repeats both; tests/test_report.py checks they agree)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from ..data.schema import NOT_MENTIONED
from ..instructions import TASKS
from ..metrics import CLINICAL_METRICS, REFERENCE_METRICS, reference_prf
from ..report import ci_text

HEADLINE = "rouge_l_reference"  # the metric the reference code actually ran for its "ROUGE-L"
METRIC_LABELS = {"exact_match": "EM", "bleu2": "BLEU-2", "rouge_l_reference": "ROUGE-L (reference: unigram set)",
                 "rouge_l": "ROUGE-L (true LCS)"}


def score(test: pd.DataFrame, preds: dict, n_boot: int, seed: int, metric_names=None) -> pd.DataFrame:
    """Long table: task, system, metric, precision, recall, f1, f1_ci_low, f1_ci_high, n (×100)."""
    metric_names = metric_names or [*REFERENCE_METRICS, *CLINICAL_METRICS]
    rows = []
    for task in TASKS:
        mask = (test["task"] == task).to_numpy()
        if not mask.any():
            continue
        golds = [list(a) for a in test.loc[mask, "answers"]]
        for system, p in preds.items():
            sub = [p[i] for i in np.flatnonzero(mask)]
            tab = stats.score_with_ci(golds, sub, metric_names, n_boot, seed)
            for metric, r in tab.iterrows():
                rows.append({"task": task, "system": system, "metric": metric, **r.to_dict()})
    return pd.DataFrame(rows)


def comparison_table(scores: pd.DataFrame, task: str, variant: str = "reference") -> pd.DataFrame:
    """One row per system: EM / BLEU-2 / ROUGE-L(reference) F1 and ROUGE-L P/R/F1, each F1 with its 95% CI."""
    prefix = "" if variant == "reference" else "clinical_"
    sub = scores[scores["task"] == task]
    table = {}
    for system, grp in sub.groupby("system", sort=False):
        g = grp.set_index("metric")
        row = {}
        for m in REFERENCE_METRICS:
            r = g.loc[prefix + m]
            row[f"{METRIC_LABELS[m]} F1"] = ci_text(r.f1, r.f1_ci_low, r.f1_ci_high)
        r = g.loc[prefix + "rouge_l"]
        row["ROUGE-L P"], row["ROUGE-L R"] = round(r.precision, 1), round(r.recall, 1)
        row["n"] = int(g["n"].iloc[0])
        table[system] = row
    return pd.DataFrame(table).T


def paired_tests(test: pd.DataFrame, preds: dict, reference: str = "cancer_cpt", metric: str = HEADLINE,
                 n_boot: int = 1000, seed: int = 42) -> pd.DataFrame:
    """Gain of `reference` over every other system (F1 ×100) with paired-bootstrap CI and p-value, per task."""
    rows = []
    if reference not in preds:
        return pd.DataFrame(rows)
    for task in TASKS:
        mask = np.flatnonzero((test["task"] == task).to_numpy())
        if not len(mask):
            continue
        golds = [list(test["answers"].iloc[i]) for i in mask]
        f1 = {s: np.array([reference_prf(g, p[i], metric)[2] for g, i in zip(golds, mask)]) * 100 for s, p in preds.items()}
        for other in preds:
            if other == reference:
                continue
            res = stats.paired_bootstrap(f1[reference], f1[other], n_boot, seed)
            rows.append({"task": task, "comparison": f"{reference} − {other}", **{k: round(float(v), 4) for k, v in res.items()}})
    return pd.DataFrame(rows)


def instance_table(test: pd.DataFrame, preds: dict, metric: str = HEADLINE) -> pd.DataFrame:
    """One row per (instance, system): task, field, cancer_type, f1 (×100), predicted 'not mentioned'?"""
    rows = []
    for system, p in preds.items():
        for row, pred in zip(test.itertuples(), p):
            rows.append({"system": system, "task": row.task, "field": row.field, "cancer_type": row.cancer_type,
                         "f1": 100 * reference_prf(list(row.answers), pred, metric)[2],
                         "gold_not_mentioned": list(row.answers) == [NOT_MENTIONED],
                         "pred_not_mentioned": [a.lower() for a in pred] == [NOT_MENTIONED]})
    return pd.DataFrame(rows)


def by_group(instances: pd.DataFrame, group: str) -> pd.DataFrame:
    """Mean F1 (×100) per system (columns) and group (rows: field or cancer type)."""
    return instances.pivot_table(index=group, columns="system", values="f1", aggfunc="mean", sort=False).round(1)


def metrics_json(scores: pd.DataFrame, n_instances: dict) -> dict:
    """{"task": {"system": {"metric": {precision, recall, f1, ci_low, ci_high}}}, "n_instances": {...}}."""
    out: dict = {"n_instances": n_instances}
    for r in scores.itertuples():
        out.setdefault(r.task, {}).setdefault(r.system, {})[r.metric] = {
            "precision": round(float(r.precision), 6), "recall": round(float(r.recall), 6), "f1": round(float(r.f1), 6),
            "ci_low": round(float(r.f1_ci_low), 6), "ci_high": round(float(r.f1_ci_high), 6)}
    return out
