"""The trained baselines and the driver: ``TfidfBaseline`` (TF-IDF + logistic regression, one classifier per
field), ``MajorityBaseline`` (the most common training answer per field), ``field_macro_f1`` (class-level
accuracy and macro-F1 per field, the number published TCGA TF-IDF baselines report) and ``predict_all`` (fit
the rule and TF-IDF baselines, predict the test rows).

Used in notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from tqdm.auto import tqdm

from ..data.schema import NOT_MENTIONED, split_answers
from .rule import RuleBaseline
from .text import _most_common, raw_note


# ============================================================================ TF-IDF + logistic regression
def _distinct_notes(df: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The distinct raw notes of ``df`` (first-seen order; the fields of one report share a note) and, per
    row, the index of its note among them: vectorise each note once, then pick rows by index."""
    notes = [raw_note(c, f) for f, c in zip(df["field"], df["context"])]
    uniq = list(dict.fromkeys(notes))
    row_of = {t: i for i, t in enumerate(uniq)}
    return uniq, np.array([row_of[t] for t in notes], dtype=int)


class TfidfBaseline:
    """TF-IDF (word 1-2-grams, sublinear tf) + logistic regression, one classifier per field.

    Used in notebooks/30_evaluation.ipynb. The class is the whole gold response string (``NOT_MENTIONED``
    included); a field with one training class predicts it. The vectoriser is fitted once on the distinct
    training notes (unsupervised, shared by the per-field classifiers, which is what keeps the fit fast);
    ``min_df`` falls back to 1 when the training set is too small for it. Deterministic for a seed.
    """

    def __init__(self, seed: int = 42, C: float = 3.0, class_weight: str | None = "balanced", min_df: int = 2,
                 max_features: int | None = 200_000, tol: float = 1e-3):
        self.seed, self.C, self.class_weight, self.min_df = seed, C, class_weight, min_df
        self.max_features, self.tol = max_features, tol
        self.vectorizer: TfidfVectorizer | None = None
        self.models: dict[str, LogisticRegression | str] = {}

    def _vectorizer(self, min_df: int) -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, max_features=self.max_features,
                               lowercase=True, dtype=np.float32)

    def fit(self, train_df: pd.DataFrame) -> TfidfBaseline:
        uniq, idx = _distinct_notes(train_df)
        try:
            self.vectorizer = self._vectorizer(self.min_df if len(uniq) >= 5 * self.min_df else 1)
            X_uniq = self.vectorizer.fit_transform(uniq)
        except ValueError:  # empty vocabulary after min_df pruning
            self.vectorizer = self._vectorizer(1)
            X_uniq = self.vectorizer.fit_transform(uniq)
        fields = train_df["field"].to_numpy()
        y_all = train_df["response"].astype(str).to_numpy()
        self.models = {}
        for fld in tqdm(list(dict.fromkeys(fields)), desc="tfidf fit", leave=False):
            mask = fields == fld
            y = y_all[mask]
            if len(set(y)) == 1:
                self.models[fld] = y[0]
                continue
            clf = LogisticRegression(C=self.C, max_iter=1000, tol=self.tol, class_weight=self.class_weight,
                                     random_state=self.seed)
            with warnings.catch_warnings():  # "more classes than half the samples" (tumour sizes): expected here
                warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
                clf.fit(X_uniq[idx[mask]], y)
            self.models[fld] = clf
        return self

    def predict_labels(self, test_df: pd.DataFrame) -> list[str]:
        """The predicted class (full response string) per row; an unseen field gets ``NOT_MENTIONED``."""
        if self.vectorizer is None:
            raise RuntimeError("TfidfBaseline.predict called before fit")
        uniq, idx = _distinct_notes(test_df)
        X_uniq = self.vectorizer.transform(uniq)
        fields = test_df["field"].to_numpy()
        out = np.full(len(test_df), NOT_MENTIONED, dtype=object)
        for fld in dict.fromkeys(fields):
            mask = fields == fld
            model = self.models.get(fld)
            if model is None:
                continue
            out[mask] = model if isinstance(model, str) else model.predict(X_uniq[idx[mask]])
        return [str(x) for x in out]

    def predict(self, test_df: pd.DataFrame) -> list[list[str]]:
        """One answer list per row of ``test_df`` (the class string split on commas)."""
        return [split_answers(s) or [NOT_MENTIONED] for s in self.predict_labels(test_df)]

    def confidence(self, test_df: pd.DataFrame) -> np.ndarray:
        """The classifier's probability of the class it predicts, per row (``predict_proba``'s maximum, which
        is the predicted class's for logistic regression); 1.0 for a field with one training class, 0.0 for an
        unseen field (chapter 35)."""
        if self.vectorizer is None:
            raise RuntimeError("TfidfBaseline.confidence called before fit")
        uniq, idx = _distinct_notes(test_df)
        X_uniq = self.vectorizer.transform(uniq)
        fields = test_df["field"].to_numpy()
        out = np.zeros(len(test_df))
        for fld in dict.fromkeys(fields):
            mask, model = fields == fld, self.models.get(fld)
            if model is not None:
                out[mask] = 1.0 if isinstance(model, str) else model.predict_proba(X_uniq[idx[mask]]).max(axis=1)
        return out


