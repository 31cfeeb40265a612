"""The public corpora: TCGA pathology reports (``read_tcga_reports``, ``load_tcga``) and MTSamples
transcriptions (``load_mtsamples``, ``load_mtsamples_general``), read from `cfg.shared_data_dir`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .checks import check_cells, check_cohort, read_table, text_hash
from .schema import LABEL_COLUMNS, Cohort

TCGA_HINT = (
    "get the public TCGA-Reports corpus (Kefeli & Tatonetti, Patterns 2024; github.com/tatonetti-lab/"
    "tcga-path-reports) and point 'shared_data_dir' at a folder holding tcga-reports/reports_labeled_dev.csv"
)
TCGA_FIELDS = ["histologic_type", "grade", "t_stage", "n_stage", "m_stage"]
ONCOLOGY_SPECIALTY = "Hematology - Oncology"


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
