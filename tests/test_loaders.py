"""Real-data loaders: the custom CSV/JSONL/Parquet loader, its error messages, splits, synthetic and TCGA."""

from __future__ import annotations

import os
from collections import Counter

import pandas as pd
import pytest

from cancerllm.config import REPO_ROOT, Config, make_config
from cancerllm.data.loaders import (
    ONCOLOGY_SPECIALTY,
    TCGA_FIELDS,
    DataError,
    assign_splits,
    check_cohort,
    load_cohort,
    load_custom,
    load_mtsamples,
    load_mtsamples_general,
    load_tcga,
    read_table,
    text_hash,
)
from cancerllm.data.schema import LABEL_COLUMNS, NOTE_COLUMNS, PHENOTYPE_FIELDS, SPLITS, Cohort

FR = [0.5, 0.25, 0.25]
TCGA_CSV = Config().data_dir / "tcga-reports" / "reports_labeled_dev.csv"
needs_tcga = pytest.mark.skipif(not TCGA_CSV.is_file(), reason=f"real data not present: {TCGA_CSV}")


def _rows(overrides=None):
    """Five notes of three patients with labels given on some rows (P2's labels on its second row only)."""
    rows = [
        {"patient_id": "P1", "note_id": "N1", "note_type": "clinical_note", "text": "Breast mass, T2 N0.",
         "cancer_type": "breast", "t_stage": "T2", "n_stage": "N0"},
        {"patient_id": "P1", "note_id": "N2", "note_type": "pathology_report", "text": "Invasive ductal carcinoma.",
         "cancer_type": "breast", "t_stage": "T2", "n_stage": "N0"},
        {"patient_id": "P2", "note_id": "N3", "note_type": "clinical_note", "text": "Cough, lung nodule.",
         "cancer_type": None, "t_stage": None, "n_stage": None},
        {"patient_id": "P2", "note_id": "N4", "note_type": "pathology_report", "text": "Adenocarcinoma of lung.",
         "cancer_type": "lung", "t_stage": "T1a", "n_stage": "not mentioned"},
        {"patient_id": "P3", "note_id": "N5", "note_type": "clinical_note", "text": "Prostate, Gleason 3+4.",
         "cancer_type": "prostate", "t_stage": None, "n_stage": None},
    ]
    for (row, col), value in (overrides or {}).items():
        rows[row][col] = value
    return rows


def _err(fn, *args) -> str:
    with pytest.raises(DataError) as info:
        fn(*args)
    msg = str(info.value)
    assert "\n" not in msg, f"DataError must be one line, got {msg!r}"
    return msg


# ----------------------------------------------------------------------------- custom loader, good input
@pytest.mark.parametrize("name", ["notes.csv", "notes.jsonl", "notes.parquet"])
def test_custom_loader_formats(write_notes, name):
    path = write_notes(_rows(), name)
    cohort = load_custom(path, FR, seed=3)
    assert isinstance(cohort, Cohort)
    assert cohort.is_real is True
    assert cohort.name == "notes"
    assert list(cohort.notes.columns) == NOTE_COLUMNS
    assert list(cohort.labels.columns) == LABEL_COLUMNS
    assert cohort.notes["note_id"].tolist() == ["N1", "N2", "N3", "N4", "N5"]
    assert cohort.notes["text"].iloc[3] == "Adenocarcinoma of lung."
    assert cohort.labels["patient_id"].tolist() == ["P1", "P2", "P3"]
    assert cohort.fields == ["t_stage", "n_stage"]
    lab = cohort.labels.set_index("patient_id")
    assert lab.loc["P1", "t_stage"] == "T2" and lab.loc["P1", "cancer_type"] == "breast"
    # labels given on one of a patient's rows only are taken from that row
    assert lab.loc["P2", "t_stage"] == "T1a" and lab.loc["P2", "n_stage"] == "not mentioned"
    assert lab.loc["P2", "cancer_type"] == "lung"
    assert pd.isna(lab.loc["P3", "t_stage"])
    assert lab["grade"].isna().all() and lab["diagnosis"].isna().all()
    # splits assigned by patient, identical for the same seed and consistent between notes and labels
    expected = assign_splits(["P1", "P2", "P3"], FR, 3)
    assert dict(zip(cohort.labels["patient_id"], cohort.labels["split"])) == expected
    assert cohort.notes.groupby("patient_id")["split"].nunique().max() == 1
    assert dict(zip(cohort.notes["patient_id"], cohort.notes["split"])) == expected


