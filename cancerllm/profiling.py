"""Data profiling tables: cohort, lengths, labels and missingness, duplicates, split leakage, vocabulary.

Every function takes a `Cohort` and returns a DataFrame (figures live in `cancerllm.plots`).
Nothing here returns note text; `example_notes` refuses real data.
Used in notebooks/00_data_profiling.ipynb.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from .data.loaders import text_hash
from .data.schema import NOT_MENTIONED, SPLITS, Cohort

#: clinical abbreviations counted in the vocabulary profile (matched as whole words, case-sensitive)
ABBREVIATIONS = ["IDC", "ILC", "DCIS", "LVI", "ER", "PR", "HER2", "SCC", "RCC", "HCC", "NSCLC", "CLL", "AML",
                 "DLBCL", "PSA", "CEA", "CBC", "ROS", "HPI", "LN", "pT", "pN", "TNM", "ECOG", "GBM"]
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+\-]*")


def cohort_table(cohort: Cohort) -> pd.DataFrame:
    """Patients by cancer type (rows) and split (columns), with totals."""
    tab = pd.crosstab(cohort.labels["cancer_type"], cohort.labels["split"]).reindex(columns=SPLITS, fill_value=0)
    tab["total"] = tab.sum(axis=1)
    tab = tab.sort_values("total", ascending=False)
    tab.loc["all types"] = tab.sum()
    return tab


def note_lengths(cohort: Cohort, tokenizer=None) -> pd.DataFrame:
    """One row per note: note_type, split, characters, whitespace tokens (and model tokens if a tokenizer is given)."""
    notes = cohort.notes
    out = pd.DataFrame({
        "note_type": notes["note_type"].to_numpy(), "split": notes["split"].to_numpy(),
        "characters": notes["text"].str.len().to_numpy(),
        "words": notes["text"].str.split().str.len().to_numpy(),
    })
    if tokenizer is not None:
        out["tokens"] = [len(ids) for ids in tokenizer(list(notes["text"]))["input_ids"]]
    return out


def length_summary(lengths: pd.DataFrame) -> pd.DataFrame:
    """Median / 90th percentile / max of each length column per note type."""
    cols = [c for c in ["characters", "words", "tokens"] if c in lengths.columns]
    agg = lengths.groupby("note_type")[cols].quantile([0.5, 0.9, 1.0]).unstack()
    agg.columns = [f"{c} p{int(q * 100)}" for c, q in agg.columns]
    agg.insert(0, "notes", lengths.groupby("note_type").size())
    return agg


def label_status(cohort: Cohort) -> pd.DataFrame:
    """Per phenotype field: patients with a stated value, with 'not mentioned', and with no label at all."""
    rows = []
    for fld in [*cohort.fields, "diagnosis"]:
        vals = cohort.labels[fld]
        rows.append({
            "field": fld,
            "stated": int((vals.notna() & (vals != NOT_MENTIONED)).sum()),
            "not mentioned": int((vals == NOT_MENTIONED).sum()),
            "no label": int(vals.isna().sum()),
            "distinct values": int(vals[vals.notna() & (vals != NOT_MENTIONED)].nunique()),
        })
    return pd.DataFrame(rows).set_index("field")


def label_counts(cohort: Cohort, fields, top: int = 8) -> pd.DataFrame:
    """Long table (field, value, patients) of the `top` most frequent gold values per field."""
    rows = []
    for fld in fields:
        vc = cohort.labels[fld].fillna("(no label)").value_counts()
        for value, n in vc.head(top).items():
            rows.append({"field": fld, "value": str(value), "patients": int(n)})
    return pd.DataFrame(rows)


def duplicates(cohort: Cohort, threshold: float = 0.9, max_notes: int = 3000) -> pd.DataFrame:
    """Exact duplicates (same text hash) and near duplicates (character 3–5-gram TF-IDF cosine >= threshold).

    Returns one row per duplicate pair: note ids, patients, splits, similarity, and whether it crosses splits.
    """
    notes = cohort.notes.head(max_notes).reset_index(drop=True)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=1, max_features=50000)
    sim = cosine_similarity(vec.fit_transform(notes["text"]))
    np.fill_diagonal(sim, 0.0)
    hashes = notes["text"].map(text_hash).to_numpy()
    ii, jj = np.nonzero(np.triu(sim >= threshold))
    rows = [{
        "note_a": notes["note_id"][i], "note_b": notes["note_id"][j],
        "same_patient": notes["patient_id"][i] == notes["patient_id"][j],
        "split_a": notes["split"][i], "split_b": notes["split"][j],
        "similarity": round(float(sim[i, j]), 3), "exact": bool(hashes[i] == hashes[j]),
    } for i, j in zip(ii, jj)]
    df = pd.DataFrame(rows, columns=["note_a", "note_b", "same_patient", "split_a", "split_b", "similarity", "exact"])
    df["crosses_splits"] = df["split_a"] != df["split_b"]
    return df


def duplicated_across_splits(cohort: Cohort, dups: pd.DataFrame, split: str = "test") -> set[str]:
    """Patients of `split` with a note that is an exact or near duplicate (``duplicates``) of a note in another
    split. Chapter 30 scores the test split with and without them."""
    cross = dups[dups["crosses_splits"]]
    notes = cohort.notes.set_index("note_id")["patient_id"]
    hits = set()
    for a, b, sa, sb in cross[["note_a", "note_b", "split_a", "split_b"]].itertuples(index=False):
        hits |= {notes[n] for n, s in ((a, sa), (b, sb)) if s == split}
    return hits


def leakage_check(cohort: Cohort, dups: pd.DataFrame) -> pd.DataFrame:
    """The split-leakage checks, each with its count (all should be 0)."""
    per_patient = cohort.notes.groupby("patient_id")["split"].nunique()
    label_split = cohort.labels.set_index("patient_id")["split"]
    note_split = cohort.notes.groupby("patient_id")["split"].first()
    checks = {
        "patients in more than one split": int((per_patient > 1).sum()),
        "patients whose label split differs from note split": int((label_split != note_split.reindex(label_split.index)).sum()),
        "exact duplicate texts across splits": int((dups["exact"] & dups["crosses_splits"]).sum()),
        "near-duplicate pairs across splits": int((~dups["exact"] & dups["crosses_splits"]).sum()),
    }
    return pd.DataFrame({"check": list(checks), "count": list(checks.values())}).set_index("check")


def vocabulary(cohort: Cohort, top: int = 20) -> pd.DataFrame:
    """Most frequent lower-cased words of length >= 4 across all notes (stopword-free by construction)."""
    counts = Counter(w.lower() for t in cohort.notes["text"] for w in _WORD.findall(t) if len(w) >= 4)
    return pd.DataFrame(counts.most_common(top), columns=["word", "count"])


def abbreviation_counts(cohort: Cohort) -> pd.DataFrame:
    """How often each clinical abbreviation appears, and in how many notes."""
    rows = []
    for abbr in ABBREVIATIONS:
        pat = re.compile(rf"(?<![A-Za-z]){re.escape(abbr)}(?![a-z])")
        hits = cohort.notes["text"].map(lambda t, pat=pat: len(pat.findall(t)))
        rows.append({"abbreviation": abbr, "mentions": int(hits.sum()), "notes": int((hits > 0).sum())})
    return pd.DataFrame(rows).sort_values("mentions", ascending=False).reset_index(drop=True)


def example_notes(cohort: Cohort, n: int = 1) -> pd.DataFrame:
    """A few notes with their gold labels — synthetic data only; real notes are never shown."""
    if cohort.is_real:
        raise PermissionError("example_notes: refusing to show real note text (the cohort is real patient data)")
    first = cohort.notes.groupby("note_type").head(n)
    return first.merge(cohort.labels.drop(columns="split"), on="patient_id")


def examples_or_notice(cohort: Cohort, show: bool, n: int = 1):
    """What the examples cell shows: synthetic notes with labels, or a notice that real text is withheld."""
    from IPython.display import Markdown

    if cohort.is_real:
        return Markdown("*Note text is not shown: this run uses real patient data, and the book never prints it.*")
    if not show:
        return Markdown("*Examples switched off (`show_examples: false`).*")
    ex = example_notes(cohort, n)
    blocks = [f"**{r.note_type}** of `{r.patient_id}` ({r.cancer_type}; synthetic)\n\n```text\n{r.text}\n```\n\n"
              f"Gold: " + "; ".join(f"{f} = *{getattr(r, f)}*" for f in [*cohort.fields, "diagnosis"])
              for r in ex.itertuples()]
    return Markdown("\n\n".join(blocks))


def profile_metrics(cohort: Cohort, lengths: pd.DataFrame, status: pd.DataFrame, leakage: pd.DataFrame) -> dict:
    """The stage's metrics.json: counts a later stage or a test can check."""
    return {
        "cohort": cohort.name, "data_is_real": cohort.is_real,
        "patients": int(cohort.labels["patient_id"].nunique()), "notes": len(cohort.notes),
        "general_notes": len(cohort.general),
        "patients_per_split": {s: int((cohort.labels["split"] == s).sum()) for s in SPLITS},
        "median_words_per_note": float(lengths["words"].median()),
        "label_status": status.astype(int).to_dict(orient="index"),
        "leakage": {k: int(v) for k, v in leakage["count"].items()},
    }
