"""Calibrated abstention (ours; the paper and its code report no confidence): how far each system's confidence
can be trusted, and which answers can be filed without a human.

- a confidence for every answer: the language models' from the token probabilities of the generated answer
  (``inference.predict``: sequence probability, and the per-token geometric mean as the length-normalised
  variant; a sentence-level phenotype answer combines its passages' by ``inference.note_confidence``), TF-IDF's
  from ``predict_proba`` of the chosen class; the rule baseline has none (it is not scored here);
- correctness = exact match of the whole answer under the reference scorer (``metrics`` ``exact_match``);
- expected calibration error over equal-width bins, with a percentile-bootstrap CI over instances;
- coverage–risk: accuracy of the answers kept against the share kept, most confident first;
- a defer threshold chosen on the dev split for a target accuracy and applied, unchanged, to the test split;
- temperature scaling of the confidence's log-odds fitted on dev (one parameter, NLL), test ECE before/after.

Used in notebooks/35_calibration.ipynb and notebooks/40_robustness.ipynb. Hand-worked cases in
tests/test_calibration.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from .stats import instance_scores

#: keep confidences strictly inside (0, 1) before taking log-odds
EPS = 1e-6


def correct(golds: list[list[str]], preds: list[list[str]]) -> np.ndarray:
    """1.0 where the whole answer is an exact match under the reference scorer, else 0.0."""
    return (instance_scores(golds, preds, "exact_match")["f1"].to_numpy() >= 1.0).astype(float)


def _check(conf, hit) -> tuple[np.ndarray, np.ndarray]:
    conf, hit = np.asarray(conf, dtype=float), np.asarray(hit, dtype=float)
    if conf.shape != hit.shape or conf.ndim != 1:
        raise ValueError(f"size mismatch: {conf.shape} confidences and {hit.shape} outcomes")
    if len(conf) and (not np.isfinite(conf).all() or conf.min() < 0 or conf.max() > 1):
        raise ValueError("confidences must be finite and in [0, 1]")
    return conf, hit


def bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins over [0, 1]; bin k holds (k/n, (k+1)/n], bin 0 also holds 0."""
    return np.clip(np.ceil(np.asarray(conf) * n_bins).astype(int) - 1, 0, n_bins - 1)


def reliability(conf, hit, n_bins: int = 10) -> pd.DataFrame:
    """One row per non-empty bin: its range, n, mean confidence and accuracy (0-1)."""
    conf, hit = _check(conf, hit)
    b = bin_index(conf, n_bins)
    rows = [{"bin": k, "low": k / n_bins, "high": (k + 1) / n_bins, "n": int((b == k).sum()),
             "confidence": float(conf[b == k].mean()), "accuracy": float(hit[b == k].mean())}
            for k in range(n_bins) if (b == k).any()]
    return pd.DataFrame(rows, columns=["bin", "low", "high", "n", "confidence", "accuracy"])


def ece(conf, hit, n_bins: int = 10) -> float:
    """Expected calibration error: sum over bins of (bin share) x |accuracy - mean confidence|, 0-1."""
    conf, hit = _check(conf, hit)
    if not len(conf):
        return float("nan")
    b = bin_index(conf, n_bins)
    counts = np.bincount(b, minlength=n_bins)
    gap = np.abs(np.bincount(b, weights=hit, minlength=n_bins) - np.bincount(b, weights=conf, minlength=n_bins))
    return float(gap.sum() / counts.sum())


