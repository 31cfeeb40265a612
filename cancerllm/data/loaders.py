"""Loaders for real data — TCGA pathology reports, MTSamples, and your own notes — all returning a `Cohort`.

Real files are read from `cfg.shared_data_dir` (default ../shared/data) or `cfg.custom_data_path`; they are
never copied into the repository. Every problem with an input file raises `DataError` with one line that
names the file and, where there is one, the row (1-based data row, header excluded) or column.
Used in notebooks/00_data_profiling.ipynb and by every later stage through `load_cohort`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import LABEL_COLUMNS, NOT_MENTIONED, NOTE_TYPES, PHENOTYPE_FIELDS, SPLITS, Cohort
from ..errors import DataError

TCGA_HINT = (
    "get the public TCGA-Reports corpus (Kefeli & Tatonetti, Patterns 2024; github.com/tatonetti-lab/"
    "tcga-path-reports) and point 'shared_data_dir' at a folder holding tcga-reports/reports_labeled_dev.csv"
)
TCGA_FIELDS = ["histologic_type", "grade", "t_stage", "n_stage", "m_stage"]
REQUIRED_COLUMNS = ["patient_id", "note_id", "note_type", "text"]
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
ONCOLOGY_SPECIALTY = "Hematology - Oncology"



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


def assign_splits(patient_ids, fractions, seed: int) -> dict:
    """Seeded patient-level split: every patient gets exactly one of train/dev/test."""
    ids = sorted(set(patient_ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = round(fractions[0] * len(ids))
    n_dev = round(fractions[1] * len(ids))
    out = {}
    for rank, idx in enumerate(order):
        out[ids[idx]] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    return out


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


#: the columns that mark a file in the TCGA reports' format (``reports_labeled_dev.csv``)
TCGA_COLUMNS = ["patient_id", "patient_filename", "text", "cancer_type", "cancer_type_name", "t_stage"]


def is_tcga_format(path: Path) -> bool:
    """Whether a table has the TCGA reports' columns (``TCGA_COLUMNS``), read from its header only."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False  # not readable as the TCGA format: the custom-notes reader names what is wrong with it
    return all(c in header for c in TCGA_COLUMNS)


def read_tcga_reports(path: Path, keep_split: bool = True) -> Cohort:
    """Pathology reports in the TCGA file's format (one per patient, its columns as in
    ``reports_labeled_dev.csv``): T/N/M, grade, histology, diagnosis = the cancer type name. `keep_split`
    keeps the file's split column; otherwise (external validation: any split column ignored) every report is a
    test report. Grade "[Not Available]"/"[Unknown]", bracketed histology and empty N/M mean *no label*
    (skipped), not "not mentioned"."""
    path = Path(path)
    df = read_table(path)
    needed = TCGA_COLUMNS + (["split"] if keep_split else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing required column '{missing[0]}'")
    if df.empty:
        raise DataError(f"{path}: no data rows (only a header)")
    split = df["split"] if keep_split else "test"
    notes = pd.DataFrame({
        "patient_id": df["patient_id"], "note_id": df["patient_filename"], "note_type": "pathology_report",
        "text": df["text"], "split": split,
    })
    check_cells(notes, path)  # the same row checks as your own notes (ids, whitespace)

    def column(name):
        return df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)

    grade = column("histological_grade_cdr")
    grade = grade.where(~grade.isin(["[Not Available]", "[Unknown]"]))
    hist = column("histological_type_cdr")
    labels = pd.DataFrame({
        "patient_id": df["patient_id"], "cancer_type": df["cancer_type"], "split": split,
        "tumor_site": None, "tumor_size": None,
        "histologic_type": hist.where(~hist.astype(str).str.startswith("[") & hist.notna()),
        "grade": grade, "t_stage": df["t_stage"], "n_stage": column("n_stage"), "m_stage": column("m_stage"),
        "biomarker_status": None, "diagnosis": df["cancer_type_name"],
    })[LABEL_COLUMNS]
    return Cohort(name=path.stem, is_real=True, notes=notes, labels=labels, fields=TCGA_FIELDS)


def load_tcga(data_dir: Path) -> Cohort:
    """892 real TCGA pathology reports (one per patient) with T/N/M, grade, histology, cancer type
    (``read_tcga_reports``). The fixed train/dev/test split that ships with the file is kept."""
    path = Path(data_dir) / "tcga-reports" / "reports_labeled_dev.csv"
    if not path.is_file():
        raise DataError(f"{path}: file not found; {TCGA_HINT}")
    cohort = dataclasses.replace(read_tcga_reports(path), name="tcga", general=load_mtsamples_general(data_dir))
    return check_cohort(cohort, str(path))


def load_mtsamples(data_dir: Path) -> pd.DataFrame:
    """MTSamples transcriptions, deduplicated on the text hash (the file lists a text under several specialties)."""
    path = Path(data_dir) / "mtsamples" / "mtsamples_dev.csv.gz"
    df = read_table(path)
    df = df[df["transcription"].fillna("").str.strip() != ""].copy()
    df["transcription_sha1"] = df["transcription"].map(text_hash)
    return df.drop_duplicates("transcription_sha1").reset_index(drop=True)


def load_mtsamples_general(data_dir: Path) -> pd.DataFrame:
    """General clinical text for the general-CPT corpus: MTSamples without any oncology note."""
    path = Path(data_dir) / "mtsamples" / "mtsamples_dev.csv.gz"
    if not path.is_file():
        return pd.DataFrame(columns=["note_id", "text"])
    df = load_mtsamples(data_dir)
    onc = df["all_specialties_for_text"].fillna("").str.contains(ONCOLOGY_SPECIALTY, regex=False)
    df = df[~onc]
    return pd.DataFrame({"note_id": "MTS-" + df["transcription_sha1"].str[:12], "text": df["transcription"]})


