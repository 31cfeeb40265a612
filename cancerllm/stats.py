"""Uncertainty and comparisons: bootstrap CIs, the paired bootstrap, confusion matrices.

Used in notebooks/30_evaluation.ipynb.

Every resampling function is deterministic for a seed (``numpy.random.default_rng(seed)``) and resamples
*instances* (the unit the reference scorer averages over). Choices, stated once:

* ``bootstrap_ci`` - percentile bootstrap of the mean (seeded numpy; resamples drawn in chunks so memory
  stays small). Fewer than two distinct values -> the CI is the value itself (zero width).
* ``paired_bootstrap`` - the same resampled instances for both systems; the CI is the percentile interval
  of the mean difference and the two-sided p-value is twice the share of bootstrap differences on the
  other side of 0 (or exactly at 0), capped at 1 (diff == 0 -> p = 1). Its resolution is 1 / n_boot: a
  p of 0 means "below 1 / n_boot".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from .metrics import METRICS, reference_prf

__all__ = ["bootstrap_ci", "instance_scores", "score_with_ci", "paired_bootstrap", "confusion"]

_CHUNK_CELLS = 2_000_000  # resampled values held in memory at once


def _as_1d(values, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError(f"{name}: cannot bootstrap an empty sample")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of ``x``; rows of ``x`` may be stacked systems."""
    n = x.shape[-1]
    per = max(1, _CHUNK_CELLS // max(1, n))
    out = []
    done = 0
    while done < n_boot:
        k = min(per, n_boot - done)
        idx = rng.integers(0, n, size=(k, n))
        out.append(x[..., idx].mean(axis=-1))
        done += k
    return np.concatenate(out, axis=-1)


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap CI of the mean of ``values`` at level 1 - ``alpha``.

    Used in notebooks/30_evaluation.ipynb. Deterministic for a seed; one value or all-equal values give a
    zero-width interval at the value.
    """
    x = _as_1d(values)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    mean = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        v = float(x[0])
        return v, v, v
    means = _boot_means(x, n_boot, np.random.default_rng(seed))
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return mean, float(low), float(high)


def instance_scores(golds: list[list[str]], preds: list[list[str]], metric: str) -> pd.DataFrame:
    """Per-instance precision, recall, f1 (0-1) from ``metrics.reference_prf``, one row per instance.

    Used in notebooks/30_evaluation.ipynb.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid names: {', '.join(METRICS)}")
    if len(golds) != len(preds):
        raise ValueError(f"size mismatch: {len(golds)} gold instances and {len(preds)} predictions")
    rows = [reference_prf(g, p, metric) for g, p in zip(golds, preds)]
    return pd.DataFrame(rows, columns=["precision", "recall", "f1"], dtype=float)


def score_with_ci(golds: list[list[str]], preds: list[list[str]], metrics: list[str], n_boot: int,
                  seed: int) -> pd.DataFrame:
    """One row per metric: precision, recall, f1 (x100, equal to ``metrics.corpus_prf``), f1_ci_low,
    f1_ci_high (x100, percentile bootstrap over instances, the same resamples for every metric) and n.

    Used in notebooks/30_evaluation.ipynb.
    """
    if not golds:
        raise ValueError("cannot score an empty corpus (0 instances)")
    rows = []
    for metric in metrics:
        inst = instance_scores(golds, preds, metric)
        n = len(inst)
        # the same left-to-right float sums as corpus_prf, so f1 matches it to the last bits
        p_sum = r_sum = f_sum = 0.0
        for p, r, f in inst.itertuples(index=False):
            p_sum, r_sum, f_sum = p_sum + p, r_sum + r, f_sum + f
        _, low, high = bootstrap_ci(inst["f1"].to_numpy(), n_boot, seed)
        rows.append({"metric": metric, "precision": 100.0 * p_sum / n, "recall": 100.0 * r_sum / n,
                     "f1": 100.0 * f_sum / n, "f1_ci_low": 100.0 * low, "f1_ci_high": 100.0 * high, "n": n})
    cols = ["precision", "recall", "f1", "f1_ci_low", "f1_ci_high", "n"]
    return pd.DataFrame(rows).set_index("metric")[cols]


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_1d(a, "a"), _as_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"paired samples must have the same length, got {x.size} and {y.size}")
    return x, y


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int, alpha: float = 0.05) -> dict:
    """Difference of means of two systems scored on the same instances (a - b), paired bootstrap.

    Used in notebooks/30_evaluation.ipynb. Returns {"diff", "ci_low", "ci_high", "p_value", "n"}; the
    p-value is two-sided: 2 x the share of bootstrap differences on the other side of 0 (ties at 0
    included), capped at 1; identical systems give diff 0, CI [0, 0] and p = 1.
    """
    x, y = _paired(a, b)
    d = x - y
    diff = float(d.mean())
    if np.all(d == d[0]):
        v = float(d[0])
        return {"diff": v, "ci_low": v, "ci_high": v, "p_value": 1.0 if v == 0 else 0.0, "n": int(d.size)}
    boots = _boot_means(d, n_boot, np.random.default_rng(seed))
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    if diff > 0:
        p = 2.0 * float(np.mean(boots <= 0))
    elif diff < 0:
        p = 2.0 * float(np.mean(boots >= 0))
    else:
        p = 1.0
    return {"diff": diff, "ci_low": float(low), "ci_high": float(high), "p_value": min(1.0, p), "n": int(d.size)}


def confusion(gold: list[str], pred: list[str], labels=None) -> pd.DataFrame:
    """Confusion matrix as a DataFrame: gold labels as rows, predicted labels as columns (counts).

    Used in notebooks/30_evaluation.ipynb. ``labels`` defaults to the sorted union of gold and predicted
    labels, so predictions never seen in the gold get their own column (and an all-zero row).
    """
    gold, pred = [str(g) for g in gold], [str(p) for p in pred]
    if len(gold) != len(pred):
        raise ValueError(f"size mismatch: {len(gold)} gold labels and {len(pred)} predictions")
    labels = sorted(set(gold) | set(pred)) if labels is None else [str(x) for x in labels]
    m = confusion_matrix(gold, pred, labels=labels) if gold else np.zeros((len(labels), len(labels)), dtype=int)
    return pd.DataFrame(m, index=pd.Index(labels, name="gold"), columns=pd.Index(labels, name="predicted"))
