"""Chapter 30's subsets (answerable questions, cross-split duplicates), the per-field gap table, and reading
reports in the TCGA file's format for external validation (issue 13)."""

from __future__ import annotations

import pandas as pd
import pytest

from cancerllm import evaluation as ev
from cancerllm.data.loaders import TCGA_COLUMNS, is_tcga_format, read_tcga_reports
from cancerllm.data.schema import LABEL_COLUMNS, Cohort
from cancerllm.errors import DataError
from cancerllm.instructions import build_instructions, unanswerable_ids
from cancerllm.profiling import duplicated_across_splits, duplicates

REPORT = ("FINAL DIAGNOSIS: Left breast, lumpectomy: invasive ductal carcinoma, grade 2. "
          "Pathologic stage pT2 N0 MX. Margins are free of tumor by 5 mm. ")


COLON = ("Right colon, hemicolectomy: moderately differentiated adenocarcinoma invading the muscularis propria. "
         "Stage pTX; zero of fourteen lymph nodes involved. ")


def _cohort(rows) -> Cohort:
    """rows: (patient, split, report text, t_stage label)."""
    notes = pd.DataFrame([{"patient_id": p, "note_id": f"{p}-r", "note_type": "pathology_report", "text": t,
                           "split": s} for p, s, t, _ in rows])
    labels = pd.DataFrame([{"patient_id": p, "split": s, "cancer_type": "BRCA", "t_stage": ts,
                            "diagnosis": "Breast invasive carcinoma"} for p, s, _, ts in rows]).reindex(columns=LABEL_COLUMNS)
    return Cohort(name="t", is_real=True, notes=notes, labels=labels, fields=["t_stage"])


def test_unanswerable_ids_are_labels_the_report_does_not_state():
    cohort = _cohort([("A", "test", REPORT, "T2"), ("B", "test", REPORT.replace("pT2", "pTX"), "T3"),
                      ("C", "train", REPORT, "T3")])
    assert unanswerable_ids(cohort, "test") == {"B:t_stage"}
    assert unanswerable_ids(cohort, "train") == {"C:t_stage"}


def test_duplicated_across_splits_finds_test_patients_only():
    other = "Skin, shave biopsy: benign seborrheic keratosis; no atypia, no malignancy identified in the sections."
    cohort = _cohort([("A", "test", REPORT, "T2"), ("B", "train", REPORT + " ", "T2"),  # near copy of A
                      ("C", "test", other, "T2"), ("D", "dev", other + " Addendum none.", "T2")])
    dups = duplicates(cohort)
    assert duplicated_across_splits(cohort, dups) == {"A", "C"}
    assert duplicated_across_splits(cohort, dups, split="train") == {"B"}
    apart = _cohort([("A", "test", REPORT, "T2"), ("C", "train", other, "T2")])
    assert duplicated_across_splits(apart, duplicates(apart)) == set()


def test_subset_table_scores_each_subset_on_its_own_rows():
    cohort = _cohort([("A", "test", REPORT, "T2"), ("B", "test", COLON, "T3"), ("C", "train", REPORT + " ", "T2")])
    test = build_instructions(cohort, "test")
    assert list(test["id"]) == ["A:t_stage", "A:diagnosis", "B:t_stage", "B:diagnosis"]
    gold = [list(a) for a in test["answers"]]
    preds = {"cancer_cpt": [gold[0], ["x"], ["T2"], gold[3]], "tfidf_logreg": [["T4"], gold[1], gold[2], ["x"]]}
    subsets = ev.scoring_subsets(cohort, test)
    assert subsets["answerable"].tolist() == [True, True, False, True]
    assert subsets["no cross-split duplicates"].tolist() == [False, False, True, True]  # A's report is in train
    tab = ev.subset_table(test, preds, subsets)
    ph = tab.loc["phenotype_extraction"]
    assert ph.loc["all", "questions"] == 2 and ph.loc["all", "cancer_cpt"] == 50.0
    assert ph.loc["answerable", "questions"] == 1 and ph.loc["answerable", "cancer_cpt"] == 100.0
    assert ph.loc["answerable", "tfidf_logreg"] == 0.0
    assert ph.loc["no cross-split duplicates", "cancer_cpt"] == 0.0
    dx = tab.loc["diagnosis_generation"]
    assert dx.loc["answerable", "questions"] == 2  # diagnosis questions are never dropped as unanswerable
    text = ev.subset_summary(tab)
    assert "answerable: drops 1 of 2 questions; cancer_cpt 50.0 → 100.0 (tfidf_logreg 50.0 → 0.0)" in text
    assert "diagnosis_generation**, answerable: drops no question" in text


