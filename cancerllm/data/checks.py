"""Reading an input table with clear errors (``read_table``), and the checks every loader's output goes through:
cells row by row (``check_cells``), the cohort (``check_cohort``: schema, empty text, duplicate ids, split
leakage, the allowed label values ``ALLOWED``) and the splits a run needs (``check_splits``); ``text_hash``
names a note's text.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .schema import LABEL_COLUMNS, NOT_MENTIONED, SPLITS, Cohort

#: one line of at most 200 characters with a letter in it and no surrounding whitespace: the free-text fields
_LABEL_TEXT = re.compile(r"(?=[^\n\r\t]*[A-Za-z])\S(?:[^\n\r\t]{0,198}\S)?")
_MARKER = r"[A-Za-z0-9][A-Za-z0-9/.-]* (?:positive|negative|equivocal|\d+(?:\.\d+)? ?(?:%|ng/mL))"
#: allowed gold values per field (besides "not mentioned"), whole-value matches; anything else is a label error.
#: The closed forms are those of the synthetic cohort and TCGA-Reports; map other spellings before loading.
ALLOWED = {
    "t_stage": re.compile(r"T[0-4][a-d]?\d?|TX|Tis|T0"),
    "n_stage": re.compile(r"N[0-3][a-c]?|NX"),
    "m_stage": re.compile(r"M[01][a-d]?|MX"),
    "grade": re.compile(r"(?i:G[1-4X]|grade [1-5]|(?:low|intermediate|high) grade"
                        r"|(?:well|moderately|poorly) differentiated|undifferentiated)"),
    "tumor_size": re.compile(r"\d+(?:\.\d+)?(?: ?x ?\d+(?:\.\d+)?){0,2} ?(?:mm|cm)"),
    "biomarker_status": re.compile(f"{_MARKER}(?:, {_MARKER})*"),
    "tumor_site": _LABEL_TEXT, "histologic_type": _LABEL_TEXT, "diagnosis": _LABEL_TEXT, "cancer_type": _LABEL_TEXT,
}


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV (optionally .gz), JSONL or Parquet with clear errors. No pickle, ever."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    name = path.name.lower()
    try:
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, encoding="utf-8", dtype=str, keep_default_na=False, na_values=[""])
        if name.endswith((".jsonl", ".json")):
            return pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
    except UnicodeDecodeError:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            where = "compressed content"
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            where = f"line {line}, byte {exc.start}"
        raise DataError(f"{path}: not UTF-8 text ({where}); re-save the file as UTF-8") from None
    except (ValueError, pd.errors.ParserError, OSError) as exc:
        raise DataError(f"{path}: unreadable ({exc.__class__.__name__}: {str(exc).splitlines()[0][:120]})") from None
    raise DataError(f"{path}: unsupported file type; use .csv, .csv.gz, .jsonl or .parquet")


def text_hash(text: str) -> str:
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()


def check_cohort(cohort: Cohort, source: str) -> Cohort:
    """Checks every loader's output, not assumed: schema, empty text, duplicate ids, split leakage, labels."""
    notes, labels = cohort.notes, cohort.labels
    for col in ["patient_id", "note_id", "note_type", "text", "split"]:
        if col not in notes.columns:
            raise DataError(f"{source}: missing required column '{col}'")
    empty = notes["text"].isna() | (notes["text"].astype(str).str.strip() == "")
    if empty.any():
        raise DataError(f"{source}: row {int(np.flatnonzero(empty.to_numpy())[0]) + 1}: empty text")
    dup = notes["note_id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0]) + 1
        raise DataError(f"{source}: row {row}: duplicate note_id {notes['note_id'].iloc[row - 1]!r}")
    bad_split = ~notes["split"].isin(SPLITS)
    if bad_split.any():
        row = int(np.flatnonzero(bad_split.to_numpy())[0]) + 1
        value = notes["split"].iloc[row - 1]
        if _missing(value):  # an empty cell read as NaN: say so rather than print 'nan'
            raise DataError(f"{source}: row {row}: empty split (one of {SPLITS})")
        raise DataError(f"{source}: row {row}: split {value!r} is not one of {SPLITS}")
    per_patient = notes.groupby("patient_id")["split"].nunique()
    leaked = per_patient[per_patient > 1]
    if len(leaked):
        raise DataError(f"{source}: patient {leaked.index[0]!r} appears in more than one split")
    for fld, pattern in ALLOWED.items():
        if fld not in labels.columns:
            continue
        vals = labels[fld]
        bad = vals.notna() & (vals != NOT_MENTIONED) & ~vals.astype(str).str.fullmatch(pattern)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{source}: patient {labels['patient_id'].iloc[i]!r}: {fld} label {vals.iloc[i]!r} "
                            f"is outside the allowed set")
    return cohort


def check_splits(cohort: Cohort, source: str, needed=SPLITS) -> Cohort:
    """At least one labelled patient in each split a run needs (train to tune, dev to pick checkpoints, test to
    score): an empty split, or one without any label, used to pass validate and fail inside a stage. A patient is
    labelled when any of the source's fields or the diagnosis has a value ("not mentioned" is one)."""
    labels = cohort.labels
    counts = labels["split"].value_counts()
    empty = [s for s in needed if not counts.get(s, 0)]
    if empty:
        have = ", ".join(f"{s} {int(counts.get(s, 0))}" for s in SPLITS)
        raise DataError(f"{source}: no patient in the {empty[0]} split ({have} patients); a run needs at least "
                        f"one patient in each of {list(needed)}")
    labelled = labels[[c for c in [*cohort.fields, "diagnosis"] if c in labels.columns]].notna().any(axis=1)
    unlabelled = [s for s in needed if not labelled[labels["split"] == s].any()]
    if unlabelled:
        raise DataError(f"{source}: no labelled patient in the {unlabelled[0]} split (no phenotype label or "
                        f"diagnosis); a run tunes on train, picks checkpoints on dev and scores test")
    return cohort


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def check_cells(df: pd.DataFrame, path: Path) -> None:
    """Row by row, before anything is grouped or cast: ids are non-empty text or integers without surrounding
    whitespace (astype(str) made a missing id the patient 'nan', and ' P1' a second patient beside 'P1'); every
    other column holds text or nothing (JSONL and Parquet can carry numbers, lists or objects)."""
    ids = [c for c in ("patient_id", "note_id") if c in df.columns]
    texts = [c for c in df.columns if c not in ids and c in ("note_type", "text", *LABEL_COLUMNS)]
    for row, record in enumerate(df[ids + texts].itertuples(index=False, name=None), 1):
        for col, value in zip(ids + texts, record):
            if col in ids:
                if _missing(value) or (isinstance(value, str) and not value.strip()):
                    raise DataError(f"{path}: row {row}: empty {col}")
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
                    raise DataError(f"{path}: row {row}: {col} must be text or an integer, "
                                    f"got {type(value).__name__} {value!r}")
                if isinstance(value, str) and value != value.strip():
                    raise DataError(f"{path}: row {row}: {col} {value!r} has leading or trailing whitespace")
            elif not (_missing(value) or isinstance(value, str)):
                raise DataError(f"{path}: row {row}: {col} must be a string, got {type(value).__name__} {value!r}")