class MajorityBaseline:
    """The most common training response of each field, for every test row (ties: alphabetical).

    Used in notebooks/30_evaluation.ipynb as the floor of the class-level comparison.
    """

    def __init__(self):
        self.majority: dict[str, str] = {}

    def fit(self, train_df: pd.DataFrame) -> MajorityBaseline:
        self.majority = {f: _most_common(Counter(g.astype(str))) for f, g in train_df.groupby("field")["response"]}
        return self

    def predict(self, test_df: pd.DataFrame) -> list[list[str]]:
        return [split_answers(self.majority.get(f, NOT_MENTIONED)) or [NOT_MENTIONED] for f in test_df["field"]]


# ============================================================================ scoring and running
def field_macro_f1(test_df: pd.DataFrame, preds: list[list[str]]) -> pd.DataFrame:
    """Class-level scores per field (exact match of the whole response, answers re-joined with ", "):
    columns n, n_classes (gold), accuracy and macro_f1 (scikit-learn, labels = gold union predicted), 0-1.

    Used in notebooks/30_evaluation.ipynb; comparable to published TCGA TF-IDF baselines.
    """
    if len(preds) != len(test_df):
        raise ValueError(f"size mismatch: {len(test_df)} rows and {len(preds)} predictions")
    gold = [", ".join(a) for a in test_df["answers"]] if "answers" in test_df else list(test_df["response"])
    pred = [", ".join(p) for p in preds]
    frame = pd.DataFrame({"field": test_df["field"].to_numpy(), "gold": gold, "pred": pred})
    rows = []
    for fld, g in frame.groupby("field", sort=False):
        rows.append({"field": fld, "n": len(g), "n_classes": g["gold"].nunique(),
                     "accuracy": float((g["gold"] == g["pred"]).mean()),
                     "macro_f1": float(f1_score(g["gold"], g["pred"], average="macro", zero_division=0))})
    return pd.DataFrame(rows, columns=["field", "n", "n_classes", "accuracy", "macro_f1"]).set_index("field")


def predict_all(train_df: pd.DataFrame, test_df: pd.DataFrame, seed: int) -> dict[str, list[list[str]]]:
    """Fit both baselines on ``train_df`` and predict ``test_df``: {"rule": ..., "tfidf_logreg": ...}.

    Used in notebooks/30_evaluation.ipynb.
    """
    return {
        "rule": RuleBaseline().fit(train_df).predict(test_df),
        "tfidf_logreg": TfidfBaseline(seed=seed).fit(train_df).predict(test_df),
    }
