"""Scores of the retrieval conditions: per condition and system (`evaluation.score`), the kNN reference (the
majority answer of the k retrieved cases: what the retrieved labels alone are worth), and each retriever's gain
over no retrieval, paired over the same test rows (`stats.paired_bootstrap`). Used in notebooks/60_retrieval.ipynb.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from .. import stats
from ..evaluation import HEADLINE, score
from ..metrics import reference_prf

KNN = "knn"


def knn_answers(retrieved_answers) -> list[list[str]]:
    """Per row, the most common answer among its retrieved cases (ties: the higher-ranked case); [] if none."""
    out = []
    for cases in retrieved_answers:
        keys = [", ".join(a) for a in cases]
        if not keys:
            out.append([])
            continue
        counts = Counter(keys)
        best = max(counts.values())
        out.append(list(cases[next(i for i, key in enumerate(keys) if counts[key] == best)]))
    return out


def score_conditions(stacked: pd.DataFrame, preds: dict, n_boot: int, seed: int,
                     metric_names=(HEADLINE, "exact_match")) -> pd.DataFrame:
    """Tidy scores per condition and system (the LM systems in `preds`, aligned with `stacked`'s rows, plus
    `knn` for every retrieval condition): condition, retriever, k, noise, task, system, metric, precision,
    recall, f1, f1_ci_low, f1_ci_high, n (x100, evaluation.score)."""
    knn = knn_answers(stacked["retrieved_answers"])
    frames = []
    for cond, grp in stacked.groupby("condition", sort=False):
        pos = grp.index.to_numpy()
        sub = {s: [p[i] for i in pos] for s, p in preds.items()}
        if grp["k"].iloc[0] > 0:
            sub[KNN] = [knn[i] for i in pos]
        tab = score(grp.reset_index(drop=True), sub, n_boot, seed, list(metric_names))
        frames.append(tab.assign(condition=cond, retriever=grp["retriever"].iloc[0], k=int(grp["k"].iloc[0]),
                                 noise=float(grp["noise"].iloc[0])))
    cols = ["condition", "retriever", "k", "noise", "task", "system", "metric", "precision", "recall", "f1",
            "f1_ci_low", "f1_ci_high", "n"]
    return pd.concat(frames, ignore_index=True)[cols]


def _instance_f1(stacked: pd.DataFrame, pred: list, metric: str) -> pd.Series:
    return pd.Series([100 * reference_prf(list(g), p, metric)[2] for g, p in zip(stacked["answers"], pred)],
                     index=stacked.index)


def gain_table(stacked: pd.DataFrame, preds: dict, k: int, n_boot: int, seed: int,
               metric: str = HEADLINE) -> pd.DataFrame:
    """Per LM system, task and retriever at `k` (clean and misspelled notes): F1 with retrieval minus F1 without,
    paired over the same test rows (stats.paired_bootstrap on per-instance F1 x100)."""
    rows = []
    for system, pred in preds.items():
        f1 = _instance_f1(stacked, pred, metric)
        for noise in sorted(stacked["noise"].unique()):
            at = stacked["noise"] == noise
            base = stacked[at & (stacked["k"] == 0)]
            for (name, task), grp in stacked[at & (stacked["k"] == k)].groupby(["retriever", "task"], sort=False):
                ref = base[base["task"] == task]
                ref = pd.Series(ref.index, index=ref["source_id"])  # the same test row without retrieval
                with_r = f1[grp.index].to_numpy()
                without = f1[ref.loc[grp["source_id"]].to_numpy()].to_numpy()
                res = stats.paired_bootstrap(with_r, without, n_boot, seed)
                rows.append({"system": system, "task": task, "retriever": name, "k": k, "noise": noise,
                             "f1_without": float(without.mean()), "f1_with": float(with_r.mean()),
                             **{key: (int(v) if key == "n" else float(v)) for key, v in res.items()}})
    return pd.DataFrame(rows)