def load_custom(path: Path, fractions, seed: int) -> Cohort:
    """Your own notes. Required columns: patient_id, note_id, note_type, text. Optional: split (train/dev/test;
    assigned by patient when absent), cancer_type, any of the phenotype fields, diagnosis — given on any note
    row of the patient. Labels must agree across a patient's rows."""
    path = Path(path)
    df = read_table(path)
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise DataError(f"{path}: missing required column '{col}'")
    if df.empty:
        raise DataError(f"{path}: no data rows (only a header)")
    check_cells(df, path)
    df = df.astype({c: str for c in ["patient_id", "note_id"]})
    bad_type = ~df["note_type"].isin(NOTE_TYPES)
    if bad_type.any():
        row = int(np.flatnonzero(bad_type.to_numpy())[0]) + 1
        raise DataError(f"{path}: row {row}: note_type {df['note_type'].iloc[row - 1]!r} is not one of {NOTE_TYPES}")
    if "split" not in df.columns:
        splits = assign_splits(df["patient_id"], fractions, seed)
        df["split"] = df["patient_id"].map(splits)
    label_cols = [c for c in ["cancer_type", *PHENOTYPE_FIELDS, "diagnosis"] if c in df.columns]
    rows = []
    for pid, grp in df.groupby("patient_id", sort=True):
        row = {"patient_id": pid, "split": grp["split"].iloc[0]}
        for col in label_cols:
            vals = grp[col].dropna().astype(str).unique()
            if len(vals) > 1:
                raise DataError(f"{path}: patient {pid!r}: conflicting {col} labels {sorted(vals)[:2]}")
            row[col] = vals[0] if len(vals) else None
        rows.append(row)
    labels = pd.DataFrame(rows).reindex(columns=LABEL_COLUMNS)
    notes = df[["patient_id", "note_id", "note_type", "text", "split"]].reset_index(drop=True)
    fields = [f for f in PHENOTYPE_FIELDS if f in label_cols]
    cohort = Cohort(name=path.stem, is_real=True, notes=notes, labels=labels, fields=fields)
    return check_cohort(cohort, str(path))


def sample_custom_notes(n_patients: int = 60, seed: int = 42) -> pd.DataFrame:
    """A small file in the custom-notes schema that ``load_custom`` accepts: the synthetic generator's notes (no
    patient text at all) with each patient's split and labels repeated on every note row. It shows the format a
    hospital's own notes must take, and gives ``data_source: custom`` something to run on without real data. Used
    by `python -m cancerllm sample-data`."""
    from .synthetic import generate_cohort

    if n_patients < 10:
        raise DataError(f"--patients {n_patients}: need at least 10 patients, so that train, dev and test each get one")
    cohort = generate_cohort(n_patients, seed=seed, ocr_noise_rate=0.0, n_general_notes=0)
    labels = cohort.labels.drop(columns=["split"])
    out = cohort.notes.merge(labels, on="patient_id", how="left", validate="many_to_one")
    return out[["patient_id", "note_id", "note_type", "text", "split", "cancer_type", *PHENOTYPE_FIELDS, "diagnosis"]]


def write_sample_notes(path: Path, n_patients: int = 60, seed: int = 42) -> Path:
    """Write ``sample_custom_notes`` as CSV, JSONL or Parquet (by the file name), checked by reading it back with
    ``load_custom`` so that what is written is what `validate` accepts."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give a file name ending .csv, .jsonl or .parquet")
    if not name.endswith((".csv", ".csv.gz", ".jsonl", ".parquet")):
        raise DataError(f"{path}: unsupported file type; use .csv, .csv.gz, .jsonl or .parquet")
    df = sample_custom_notes(n_patients, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if name.endswith(".jsonl"):
            df.to_json(path, orient="records", lines=True, force_ascii=False)
        elif name.endswith(".parquet"):
            df.to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
        load_custom(path, [0.7, 0.1, 0.2], seed)
    except BaseException:  # nothing half-written: a file that does not load is not left behind
        path.unlink(missing_ok=True)
        raise
    return path


def load_cohort(cfg, splits=()) -> Cohort:
    """The one entry point: the cohort named by `cfg.data_source`. Used by every notebook. `splits`: those the
    caller needs a patient in (`validate` and `run`: all three, see `check_splits`)."""
    if cfg.data_source == "synthetic":
        from .synthetic import generate_cohort

        cohort = generate_cohort(cfg.n_patients, seed=cfg.seed, ocr_noise_rate=cfg.ocr_noise_rate,
                                 n_general_notes=cfg.n_general_notes, split_fractions=tuple(cfg.split_fractions),
                                 n_unlabelled=cfg.n_unlabelled_patients)
        source = "synthetic cohort"
        cohort = check_cohort(cohort, source)
    elif cfg.data_source == "tcga":
        source, cohort = str(Path(cfg.data_dir) / "tcga-reports" / "reports_labeled_dev.csv"), load_tcga(cfg.data_dir)
    else:
        if not cfg.custom_data_path:
            raise DataError("params: key 'custom_data_path' is empty but data_source is 'custom'")
        source, cohort = str(cfg.custom_path), load_custom(cfg.custom_path, cfg.split_fractions, cfg.seed)
    return check_splits(cohort, source, splits) if splits else cohort