def test_custom_loader_keeps_given_split_and_numeric_ids(write_notes):
    rows = _rows()
    for r, s in zip(rows, ["train", "train", "dev", "dev", "test"]):
        r["split"] = s
    for r in rows:
        r["patient_id"] = int(r["patient_id"][1:])
    cohort = load_custom(write_notes(rows, "notes.parquet"), FR, seed=0)
    assert cohort.notes["split"].tolist() == ["train", "train", "dev", "dev", "test"]
    assert cohort.labels[["patient_id", "split"]].values.tolist() == [["1", "train"], ["2", "dev"], ["3", "test"]]


def test_custom_loader_minimal_columns(write_notes):
    rows = [{k: r[k] for k in ("patient_id", "note_id", "note_type", "text")} for r in _rows()]
    cohort = load_custom(write_notes(rows, "min.csv"), FR, seed=1)
    assert cohort.fields == []
    assert list(cohort.labels.columns) == LABEL_COLUMNS
    assert cohort.labels.drop(columns=["patient_id", "split"]).isna().all().all()


def test_load_cohort_custom(write_notes):
    path = write_notes(_rows(), "mine.jsonl")
    cfg = make_config({"data_source": "custom", "custom_data_path": str(path), "seed": 3})
    cohort = load_cohort(cfg)
    assert cohort.name == "mine" and cohort.is_real is True and len(cohort.notes) == 5


def test_load_cohort_custom_empty_path():
    cfg = make_config({"data_source": "custom"})
    assert _err(load_cohort, cfg) == "params: key 'custom_data_path' is empty but data_source is 'custom'"


def test_relative_custom_path_resolves_against_repo_root(write_notes, tmp_path, monkeypatch):
    path = write_notes(_rows(), "rel.csv")
    rel = os.path.relpath(path, REPO_ROOT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = make_config({"data_source": "custom", "custom_data_path": rel})
    assert len(load_cohort(cfg).notes) == 5


# ----------------------------------------------------------------------------- custom loader, bad input
def test_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    assert _err(load_custom, path, FR, 0) == f"{path}: file not found"


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\xff\xfepatient_id,note_id,note_type,text\nP1,N1,clinical_note,hello\n")
    assert _err(load_custom, path, FR, 0) == f"{path}: not UTF-8 text (line 1, byte 0); re-save the file as UTF-8"


def test_non_utf8_jsonl(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"patient_id": "P1", "text": "caf\xe9"}\n')
    assert _err(read_table, path) == f"{path}: not UTF-8 text (line 1, byte 33); re-save the file as UTF-8"


def test_non_utf8_csv_names_true_position(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"patient_id,note_id,note_type,text\nP1,N1,clinical_note,caf\xe9 au lait\n")
    assert _err(read_table, path) == f"{path}: not UTF-8 text (line 2, byte 57); re-save the file as UTF-8"


@pytest.mark.parametrize("missing", ["patient_id", "note_id", "note_type", "text"])
def test_missing_required_column(write_notes, missing):
    rows = [{k: v for k, v in r.items() if k != missing} for r in _rows()]
    path = write_notes(rows, "cols.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: missing required column '{missing}'"


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "empty.parquet"])
@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_text_names_row(write_notes, name, blank):
    path = write_notes(_rows({(3, "text"): blank}), name)
    assert _err(load_custom, path, FR, 0) == f"{path}: row 4: empty text"


def test_missing_text_value_jsonl(write_notes):
    path = write_notes(_rows({(1, "text"): None}), "none.jsonl")
    assert _err(load_custom, path, FR, 0) == f"{path}: row 2: empty text"


