"""Loaders for real data — TCGA pathology reports, MTSamples, and your own notes — all returning a `Cohort`.

Real files are read from `cfg.shared_data_dir` (default ../shared/data) or `cfg.custom_data_path`; they are
never copied into the repository. Every problem with an input file raises `DataError` with one line that
names the file and, where there is one, the row (1-based data row, header excluded) or column.
Used in notebooks/00_data_profiling.ipynb and by every later stage through `load_cohort`.

Where the code lives (every name below is re-exported here: ``loaders.read_table``, ``loaders.load_tcga``, ...):
this module holds your own notes (``load_custom``, ``sample_custom_notes``, ``write_sample_notes``),
``assign_splits`` and the entry point ``load_cohort``; ``checks.py`` reads a table (``read_table``) and checks
every loader's output (``check_cells``, ``check_cohort``, ``check_splits``, ``ALLOWED``; ``text_hash``);
``public.py`` reads the public corpora (TCGA: ``read_tcga_reports``, ``load_tcga``, ``is_tcga_format``;
MTSamples: ``load_mtsamples``, ``load_mtsamples_general``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .checks import ALLOWED, check_cells, check_cohort, check_splits, read_table, text_hash
from .public import (ONCOLOGY_SPECIALTY, TCGA_COLUMNS, TCGA_FIELDS, TCGA_HINT, is_tcga_format, load_mtsamples,
                     load_mtsamples_general, load_tcga, read_tcga_reports)
from .schema import LABEL_COLUMNS, NOTE_TYPES, PHENOTYPE_FIELDS, Cohort

__all__ = [
    "ALLOWED", "ONCOLOGY_SPECIALTY", "REQUIRED_COLUMNS", "TCGA_COLUMNS", "TCGA_FIELDS", "TCGA_HINT", "DataError",
    "assign_splits", "check_cells", "check_cohort", "check_splits", "is_tcga_format", "load_cohort", "load_custom",
    "load_mtsamples", "load_mtsamples_general", "load_tcga", "read_table", "read_tcga_reports",
    "sample_custom_notes", "text_hash", "write_sample_notes",
]

REQUIRED_COLUMNS = ["patient_id", "note_id", "note_type", "text"]


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
