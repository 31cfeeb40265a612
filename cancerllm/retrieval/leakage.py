"""Leakage checks: what got into the prompts that should not have (the query's own patient, a held-out id or
note hash) and near-duplicates of the query note (character n-gram cosine >= NEAR_DUPLICATE; reported, not
filtered). Used in notebooks/60_retrieval.ipynb.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from ..cases.index import _bodies, held_out_hashes, note_key

NEAR_DUPLICATE = 0.9  # character n-gram cosine at which a retrieved note counts as a near-duplicate of the query


def leakage_report(test_df: pd.DataFrame, retrieved: pd.DataFrame, train_df: pd.DataFrame, vectorizer=None) -> dict:
    """Counts over the retrieved cases of `retrieved` (an `augment` output): same_patient (a case of the query's
    own patient), held_out (a case whose id or note hash is in `test_df`, the held-out rows), near_duplicate
    (character n-gram cosine >= NEAR_DUPLICATE between the query note and the case's note; reported only).
    `vectorizer`: a fitted `_near_duplicate_vectorizer` to reuse across calls."""
    bodies = dict(zip(train_df["id"], _bodies(train_df)))
    bodies.update(zip(test_df["id"], _bodies(test_df)))
    held_ids, held_hashes = set(test_df["id"]), held_out_hashes(test_df)
    pairs = [(q, bodies[c]) for q, ids in zip(_bodies(retrieved), retrieved["retrieved_ids"]) for c in ids]
    same = sum(sum(x == p for x in pats) for p, pats in zip(retrieved["patient_id"], retrieved["retrieved_patients"]))
    held = sum((c in held_ids) or (note_key(bodies[c]) in held_hashes)
               for ids in retrieved["retrieved_ids"] for c in ids)
    near = 0
    if pairs:
        vec = vectorizer or _near_duplicate_vectorizer(test_df, train_df)
        a, b = vec.transform([p[0] for p in pairs]), vec.transform([p[1] for p in pairs])
        near = int((np.asarray(a.multiply(b).sum(axis=1)).ravel() >= NEAR_DUPLICATE).sum())
    return {"queries": len(retrieved), "retrieved_cases": len(pairs), "same_patient": int(same),
            "held_out": int(held), "near_duplicate": near}


def _near_duplicate_vectorizer(test_df: pd.DataFrame, train_df: pd.DataFrame) -> TfidfVectorizer:
    """Character 3-5-gram tf-idf fitted on every note once, so near-duplicate counts are comparable across calls."""
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    return vec.fit(list(dict.fromkeys(_bodies(train_df) + _bodies(test_df))))


def leakage_table(stacked: pd.DataFrame, held_out, train_df: pd.DataFrame) -> pd.DataFrame:
    """One leakage_report row per retrieval condition of a `build_conditions` frame; `held_out`: a frame or a
    list of frames (test, dev)."""
    held_out = held_out if isinstance(held_out, pd.DataFrame) else pd.concat(list(held_out), ignore_index=True)
    vec = _near_duplicate_vectorizer(held_out, train_df)
    rows = {c: leakage_report(held_out, g, train_df, vec)
            for c, g in stacked[stacked["k"] > 0].groupby("condition", sort=False)}
    return pd.DataFrame(rows).T.rename_axis("condition")
