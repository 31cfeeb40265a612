"""Scores on the robustness testbed: F1 per condition and rate, and how each system answers counterfactual
notes (the edited value, the original label, or something else). Used in notebooks/40_robustness.ipynb.
"""

from __future__ import annotations

import pandas as pd

from .. import evaluation, stats
from ..metrics import reference_prf

#: metrics of the sweep in the notebook: the headline, exact match, and both in the clinical variant
SWEEP_METRICS = [evaluation.HEADLINE, "exact_match", f"clinical_{evaluation.HEADLINE}", "clinical_exact_match"]
CF_MATCH_METRIC = "clinical_exact_match"  # "2.5 cm" == "25 mm", "G2" == "grade 2", but "2.5" != "25"


def sweep_table(testbed: pd.DataFrame, preds: dict, n_boot: int, seed: int, metric_names=None) -> pd.DataFrame:
    """Tidy scores per (condition, rate): condition, rate, task, system, metric, precision, recall, f1,
    f1_ci_low, f1_ci_high, n (x100; ``evaluation.score``). Counterfactual rows are excluded (their expected
    answers are edited; see ``counterfactual_rates``). The same bootstrap seed for every condition, over the
    same instances in the same order, so the resamples are paired across conditions."""
    frames = []
    testbed = testbed.reset_index(drop=True)  # predictions are aligned by position
    for (cond, rate), grp in testbed[testbed["condition"] != "counterfactual"].groupby(["condition", "rate"],
                                                                                        sort=False):
        idx = grp.index.to_numpy()
        sub = {s: [p[i] for i in idx] for s, p in preds.items()}
        sc = evaluation.score(grp.reset_index(drop=True), sub, n_boot, seed, metric_names)
        frames.append(sc.assign(condition=cond, rate=float(rate)))
    cols = ["condition", "rate", "task", "system", "metric", "precision", "recall", "f1", "f1_ci_low", "f1_ci_high",
            "n"]
    return pd.concat(frames, ignore_index=True)[cols]


def _same(gold, pred) -> bool:
    return reference_prf(list(gold), list(pred), CF_MATCH_METRIC)[2] == 1.0


def counterfactual_outcomes(testbed: pd.DataFrame, preds: dict) -> pd.DataFrame:
    """One row per (counterfactual instance, system): field, outcome ("evidence" = the edited value, "prior" =
    the original label, "other"), matched after the clinical normalisation (``CF_MATCH_METRIC``)."""
    testbed = testbed.reset_index(drop=True)  # predictions are aligned by position
    cf = testbed[testbed["condition"] == "counterfactual"]
    rows = []
    for system, p in preds.items():
        for i, r in zip(cf.index, cf.itertuples()):
            outcome = "evidence" if _same(r.answers, p[i]) else "prior" if _same(r.original_answers, p[i]) else "other"
            rows.append({"system": system, "field": r.field, "source_id": r.source_id, "outcome": outcome})
    return pd.DataFrame(rows, columns=["system", "field", "source_id", "outcome"])


_OUTCOMES = {"evidence": "evidence_following", "prior": "prior_following", "other": "other"}


def counterfactual_rates(testbed: pd.DataFrame, preds: dict, n_boot: int, seed: int) -> pd.DataFrame:
    """Per system: % evidence-following, % prior-following, % other, each with a 95% percentile-bootstrap CI
    (``stats.bootstrap_ci`` over instances), and n. Empty when the testbed has no counterfactual rows."""
    out = counterfactual_outcomes(testbed, preds)
    rows = []
    for system, grp in out.groupby("system", sort=False):
        row = {"system": system}
        for key, name in _OUTCOMES.items():
            mean, low, high = stats.bootstrap_ci((grp["outcome"] == key).to_numpy(float), n_boot, seed)
            row.update({name: 100 * mean, f"{name}_ci_low": 100 * low, f"{name}_ci_high": 100 * high})
        rows.append({**row, "n": len(grp)})
    cols = ["system"] + [f"{n}{x}" for n in _OUTCOMES.values() for x in ("", "_ci_low", "_ci_high")] + ["n"]
    return pd.DataFrame(rows, columns=cols)


def counterfactual_by_field(testbed: pd.DataFrame, preds: dict) -> pd.DataFrame:
    """% evidence-following per field (rows) and system (columns), with the number of instances per field."""
    out = counterfactual_outcomes(testbed, preds).assign(ev=lambda d: 100.0 * (d["outcome"] == "evidence"))
    if out.empty:
        return pd.DataFrame(columns=[*preds, "n"]).rename_axis("field")
    tab = out.pivot_table(index="field", columns="system", values="ev", aggfunc="mean", sort=False).round(1)
    return tab.assign(n=out[out["system"] == out["system"].iloc[0]].groupby("field").size())
