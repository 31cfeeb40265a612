"""The case index: one document per (training patient, task), searched by one retriever, with the exclusions
that keep held-out notes out of the prompt. Used in notebooks/60_retrieval.ipynb.

- One document per (training patient, task): the note body that patient's instructions of that task were asked
  about (all eight phenotype questions share one pathology report, so indexing per instruction row would store
  each report eight times). A hit is mapped back to that patient's instruction row of the query's task AND
  field, so an example always answers the same question as the query.
- Only training rows are indexed; on top of that a candidate is dropped when it belongs to the query's patient
  or when its text hash (`note_key`) equals that of any held-out (test or dev) note, so a duplicate note filed
  under another id cannot leak.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..data.loaders import text_hash
from ..instructions import TASKS, split_input
from .retrievers import RETRIEVERS

KEY_CHARS = 160  # a note's identity for exclusion: the hash of its first 160 characters (see note_key)


def _bodies(df: pd.DataFrame) -> list[str]:
    """The note body of each row's input (`instructions.split_input`)."""
    return [split_input(c, f)[0] for c, f in zip(df["context"], df["field"])]


def note_key(body: str) -> str:
    """`text_hash` of the note's first KEY_CHARS characters. build_instructions cuts a note at a slightly
    different point for each question (the question's length enters the token budget), so a full-text hash
    would miss the same note asked under another field; two different notes sharing their first 160
    characters are excluded too, which errs on the safe side (9 of 892 TCGA reports share their first 160)."""
    return text_hash(body[:KEY_CHARS])


def held_out_hashes(*frames: pd.DataFrame) -> set[str]:
    """`note_key` of every note body in the given (test, dev) instruction sets."""
    return {note_key(b) for df in frames for b in _bodies(df)}


class CaseIndex:
    """Training cases indexed by one retriever, one index per task (documents in a seeded order, so score ties
    are broken at random but reproducibly). `fit_seconds` and `query_seconds` record the cost."""

    def __init__(self, train_df: pd.DataFrame, retriever: str, seed: int = 0):
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}; choose from {sorted(RETRIEVERS)}")
        self.name, self.train = retriever, train_df.reset_index(drop=True)
        bodies = _bodies(self.train)
        self.row = {(p, f): i for i, (p, f) in enumerate(zip(self.train["patient_id"], self.train["field"]))}
        self.tasks, self.query_seconds, self.n_queries = {}, 0.0, 0
        t0 = time.perf_counter()
        for task, grp in self.train.groupby("task", sort=True):
            lengths = pd.Series([len(bodies[i]) for i in grp.index], index=grp.index)
            first = grp.loc[lengths.sort_values(ascending=False, kind="stable").index]
            first = first.drop_duplicates("patient_id").sort_index()  # the least-cut version of each note
            first = first.iloc[np.random.default_rng(seed).permutation(len(first))]
            docs = [bodies[i] for i in first.index]
            self.tasks[task] = {"patients": first["patient_id"].to_numpy(), "docs": docs,
                                "hashes": [note_key(d) for d in docs], "model": RETRIEVERS[retriever]().fit(docs)}
        self.fit_seconds = time.perf_counter() - t0

    def neighbours(self, queries: list[str], task: str, fields: list[str], patients: list[str], k: int,
                   exclude_hashes: set[str] = frozenset()) -> list[list[int]]:
        """For each query: up to k training row positions of the same task and field, most similar first,
        never of the query's patient and never a note whose hash is in `exclude_hashes`."""
        ix = self.tasks.get(task)
        if ix is None or k <= 0 or not queries:
            return [[] for _ in queries]
        uniq = list(dict.fromkeys(queries))  # the 8 phenotype questions of a patient share one note: search once
        n_docs = len(ix["docs"])
        out: list[list[int] | None] = [None] * len(queries)
        fetch = min(n_docs, 4 * k + 16)  # retrieve more than k, then filter
        while True:
            t0 = time.perf_counter()
            idx, _ = ix["model"].search(uniq, fetch)
            self.query_seconds += time.perf_counter() - t0
            self.n_queries += len(uniq)
            hits = dict(zip(uniq, idx))
            for i, (q, fld, pid) in enumerate(zip(queries, fields, patients)):
                if out[i] is None:
                    rows = [self.row[(ix["patients"][d], fld)] for d in hits[q]
                            if ix["patients"][d] != pid and ix["hashes"][d] not in exclude_hashes
                            and (ix["patients"][d], fld) in self.row]
                    out[i] = rows[:k] if len(rows) >= k or fetch == n_docs else None
            if all(o is not None for o in out):
                return out
            fetch = n_docs  # a few queries lost too many candidates: search everything once more


def timings(train_df: pd.DataFrame, test_df: pd.DataFrame, names, seed: int, repeats: int = 3) -> pd.DataFrame:
    """Per retriever: index build time (s, both tasks) and retrieval latency (ms per query, batched search of
    the distinct test notes), medians over `repeats` (time.perf_counter)."""
    bodies = _bodies(test_df)
    rows = {}
    for name in names:
        fit, per_query = [], []
        for _ in range(repeats):
            ix = CaseIndex(train_df, name, seed)
            for task in TASKS:
                pos = np.flatnonzero((test_df["task"] == task).to_numpy())
                ix.neighbours([bodies[i] for i in pos], task, list(test_df["field"].iloc[pos]),
                              list(test_df["patient_id"].iloc[pos]), 1)
            fit.append(ix.fit_seconds), per_query.append(ix.query_seconds / max(ix.n_queries, 1))
        rows[name] = {"documents": sum(len(t["docs"]) for t in ix.tasks.values()),
                      "index_build_seconds": round(float(np.median(fit)), 4),
                      "latency_ms_per_query": round(1000 * float(np.median(per_query)), 3)}
    return pd.DataFrame(rows).T.astype({"documents": int}).rename_axis("retriever")