def test_field_gap_table_signs_and_words():
    inst = pd.DataFrame([{"system": s, "task": "phenotype_extraction", "field": f, "cancer_type": "x", "f1": v,
                          "gold_not_mentioned": False, "pred_not_mentioned": False}
                         for s, f, v in [("cancer_cpt", "t_stage", 80), ("tfidf_logreg", "t_stage", 60),
                                         ("cancer_cpt", "grade", 40), ("tfidf_logreg", "grade", 70)]])
    tab = ev.field_gap_table(inst)
    assert tab.loc["t_stage", "cancer_cpt − tfidf_logreg"] == 20 and tab.loc["grade", "cancer_cpt − tfidf_logreg"] == -30
    assert tab.loc["grade", "questions"] == 1
    assert ev.field_gap_summary(tab) == ("- Against TF-IDF, **cancer_cpt** is ahead on 1 of 2 fields — t_stage "
                                         "(+20.0); behind on 1 — grade (-30.0).")  # no rule rows: no rule line


def _tcga_csv(path, n=3, split="train"):
    df = pd.DataFrame({"patient_id": [f"TCGA-{i}" for i in range(n)], "patient_filename": [f"f{i}" for i in range(n)],
                       "text": [REPORT] * n, "cancer_type": "BRCA", "cancer_type_name": "Breast invasive carcinoma",
                       "t_stage": "T2", "n_stage": ["N0", None, "N1"][:n], "m_stage": None,
                       "histological_type_cdr": ["Infiltrating Ductal Carcinoma", "[Not Available]", None][:n],
                       "histological_grade_cdr": ["G2", "[Unknown]", "G3"][:n], "split": split})
    df.to_csv(path, index=False)
    return path


def test_tcga_format_read_without_its_split(tmp_path):
    path = _tcga_csv(tmp_path / "other_reports.csv")
    assert is_tcga_format(path) and not is_tcga_format(tmp_path / "nowhere.csv")
    cohort = read_tcga_reports(path, keep_split=False)
    assert set(cohort.notes["split"]) == {"test"} and set(cohort.labels["split"]) == {"test"}
    lab = cohort.labels.set_index("patient_id")
    assert lab.loc["TCGA-1", "grade"] is None or pd.isna(lab.loc["TCGA-1", "grade"])  # "[Unknown]" = no label
    assert pd.isna(lab.loc["TCGA-1", "histologic_type"]) and lab.loc["TCGA-0", "histologic_type"] == "Infiltrating Ductal Carcinoma"
    assert lab.loc["TCGA-2", "n_stage"] == "N1" and list(cohort.labels.columns) == LABEL_COLUMNS


def test_tcga_format_missing_column_names_it(tmp_path):
    path = _tcga_csv(tmp_path / "r.csv")
    pd.read_csv(path).drop(columns="split").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"r\.csv: missing required column 'split'"):
        read_tcga_reports(path)
    assert read_tcga_reports(path, keep_split=False).notes["split"].eq("test").all()
    pd.read_csv(path).drop(columns="cancer_type_name").to_csv(path, index=False)
    assert not is_tcga_format(path)  # then it is read as your own notes' schema, which names its own columns
    assert TCGA_COLUMNS[-2] == "cancer_type_name"


def test_tcga_format_sniff_leaves_unreadable_files_to_the_notes_reader(tmp_path):
    """A file that cannot be read as CSV is not the TCGA format (the custom-notes reader then gives its one
    clear error), and the sniff itself never raises."""
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("patient_id,caf\xe9".encode("latin-1") + b"\xff\xfe\n1,2\n")  # undecodable header
    assert is_tcga_format(bad) is False
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert is_tcga_format(empty) is False