def test_duplicate_note_id_names_row_and_id(write_notes):
    path = write_notes(_rows({(4, "note_id"): "N2"}), "dup.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: row 5: duplicate note_id 'N2'"


def test_patient_in_two_splits(write_notes):
    rows = _rows()
    for r, s in zip(rows, ["train", "test", "dev", "dev", "test"]):
        r["split"] = s
    path = write_notes(rows, "leak.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: patient 'P1' appears in more than one split"


def test_bad_split_value(write_notes):
    rows = _rows()
    for r, s in zip(rows, ["train", "train", "valid", "valid", "test"]):
        r["split"] = s
    path = write_notes(rows, "split.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: row 3: split 'valid' is not one of {SPLITS}"


def test_label_outside_allowed_set(write_notes):
    path = write_notes(_rows({(0, "t_stage"): "T7", (1, "t_stage"): "T7"}), "t7.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: patient 'P1': t_stage label 'T7' is outside the allowed set"


@pytest.mark.parametrize("value", ["N4", "Nx", "stage II"])
def test_other_staging_labels_rejected(write_notes, value):
    path = write_notes(_rows({(0, "n_stage"): value, (1, "n_stage"): value}), "n.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: patient 'P1': n_stage label '{value}' is outside the allowed set"


def test_label_error_names_patient(write_notes):
    path = write_notes(_rows({(4, "t_stage"): "T7"}), "t7late.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: patient 'P3': t_stage label 'T7' is outside the allowed set"


def test_bad_note_type_names_row(write_notes):
    path = write_notes(_rows({(2, "note_type"): "discharge"}), "type.csv")
    assert _err(load_custom, path, FR, 0) == (
        f"{path}: row 3: note_type 'discharge' is not one of ['clinical_note', 'pathology_report', 'general_note']"
    )


def test_conflicting_labels(write_notes):
    path = write_notes(_rows({(1, "t_stage"): "T3"}), "conflict.csv")
    assert _err(load_custom, path, FR, 0) == f"{path}: patient 'P1': conflicting t_stage labels ['T2', 'T3']"


@pytest.mark.parametrize("name", ["notes.xlsx", "notes.txt", "notes.pkl"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"patient_id,note_id\n")
    assert _err(load_custom, path, FR, 0) == (
        f"{path}: unsupported file type; use .csv, .csv.gz, .jsonl or .parquet"
    )


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not a parquet file")
    assert _err(read_table, path).startswith(f"{path}: unreadable (")


def test_csv_gz_read(tmp_path):
    path = tmp_path / "n.csv.gz"
    pd.DataFrame(_rows()).to_csv(path, index=False, compression="gzip")
    df = read_table(path)
    assert df.shape == (5, 7) and df["note_id"].tolist() == ["N1", "N2", "N3", "N4", "N5"]
    assert pd.isna(df["t_stage"].iloc[2])


# ----------------------------------------------------------------------------- assign_splits
def test_assign_splits_deterministic_and_complete():
    ids = [f"P{i:03d}" for i in range(100)]
    a = assign_splits(ids, [0.7, 0.1, 0.2], seed=5)
    assert a == assign_splits(list(reversed(ids)) + ids[:10], [0.7, 0.1, 0.2], seed=5)
    assert sorted(a) == ids
    assert set(a.values()) == set(SPLITS)
    assert Counter(a.values()) == {"train": 70, "dev": 10, "test": 20}
    assert a != assign_splits(ids, [0.7, 0.1, 0.2], seed=6)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 33, 101])
@pytest.mark.parametrize("fr", [[0.7, 0.1, 0.2], [0.5, 0.5, 0.0], [0.8, 0.1, 0.1], [1.0, 0.0, 0.0], [0.34, 0.33, 0.33]])
def test_assign_splits_fractions_within_one(n, fr):
    ids = [f"X{i}" for i in range(n)]
    out = assign_splits(ids, fr, seed=0)
    assert len(out) == n
    counts = Counter(out.values())
    for split, f in zip(SPLITS, fr):
        assert abs(counts.get(split, 0) - f * n) <= 1, (split, counts, fr, n)


# ----------------------------------------------------------------------------- synthetic through load_cohort
def test_load_cohort_synthetic(tiny_cfg):
    cohort = load_cohort(tiny_cfg)
    assert cohort.is_real is False and cohort.name == "synthetic"
    assert check_cohort(cohort, "again") is cohort
    assert cohort.labels["patient_id"].nunique() == 40
    assert len(cohort.general) == 20
    assert list(cohort.notes.columns) == NOTE_COLUMNS and list(cohort.labels.columns) == LABEL_COLUMNS
    assert cohort.fields == PHENOTYPE_FIELDS
    assert Counter(cohort.labels["split"]) == {"train": 28, "dev": 4, "test": 8}
    again = load_cohort(tiny_cfg)
    pd.testing.assert_frame_equal(cohort.notes, again.notes)


def test_check_cohort_reports_missing_split_column(tiny_cfg):
    cohort = load_cohort(tiny_cfg)
    cohort.notes = cohort.notes.drop(columns=["split"])
    assert _err(check_cohort, cohort, "src") == "src: missing required column 'split'"


# ----------------------------------------------------------------------------- TCGA and MTSamples (real data)
def test_tcga_missing_dir_names_corpus(tmp_path):
    msg = _err(load_tcga, tmp_path / "no-such-dir")
    assert msg.startswith(f"{tmp_path / 'no-such-dir' / 'tcga-reports' / 'reports_labeled_dev.csv'}: file not found; ")
    assert "TCGA-Reports" in msg and "shared_data_dir" in msg


def test_tcga_missing_dir_through_cli_config(tmp_path):
    cfg = make_config({"data_source": "tcga", "shared_data_dir": str(tmp_path)})
    assert "TCGA-Reports" in _err(load_cohort, cfg)


def test_mtsamples_general_absent_is_empty(tmp_path):
    general = load_mtsamples_general(tmp_path)
    assert list(general.columns) == ["note_id", "text"] and len(general) == 0


@pytest.fixture(scope="module")
def tcga() -> Cohort:
    if not TCGA_CSV.is_file():
        pytest.skip(f"real data not present: {TCGA_CSV}")
    return load_tcga(Config().data_dir)


@needs_tcga
def test_tcga_cohort(tcga):
    assert tcga.is_real is True and tcga.name == "tcga"
    assert tcga.fields == TCGA_FIELDS
    assert list(tcga.notes.columns) == NOTE_COLUMNS and list(tcga.labels.columns) == LABEL_COLUMNS
    assert tcga.labels["patient_id"].nunique() == 892 and len(tcga.notes) == 892
    assert Counter(tcga.labels["split"]) == {"train": 563, "dev": 150, "test": 179}
    assert tcga.notes.groupby("patient_id")["split"].nunique().max() == 1
    assert set(tcga.notes["note_type"]) == {"pathology_report"}
    assert tcga.labels["tumor_size"].isna().all() and tcga.labels["biomarker_status"].isna().all()
    assert not tcga.labels["grade"].isin(["[Not Available]", "[Unknown]"]).any()
    assert tcga.labels["t_stage"].notna().sum() > 0


@needs_tcga
def test_load_cohort_tcga_matches(tcga):
    cohort = load_cohort(make_config({"data_source": "tcga"}))
    pd.testing.assert_frame_equal(cohort.labels, tcga.labels)


@needs_tcga
def test_general_corpus_has_no_oncology_note(tcga):
    data_dir = Config().data_dir
    raw = read_table(data_dir / "mtsamples" / "mtsamples_dev.csv.gz")
    texts = raw["transcription"].fillna("")
    texts = texts[texts.str.strip() != ""]
    deduped = load_mtsamples(data_dir)
    assert len(deduped) == texts.map(text_hash).nunique()
    assert deduped["transcription_sha1"].is_unique
    onc_hashes = set(raw.loc[raw["medical_specialty"] == ONCOLOGY_SPECIALTY, "transcription"].dropna().map(text_hash))
    assert len(onc_hashes) > 0
    general_hashes = set(tcga.general["text"].map(text_hash))
    assert len(tcga.general) > 0
    assert tcga.general["note_id"].is_unique
    assert general_hashes.isdisjoint(onc_hashes)
    n_onc_dedup = deduped["all_specialties_for_text"].fillna("").str.contains(ONCOLOGY_SPECIALTY, regex=False).sum()
    assert len(tcga.general) == len(deduped) - n_onc_dedup
    hem_onc = data_dir / "mtsamples" / "mtsamples_hematology_oncology_dev.csv"
    if hem_onc.is_file():
        separate = read_table(hem_onc)["transcription"].dropna().map(text_hash)
        assert general_hashes.isdisjoint(set(separate))
