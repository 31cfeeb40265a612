"""Tests of cancerllm.stats: bootstrap CIs, the paired bootstrap and confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from cancerllm.metrics import REFERENCE_METRICS, corpus_prf, reference_prf
from cancerllm.stats import (
    bootstrap_ci,
    confusion,
    instance_scores,
    paired_bootstrap,
    score_with_ci,
)


# ----------------------------------------------------------------------------- bootstrap_ci
def test_bootstrap_ci_contains_mean_and_is_deterministic():
    x = np.r_[np.ones(30), np.zeros(70)]
    mean, low, high = bootstrap_ci(x, n_boot=1000, seed=0)
    assert mean == pytest.approx(0.3)
    assert low < mean < high
    # binomial standard error sqrt(.3 * .7 / 100) = 0.046: a 95% interval of about +-0.09
    assert 0.19 <= low <= 0.23 and 0.37 <= high <= 0.41
    assert bootstrap_ci(x, 1000, 0) == (mean, low, high)
    assert bootstrap_ci(x, 1000, 1) != (mean, low, high)  # another seed, other resamples


def test_bootstrap_ci_degenerate_samples():
    assert bootstrap_ci(np.full(7, 0.25), 200, 0) == (0.25, 0.25, 0.25)  # all equal: zero width
    assert bootstrap_ci([0.8], 200, 0) == (0.8, 0.8, 0.8)  # one value
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([], 10, 0)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([0.1, np.nan], 10, 0)


def test_bootstrap_ci_alpha_and_chunking():
    rng = np.random.default_rng(5)
    x = rng.random(3000)  # 3000 x 1000 resampled values: drawn in several chunks
    _, lo95, hi95 = bootstrap_ci(x, 1000, 2)
    _, lo80, hi80 = bootstrap_ci(x, 1000, 2, alpha=0.2)
    assert lo95 < lo80 < x.mean() < hi80 < hi95
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert hi95 - lo95 == pytest.approx(2 * 1.96 * se, rel=0.15)


# ----------------------------------------------------------------------------- instance scores / score_with_ci
GOLDS = [["T2"], ["ER positive", "PR negative"], ["not mentioned"], ["2.5 cm"], ["invasive ductal carcinoma"], ["N1"]]
PREDS = [["T2"], ["ER positive"], ["T1"], ["25 mm"], ["ductal carcinoma"], ["N1", "N2"]]


def test_instance_scores_match_reference_prf():
    df = instance_scores(GOLDS, PREDS, "exact_match")
    assert list(df.columns) == ["precision", "recall", "f1"] and len(df) == 6
    for i, (g, p) in enumerate(zip(GOLDS, PREDS)):
        assert tuple(df.iloc[i]) == reference_prf(g, p, "exact_match")
    # worked values: exact -> 1; one of two gold found -> P 1, R .5, F 2/3; N1 among N1/N2 -> P .5, R 1
    assert df["f1"].tolist() == pytest.approx([1, 2 / 3, 0, 0, 0, 2 / 3])
    with pytest.raises(ValueError, match="unknown metric"):
        instance_scores(GOLDS, PREDS, "accuracy")
    with pytest.raises(ValueError, match="size mismatch"):
        instance_scores(GOLDS, PREDS[:-1], "exact_match")


def test_score_with_ci_equals_corpus_prf():
    metrics = REFERENCE_METRICS + ["clinical_exact_match"]
    table = score_with_ci(GOLDS, PREDS, metrics, n_boot=300, seed=0)
    assert list(table.index) == metrics
    assert list(table.columns) == ["precision", "recall", "f1", "f1_ci_low", "f1_ci_high", "n"]
    for m in metrics:
        ref = corpus_prf(GOLDS, PREDS, m)
        for k in ("precision", "recall", "f1"):
            assert abs(table.loc[m, k] - ref[k]) < 1e-9
        assert table.loc[m, "f1_ci_low"] <= table.loc[m, "f1"] <= table.loc[m, "f1_ci_high"]
        assert table.loc[m, "n"] == 6
    # clinical normalisation maps "25 mm" to "2.5 cm": one more exact hit than the reference scorer
    assert table.loc["exact_match", "f1"] == pytest.approx(100 * (1 + 2 / 3 + 2 / 3) / 6)
    assert table.loc["clinical_exact_match", "f1"] == pytest.approx(100 * (2 + 2 / 3 + 2 / 3) / 6)
    assert score_with_ci(GOLDS, PREDS, metrics, 300, 0).equals(table)  # deterministic


# ----------------------------------------------------------------------------- paired comparisons
def test_paired_tests_of_identical_systems():
    a = np.random.default_rng(0).random(50)
    res = paired_bootstrap(a, a.copy(), 500, 0)
    assert res == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "n": 50}


def test_paired_tests_detect_a_clearly_better_system():
    rng = np.random.default_rng(1)
    b = rng.random(120)
    a = np.clip(b + 0.15 + rng.normal(0, 0.1, 120), 0, 1)
    res = paired_bootstrap(a, b, 2000, 0)
    assert res["diff"] == pytest.approx(float((a - b).mean()))
    assert 0 < res["ci_low"] < res["diff"] < res["ci_high"]
    assert res["p_value"] < 0.05
    # swapped roles: the same evidence, a negative difference
    rev = paired_bootstrap(b, a, 2000, 0)
    assert rev["diff"] == pytest.approx(-res["diff"]) and rev["ci_high"] < 0 and rev["p_value"] < 0.05


def test_paired_tests_of_a_tiny_noisy_difference_are_not_significant():
    rng = np.random.default_rng(2)
    b = rng.random(40)
    a = b + rng.normal(0, 0.2, 40)  # no systematic difference
    assert paired_bootstrap(a, b, 2000, 3)["p_value"] > 0.05
    # deterministic for a seed
    assert paired_bootstrap(a, b, 500, 9) == paired_bootstrap(a, b, 500, 9)


def test_paired_tests_reject_unpaired_input():
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap([1, 0, 1], [1, 0], 10, 0)


# ----------------------------------------------------------------------------- confusion matrices
def test_confusion_worked_example():
    gold = ["T1", "T2", "T2", "T3", "T1"]
    pred = ["T1", "T2", "T1", "not mentioned", "T1"]
    cm = confusion(gold, pred)
    assert list(cm.index) == ["T1", "T2", "T3", "not mentioned"]  # sorted union: unseen prediction included
    assert list(cm.columns) == list(cm.index)
    assert cm.index.name == "gold" and cm.columns.name == "predicted"
    assert cm.loc["T1", "T1"] == 2 and cm.loc["T2", "T2"] == 1 and cm.loc["T2", "T1"] == 1
    assert cm.loc["T3", "not mentioned"] == 1 and cm.loc["not mentioned"].sum() == 0
    assert int(cm.to_numpy().sum()) == 5 and int(np.trace(cm.to_numpy())) == 3
    fixed = confusion(gold, pred, labels=["T1", "T2", "T3", "T4", "not mentioned"])
    assert list(fixed.columns) == ["T1", "T2", "T3", "T4", "not mentioned"] and fixed["T4"].sum() == 0