def ece_ci(conf, hit, n_bins: int, n_boot: int, seed: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """(ECE, low, high): percentile bootstrap over instances (the same resamples for any system of equal n).
    ECE's upward small-sample bias moves the resampled values up too, so the interval can sit above the point;
    ``ece_floor`` gives the level that bias alone reaches."""
    conf, hit = _check(conf, hit)
    point = ece(conf, hit, n_bins)
    if len(conf) < 2 or n_boot < 1:
        return point, point, point
    rng = np.random.default_rng(seed)
    draws = [ece(conf[i], hit[i], n_bins) for i in rng.integers(0, len(conf), size=(n_boot, len(conf)))]
    return point, float(np.quantile(draws, alpha / 2)), float(np.quantile(draws, 1 - alpha / 2))


def ece_floor(conf, n_bins: int = 10, n_sim: int = 200, seed: int = 0) -> float:
    """The ECE a perfectly calibrated system would show with these confidences on this many answers: the mean
    ECE over outcomes drawn as Bernoulli(confidence). ECE is biased upward on small samples (every bin's
    accuracy is noisy), so an ECE near its floor is as good as this test set can show."""
    conf, _ = _check(conf, np.zeros(len(np.asarray(conf))))
    if not len(conf):
        return float("nan")
    rng = np.random.default_rng(seed)
    return float(np.mean([ece(conf, (rng.uniform(size=len(conf)) < conf).astype(float), n_bins)
                          for _ in range(n_sim)]))


def coverage_risk(conf, hit) -> pd.DataFrame:
    """Answers kept most confident first; one row per distinct confidence (ties are kept or deferred together):
    threshold, coverage (share kept), accuracy of the kept answers, n kept."""
    conf, hit = _check(conf, hit)
    order = np.argsort(-conf, kind="stable")
    c, h = conf[order], hit[order]
    last = np.r_[c[1:] != c[:-1], True] if len(c) else np.array([], dtype=bool)
    kept = np.arange(1, len(c) + 1)[last]
    right = np.cumsum(h)[last]
    return pd.DataFrame({"threshold": c[last], "coverage": kept / max(len(c), 1), "accuracy": right / kept,
                         "n": kept})


def choose_threshold(conf, hit, target: float) -> float:
    """The lowest confidence threshold whose kept answers (confidence >= threshold) reach `target` accuracy on
    these (dev) answers — the most answers filed automatically at that accuracy; +inf (defer everything) when
    no threshold reaches it."""
    curve = coverage_risk(conf, hit)
    ok = curve[curve["accuracy"] >= target]
    return float(ok["threshold"].min()) if len(ok) else float("inf")


def apply_threshold(conf, hit, threshold: float) -> dict:
    """What a threshold does on these (test) answers: n, share deferred to a human, accuracy of the answers kept
    (NaN when none are kept) and accuracy of all answers."""
    conf, hit = _check(conf, hit)
    keep = conf >= threshold
    return {"n": len(conf), "deferred": float(1 - keep.mean()) if len(conf) else float("nan"),
            "kept_accuracy": float(hit[keep].mean()) if keep.any() else float("nan"),
            "accuracy": float(hit.mean()) if len(conf) else float("nan")}


def _logit(conf: np.ndarray) -> np.ndarray:
    c = np.clip(conf, EPS, 1 - EPS)
    return np.log(c) - np.log1p(-c)


def scale(conf, temperature: float) -> np.ndarray:
    """sigmoid(logit(confidence) / temperature): T > 1 softens an overconfident system, T < 1 sharpens."""
    return 1.0 / (1.0 + np.exp(-_logit(np.asarray(conf, dtype=float)) / temperature))


def fit_temperature(conf, hit, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature minimising the negative log-likelihood of the outcomes under ``scale`` (bounded scalar
    search in log T); 1.0 when the outcomes are all equal (nothing to fit)."""
    conf, hit = _check(conf, hit)
    if len(conf) == 0 or hit.min() == hit.max():
        return 1.0
    z = _logit(conf)

    def nll(log_t: float) -> float:
        p = np.clip(1.0 / (1.0 + np.exp(-z / np.exp(log_t))), EPS, 1 - EPS)
        return float(-(hit * np.log(p) + (1 - hit) * np.log1p(-p)).mean())

    res = minimize_scalar(nll, bounds=tuple(np.log(bounds)), method="bounded")
    return float(np.exp(res.x))


def summary_table(dev: dict, test: dict, target: float, n_bins: int, n_boot: int, seed: int) -> pd.DataFrame:
    """One row per (task, system, confidence): test n and accuracy, ECE (x100) with 95% CI, the dev-fitted
    temperature and test ECE after it, and the dev-chosen defer threshold's test share deferred and kept
    accuracy (%). `dev` / `test`: {(task, system, confidence kind): (confidences, outcomes)}."""
    rows = []
    for key, (c_test, h_test) in test.items():
        task, system, kind = key
        c_dev, h_dev = dev.get(key, ([], []))
        e, lo, hi = ece_ci(c_test, h_test, n_bins, n_boot, seed)
        t = fit_temperature(c_dev, h_dev)
        thr = choose_threshold(c_dev, h_dev, target) if len(c_dev) else float("inf")
        applied = apply_threshold(c_test, h_test, thr)
        rows.append({"task": task, "system": system, "confidence": kind, "n": len(c_test),
                     "dev ECE": 100 * ece(c_dev, h_dev, n_bins) if len(c_dev) else float("nan"),
                     "accuracy %": 100 * applied["accuracy"], "ECE": 100 * e, "ECE CI": f"{100 * lo:.1f}–{100 * hi:.1f}",
                     "ECE floor": 100 * ece_floor(c_test, n_bins, seed=seed),
                     "temperature": t, "ECE after T": 100 * ece(scale(c_test, t), h_test, n_bins),
                     "threshold": thr, "deferred %": 100 * applied["deferred"],
                     "kept accuracy %": 100 * applied["kept_accuracy"], "dev n": len(c_dev)})
    return pd.DataFrame(rows).set_index(["task", "system", "confidence"])


def chosen_kind(table: pd.DataFrame) -> pd.DataFrame:
    """Per (task, system), the row of the confidence kind with the lower **dev** ECE (the choice is made on dev,
    like the threshold, so the test numbers stay honest); index (task, system), column ``confidence`` kept."""
    t = table.reset_index()
    dev = t["dev ECE"].fillna(np.inf)
    best = t.loc[dev.groupby([t["task"], t["system"]], sort=False).idxmin()]
    return best.set_index(["task", "system"])


def summary_words(table: pd.DataFrame, target: float) -> str:
    """The calibration results in sentences, generated from ``summary_table``: per task and system the
    confidence kind chosen on dev (``chosen_kind``), its test ECE against its floor, and what the dev-chosen
    defer threshold did on test."""
    if table.empty:
        return "No system produced confidences on this run."
    lines = []
    for task, g in chosen_kind(table).groupby(level="task", sort=False):
        g = g.droplevel("task")
        best, worst = g["ECE"].idxmin(), g["ECE"].idxmax()
        parts = [(f"**{task.replace('_', ' ')}**: the best-calibrated system is `{best}` "
                  f"(ECE {g.loc[best, 'ECE']:.1f}, 95% CI {g.loc[best, 'ECE CI']}; a perfectly calibrated system "
                  f"would show about {g.loc[best, 'ECE floor']:.1f} on these {g.loc[best, 'n']} answers); "
                  f"the worst is `{worst}` (ECE {g.loc[worst, 'ECE']:.1f}, floor {g.loc[worst, 'ECE floor']:.1f}).")]
        for system, r in g.iterrows():
            kind = "" if system == "tfidf_logreg" else f" ({r['confidence']} confidence, the lower dev ECE)"
            if np.isinf(r["threshold"]):
                parts.append(f"`{system}`{kind} reaches {100 * target:.0f}% accuracy at no threshold on dev, so it "
                             f"would defer every answer.")
            elif np.isnan(r["kept accuracy %"]):
                parts.append(f"`{system}`'s dev threshold{kind} keeps no test answer.")
            else:
                parts.append(f"`{system}`'s dev-chosen threshold{kind} defers {r['deferred %']:.0f}% of test answers; "
                             f"those it keeps are {r['kept accuracy %']:.0f}% exact (target {100 * target:.0f}%, "
                             f"all answers {r['accuracy %']:.0f}%).")
        lines.append(" ".join(parts))
    return "\n\n".join(lines)


KINDS = ("sequence", "normalised")


def outcomes(examples: pd.DataFrame, systems: dict[str, dict]) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """{(task, system, confidence kind): (confidences, exact-match outcomes)} from
    ``evaluation.predict_confident``'s output on `examples` (TF-IDF's two kinds are the same, so it is kept
    under ``sequence`` only)."""
    golds = [list(a) for a in examples["answers"]]
    tasks = examples["task"].to_numpy()
    out = {}
    for system, s in systems.items():
        hit = correct(golds, s["answers"])
        for kind in KINDS if system != "tfidf_logreg" else KINDS[:1]:
            conf = np.asarray(s[kind], dtype=float)
            for task in dict.fromkeys(tasks):
                m = tasks == task
                out[(task, system, kind)] = (conf[m], hit[m])
    return out


def stacked(test: dict, n_bins: int, kinds: dict | str = "sequence") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reliability bins, coverage–accuracy curves) of every (task, system), stacked with task and system
    columns, for ``plots.reliability_diagrams`` and ``plots.coverage_risk_curves``. `kinds`: one confidence
    kind for all, or {(task, system): kind} (``chosen_kind(table)["confidence"].to_dict()``)."""
    bins, curves = [], []
    for (task, system, k), (conf, hit) in test.items():
        want = kinds if isinstance(kinds, str) else kinds.get((task, system), "sequence")
        if k == want:
            label = system if system == "tfidf_logreg" or isinstance(kinds, str) else f"{system} ({k})"
            bins.append(reliability(conf, hit, n_bins).assign(task=task, system=label))
            curves.append(coverage_risk(conf, hit).assign(task=task, system=label))
    return pd.concat(bins, ignore_index=True), pd.concat(curves, ignore_index=True)


def noise_table(testbed: pd.DataFrame, preds: dict, confidence: dict, n_bins: int, n_boot: int,
                seed: int) -> pd.DataFrame:
    """How calibration moves with misspelling and OCR noise (chapter 40): per condition, rate, task and system
    with a confidence (``robustness.predict_testbed``'s `confidence`), the answers, their exact-match accuracy
    and mean confidence (%), and the ECE (x100) with its 95% bootstrap CI."""
    noisy = testbed["condition"].isin(["misspelling", "ocr"]).to_numpy()
    golds = [list(a) for a in testbed["answers"]]
    rows = []
    for system, conf in confidence.items():
        conf, hit = np.asarray(conf, dtype=float), correct(golds, preds[system])
        for (cond, rate, task), g in testbed[noisy].groupby(["condition", "rate", "task"], sort=False):
            i = g.index.to_numpy()
            e, lo, hi = ece_ci(conf[i], hit[i], n_bins, n_boot, seed)
            rows.append({"condition": cond, "rate": rate, "task": task, "system": system, "n": len(i),
                         "accuracy %": 100 * hit[i].mean(), "confidence %": 100 * conf[i].mean(), "ECE": 100 * e,
                         "ECE CI": f"{100 * lo:.1f}–{100 * hi:.1f}"})
    return pd.DataFrame(rows)


def noise_words(table: pd.DataFrame, condition: str = "misspelling", min_n: int = 10) -> str:
    """One sentence per task: for each system, ECE, mean confidence and accuracy at the clean and the highest
    rate of `condition` — an overconfident model under noise keeps its confidence while its accuracy falls.
    A task with fewer than `min_n` answers per rate is named, not described (too few to say anything)."""
    t = table[table["condition"] == condition]
    small = sorted(set(t.loc[t["n"] < min_n, "task"]))
    t = t[~t["task"].isin(small)]
    note = "".join(f"\n\n**{task.replace('_', ' ')}**: fewer than {min_n} answers per rate in this testbed, too few "
                   f"to describe (Table 3b lists them)." for task in small)
    if t.empty:
        return f"No {condition} rows with enough answers on this run." + note
    lo_rate, hi_rate = t["rate"].min(), t["rate"].max()
    lines = []
    for task, g in t.groupby("task", sort=False):
        parts = []
        for system, s in g.groupby("system", sort=False):
            a, b = s[s["rate"] == lo_rate].iloc[0], s[s["rate"] == hi_rate].iloc[0]
            d_conf, d_acc = a["confidence %"] - b["confidence %"], a["accuracy %"] - b["accuracy %"]
            drift = ("both held" if d_acc < 2 else
                     "confidence fell with accuracy" if d_conf >= d_acc / 2 else
                     "confidence held while accuracy fell: overconfident under noise")
            parts.append(f"`{system}` ECE {a['ECE']:.1f} → {b['ECE']:.1f} (mean confidence {a['confidence %']:.0f} → "
                         f"{b['confidence %']:.0f}%, accuracy {a['accuracy %']:.0f} → {b['accuracy %']:.0f}%: {drift})")
        lines.append(f"**{task.replace('_', ' ')}**, {condition} at {100 * lo_rate:.0f}% → {100 * hi_rate:.0f}% of "
                     f"words: " + "; ".join(parts) + ".")
    return "\n\n".join(lines) + note


def records(table: pd.DataFrame) -> list[dict]:
    """``summary_table`` as JSON-safe records for metrics.json: a non-finite number (an ∞ threshold, the NaN
    accuracy of no kept answers) becomes null."""
    def safe(v):
        return None if isinstance(v, float) and not np.isfinite(v) else v
    return [{k: safe(v) for k, v in r.items()} for r in table.reset_index().to_dict(orient="records")]
