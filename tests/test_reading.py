"""The evaluation chapter's "do the models read?" table and its words, computed from predictions."""

from __future__ import annotations

import pandas as pd

from cancerllm import evaluation as ev


def _test_set(n=30):
    rows = []
    for i in range(n):
        rows.append({"id": f"P{i}:t_stage", "task": "phenotype_extraction", "field": "t_stage", "cancer_type": "x",
                     "answers": [f"T{i % 4 + 1}"]})
        rows.append({"id": f"P{i}:diagnosis", "task": "diagnosis_generation", "field": "diagnosis",
                     "cancer_type": "x", "answers": [f"Malignant neoplasm of site {i % 3}"]})
    return pd.DataFrame(rows)


def test_reading_table_counts_distinct_answers_and_gaps_to_baselines():
    test = _test_set()
    gold = [list(a) for a in test["answers"]]
    const = [["T2"] if t == "phenotype_extraction" else ["Malignant neoplasm of site 0"] for t in test["task"]]
    preds = {"cancer_cpt": gold, "no_cpt": const, "tfidf_logreg": const, "rule": gold}
    tab = ev.reading_table(test, preds)
    assert tab.loc["cancer_cpt", "phenotype: distinct answers"] == 4
    assert tab.loc["no_cpt", "phenotype: distinct answers"] == 1
    assert tab.loc["cancer_cpt", "phenotype: F1"] == 100.0
    assert tab.loc["cancer_cpt", "phenotype: − tfidf_logreg"] == 100.0 - tab.loc["tfidf_logreg", "phenotype: F1"] > 0
    assert tab.loc["no_cpt", "diagnosis: − rule"] < 0
    words = ev.reading_summary(tab, ["no_cpt", "cancer_cpt", "general_cpt"], min_distinct=4)
    assert "**no_cpt** gives a constant answer" in words
    assert "**cancer_cpt** reads its input" in words and "above tfidf_logreg" in words
    assert "general_cpt" not in words  # not in this run: not described
