"""Tests of cancerllm.baselines: every regex on hand-made text, then both baselines on a synthetic cohort
and (when present) on the real TCGA reports, with measured values pinned as floors."""

from __future__ import annotations

import pandas as pd
import pytest

from cancerllm.baselines import (
    MajorityBaseline,
    RuleBaseline,
    TfidfBaseline,
    extract_biomarkers,
    extract_grade,
    extract_histology,
    extract_site,
    extract_tnm,
    extract_tumor_size,
    field_macro_f1,
    format_grade,
    predict_all,
    raw_note,
    t_from_size,
)
from cancerllm.config import Config
from cancerllm.data.loaders import load_tcga
from cancerllm.data.schema import NOT_MENTIONED
from cancerllm.data.synthetic import generate_cohort
from cancerllm.instructions import QUESTIONS, build_instructions
from cancerllm.metrics import corpus_prf

TCGA_CSV = Config().data_dir / "tcga-reports" / "reports_labeled_dev.csv"


def ctx(note: str, field: str) -> str:
    """An instruction context exactly as build_instructions writes it."""
    return f"In the text: {note} {QUESTIONS[field]}" if field in QUESTIONS else note


def examples(pairs) -> pd.DataFrame:
    """A tiny instruction frame from (field, note, response) triples."""
    rows = [{"id": f"P{i}:{f}", "patient_id": f"P{i}", "cancer_type": "x", "field": f, "context": ctx(n, f),
             "response": r, "answers": [a.strip() for a in r.split(",") if a.strip()]}
            for i, (f, n, r) in enumerate(pairs)]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- regexes on hand-made text
def test_raw_note_strips_prefix_and_question():
    assert raw_note(ctx("Specimen: breast.", "grade"), "grade") == "Specimen: breast."
    assert raw_note(ctx("Specimen: breast.", "t_stage")) == "Specimen: breast."
    assert raw_note("A clinical note.", "diagnosis") == "A clinical note."


@pytest.mark.parametrize("text, expected", [
    ("Pathologic stage (AJCC 8th): pT2N1aM0", {"T": "T2", "N": "N1", "M": "M0"}),
    ("Stage: T2 N0 M0.", {"T": "T2", "N": "N0", "M": "M0"}),
    ("pT3b pN1a cM0", {"T": "T3", "N": "N1", "M": "M0"}),
    ("ypT1c pN0(sn)", {"T": "T1", "N": "N0"}),
    ("pT1bN0M1c", {"T": "T1", "N": "N0", "M": "M1"}),
    ("T3NO M1a (OCR letter O)", {"T": "T3", "N": "N0", "M": "M1"}),
    ("pNO: no regional lymph node metastasis. pMX", {"N": "N0", "M": "MX"}),
    ("cT2 cN1 and later pT3 pN2", {"T": "T3", "N": "N2"}),  # pathologic beats clinical
    ("LN1 station, WT1 stain, T12 vertebra, Tissue, NO TUMOR, M4300", {}),  # never TNM
])
def test_extract_tnm(text, expected):
    assert extract_tnm(text) == expected


@pytest.mark.parametrize("text, grade", [
    ("Adenocarcinoma, moderately differentiated.", 2),
    ("well-differentiated", 1),
    ("moderately to poorly differentiated", 3),  # the higher of two
    ("Histologic grade: G3", 3),
    ("Nottingham histologic grade 2 (score 7/9)", 2),
    ("Nottingham score 8/9", 3),
    ("grade II", 2),
    ("FIGO grade 1 of 3", 1),
    ("CNS WHO grade 4", 4),
    ("WHO grade IV", 4),
    ("Gleason score 3+4=7", 2),
    ("Gleason 4+3=7", 3),
    ("Gleason score 9 (4+5), grade group 5", 5),
    ("ISUP Grade Group 1", 1),
    ("FUHRMAN NUCLEAR GRADE IS 3-4.", 4),
    ("HISTOLOGIC GRADE (FUHRMAN NUCLEAR GRADE) : 1 OF 4", 1),
    ("High grade urothelial carcinoma", "high"),
    ("A well-circumscribed lesion; grade is indeterminate.", None),
])
def test_extract_grade(text, grade):
    assert extract_grade(text) == grade


def test_format_grade_styles():
    assert format_grade(2) == "grade 2"
    assert format_grade(2, "G") == "G2"
    assert format_grade("X", "G") == "GX"
    assert format_grade("high", "G", high_label="High Grade") == "High Grade"
    assert format_grade("high") == NOT_MENTIONED
    assert format_grade(None) == NOT_MENTIONED


@pytest.mark.parametrize("text, size", [
    ("The tumor measures 25 mm.", "2.5 cm"),
    ("Tumor size: 2.5 x 1.8 x 1.2 cm", "2.5 cm"),
    ("Tumor size: 1.2 x 3.4 x 0.9 cm", "3.4 cm"),  # the largest dimension, in any order
    ("Tumor size: 25 x 18 x 12 mm", "2.5 cm"),
    ("- Invasive ductal carcinoma, grade 2, 3.0 cm in greatest dimension.", "3.0 cm"),
    # specimen dimensions are a distractor
    ("a lumpectomy specimen measuring 9.4 x 6.3 x 4.2 cm. Sectioning reveals a firm lesion measuring 1.2 cm.",
     "1.2 cm"),
    # a benign second specimen is a distractor
    ("B. Breast, separate excision: fibroadenoma, 1.9 cm; negative for malignancy.\nTumor size: 3.1 cm", "3.1 cm"),
    # "benign glands" earlier in the same line does not hide the lesion's size
    ("infiltrating between benign glands. The lesion measures 1.4 cm on the slides.", "1.4 cm"),
    ("No measurable lesion.", None),
])
def test_extract_tumor_size(text, size):
    assert extract_tumor_size(text) == size


@pytest.mark.parametrize("text, hist", [
    ("- Infiltrating ductal carcinoma, grade 2.", "invasive ductal carcinoma"),
    ("Histologic type: IDC", "invasive ductal carcinoma"),
    ("- ccRCC.", "clear cell renal cell carcinoma"),
    ("Adenocarcinoma, acinar type", "acinar adenocarcinoma"),
    ("- Mucinous adenocarcinoma.", "mucinous adenocarcinoma"),
    ("Non-small cell carcinoma, favour adenocarcinoma", "adenocarcinoma"),
    ("RENAL CELL CARCINOMA, CONVENTIONAL (CLEAR CELL) TYPE", "clear cell renal cell carcinoma"),
    ("- Carcinoma, subtype not specified in this report.", None),
    ("ALL MARGINS ARE FREE", None),  # "ALL" in capitals is not a leukemia
])
def test_extract_histology(text, hist):
    assert extract_histology(text) == hist


@pytest.mark.parametrize("text, site", [
    ("A. Right breast, upper outer quadrant, lumpectomy", "upper-outer quadrant of right breast"),
    ("A. UOQ of the left breast, core needle biopsy", "upper-outer quadrant of left breast"),
    ("A. Central left breast, lumpectomy", "central portion of left breast"),
    ("A. RUL, lobectomy", "right upper lobe"),
    ("Lung, right lower lobe", "right lower lobe"),
    ("A. Colon, sigmoid, segmental resection", "sigmoid colon"),
    ("A. Left renal interpolar region, partial nephrectomy", "interpolar region of left kidney"),
    ("Prostate, right peripheral zone", "right peripheral zone of prostate"),
    ("Lymph node, axillary, excisional biopsy", "axillary lymph nodes"),
    ("A. Breast, lumpectomy", None),  # an organ alone is not a site
])
def test_extract_site(text, site):
    assert extract_site(text) == site


@pytest.mark.parametrize("text, status", [
    ("Biomarkers: ER+/PR+/HER2-neg", "ER positive, PR positive, HER2 negative"),
    ("estrogen receptor: POSITIVE (95%); PR: negative (0%); HER2/neu: not amplified (ratio 1.2)",
     "ER positive, PR negative, HER2 negative"),
    ("HER2 negative (IHC 1+)", "HER2 negative"),
    ("microsatellite stable (MSS); KRAS mutated (G12D)", "MSI negative, KRAS positive"),
    ("MSI-high, KRAS wild-type", "MSI positive, KRAS negative"),
    ("EGFR: no mutation detected; ALK: fusion detected; PD-L1 (22C3): positive",
     "EGFR negative, ALK positive, PD-L1 positive"),
    ("IDH-wildtype, MGMT promoter unmethylated", "IDH negative, MGMT negative"),
    ("p16+", "p16 positive"),
    ("PSA of 8.2 ng/mL", "PSA 8.2 ng/mL"),
    ("No ancillary studies.", None),
])
def test_extract_biomarkers(text, status):
    assert extract_biomarkers(text) == status


def test_t_from_size_uses_ajcc_cutoffs():
    assert t_from_size("A. Left breast, lumpectomy\n- Invasive ductal carcinoma, 3.1 cm.") == "T2"
    assert t_from_size("A. RUL, lobectomy\nTumor size: 7.5 cm") == "T4"
    assert t_from_size("A. Prostate, biopsy\nTumor size: 3.1 cm") is None  # prostate T is not size-defined


def test_rule_predictions_on_hand_made_examples():
    notes = {
        "t_stage": "Pathologic stage: pT2N1aM0", "n_stage": "Pathologic stage: pT2N1aM0",
        "m_stage": "Pathologic stage: pT2N1aM0", "grade": "The lesion is moderately differentiated.",
        "tumor_size": "Tumor size: 25 mm", "histologic_type": "- Infiltrating lobular carcinoma.",
        "tumor_site": "A. Right breast UOQ, lumpectomy", "biomarker_status": "Biomarkers: ER+/PR-neg/HER2+",
    }
    df = examples([(f, n, "?") for f, n in notes.items()] + [("t_stage", "No staging given.", "?"),
                                                             ("biomarker_status", "Nothing here.", "?")])
    preds = RuleBaseline().predict(df)
    assert preds == [["T2"], ["N1"], ["M0"], ["grade 2"], ["2.5 cm"], ["invasive lobular carcinoma"],
                     ["upper-outer quadrant of right breast"], ["ER positive", "PR negative", "HER2 positive"],
                     [NOT_MENTIONED], [NOT_MENTIONED]]


def test_rule_fit_learns_grade_style_keyword_maps_and_remap():
    train = examples([
        ("grade", "Histologic grade: moderately differentiated", "G2"),
        ("grade", "Histologic grade: G3", "G3"),
        ("grade", "high grade papillary urothelial carcinoma", "High Grade"),
        ("histologic_type", "Lung, right: squamous cell carcinoma", "Lung Squamous Cell Carcinoma"),
        ("histologic_type", "Larynx: squamous cell carcinoma", "Head & Neck Squamous Cell Carcinoma"),
        ("histologic_type", "Tongue: squamous cell carcinoma", "Head & Neck Squamous Cell Carcinoma"),
        ("diagnosis", "Lung, right: squamous cell carcinoma", "Lung squamous cell carcinoma"),
        ("m_stage", "pT2 pN0 pMX", "M0"),
        ("m_stage", "pT2 pN0 pMX", "M0"),
        ("m_stage", "pT2 pN1 pM1", "M1"),
    ])
    rb = RuleBaseline().fit(train)
    test = examples([
        ("grade", "poorly differentiated", "?"),
        ("grade", "High-grade carcinoma", "?"),
        ("histologic_type", "Left lung: squamous cell carcinoma", "?"),
        ("histologic_type", "Tonsil: squamous cell carcinoma", "?"),
        ("diagnosis", "Left lung: squamous cell carcinoma", "?"),
        ("m_stage", "pT3 pNX pMX", "?"),
        ("m_stage", "nothing stated", "?"),
    ])
    assert rb.grade_style == "G"
    assert rb.predict(test) == [["G3"], ["High Grade"], ["Lung Squamous Cell Carcinoma"],
                                ["Head & Neck Squamous Cell Carcinoma"], ["Lung squamous cell carcinoma"],
                                ["M0"],  # "MX" is outside the training gold -> its most common gold
                                [NOT_MENTIONED]]  # no rule fired: never remapped


def test_field_macro_f1_worked_example():
    df = examples([("t_stage", "", "T1"), ("t_stage", "", "T1"), ("t_stage", "", "T2"), ("t_stage", "", "T3"),
                   ("grade", "", "grade 1"), ("grade", "", "grade 2")])
    preds = [["T1"], ["T2"], ["T2"], ["T2"], ["grade 1"], ["grade 1"]]
    fm = field_macro_f1(df, preds)
    # t_stage: T1 P=1 R=1/2 F=2/3; T2 P=1/3 R=1 F=1/2; T3 F=0 -> macro 7/18; accuracy 2/4
    assert fm.loc["t_stage", "accuracy"] == pytest.approx(0.5)
    assert fm.loc["t_stage", "macro_f1"] == pytest.approx(7 / 18)
    assert fm.loc["t_stage", "n_classes"] == 3 and fm.loc["t_stage", "n"] == 4
    # grade: grade 1 P=1/2 R=1 F=2/3; grade 2 F=0 -> 1/3
    assert fm.loc["grade", "macro_f1"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="size mismatch"):
        field_macro_f1(df, preds[:-1])


def test_tfidf_single_class_field_and_splitting():
    train = examples([("biomarker_status", "ER+ PR+ text one", "ER positive, PR positive"),
                      ("biomarker_status", "ER+ PR+ text two", "ER positive, PR positive"),
                      ("t_stage", "tumour pT1 small", "T1"), ("t_stage", "tumour pT3 large", "T3"),
                      ("t_stage", "another pT1 small", "T1"), ("t_stage", "another pT3 large", "T3")])
    m = TfidfBaseline(seed=0).fit(train)
    assert m.models["biomarker_status"] == "ER positive, PR positive"  # one class -> predicted as is
    test = examples([("biomarker_status", "anything", "?"), ("t_stage", "pT3 large", "?"), ("grade", "x", "?")])
    assert m.predict(test) == [["ER positive", "PR positive"], ["T3"], [NOT_MENTIONED]]  # unseen field: NM


# ----------------------------------------------------------------------------- a synthetic cohort
@pytest.fixture(scope="module")
def synthetic():
    cohort = generate_cohort(120, seed=1)
    train, test = build_instructions(cohort, "train"), build_instructions(cohort, "test")
    return train, test, predict_all(train, test, seed=0)


def _accuracy(test, preds, field, stated_only=False):
    mask = (test["field"] == field).to_numpy()
    if stated_only:
        mask = mask & (test["response"] != NOT_MENTIONED).to_numpy()
    gold = [", ".join(a) for a, k in zip(test["answers"], mask) if k]
    pred = [", ".join(p) for p, k in zip(preds, mask) if k]
    return sum(g == p for g, p in zip(gold, pred)) / len(gold), len(gold)


def test_predictions_are_aligned_lists_of_strings(synthetic):
    _, test, preds = synthetic
    assert set(preds) == {"rule", "tfidf_logreg"}
    for p in preds.values():
        assert len(p) == len(test)
        assert all(isinstance(a, list) and a and all(isinstance(s, str) and s for s in a) for a in p)


def test_rule_t_stage_on_stated_synthetic_instances(synthetic):
    _, test, preds = synthetic
    acc, n = _accuracy(test, preds["rule"], "t_stage", stated_only=True)
    # 16 stated T stages in this cohort since the generator writes TNM into every report's synoptic section
    # (issue 12); earlier 12/19 = 0.632
    assert n == 16 and acc >= 0.55, (n, acc)


@pytest.mark.parametrize("field, floor", [
    # measured on this cohort's 24 test patients: 1.00 for each (the synthetic notes are regular)
    ("tumor_site", 0.9), ("tumor_size", 0.9), ("histologic_type", 0.9), ("grade", 0.9), ("n_stage", 0.9),
])
def test_rule_accuracy_floors_on_synthetic(synthetic, field, floor):
    _, test, preds = synthetic
    acc, _ = _accuracy(test, preds["rule"], field)
    assert acc >= floor


def test_rule_reference_exact_match_equals_accuracy_on_single_answer_fields(synthetic):
    _, test, preds = synthetic
    mask = (test["field"] == "t_stage").to_numpy()
    golds = [a for a, k in zip(test["answers"], mask) if k]
    rule = [p for p, k in zip(preds["rule"], mask) if k]
    acc, _ = _accuracy(test, preds["rule"], "t_stage")
    assert corpus_prf(golds, rule, "exact_match")["f1"] == pytest.approx(100 * acc)  # measured 66.7


def test_tfidf_beats_majority_on_synthetic(synthetic):
    train, test, preds = synthetic
    tfidf = field_macro_f1(test, preds["tfidf_logreg"])
    major = field_macro_f1(test, MajorityBaseline().fit(train).predict(test))
    better = tfidf.index[tfidf["accuracy"] > major["accuracy"]].tolist()
    # measured accuracy TF-IDF vs majority: grade .42/.33, histologic_type .50/.13, n_stage .58/.50,
    # t_stage .54/.33, tumor_site .29/.08, biomarker_status .67/.42, diagnosis .17/.13 (7 of 9 fields);
    # m_stage .67/.79 and tumor_size .04/.21 are below (84 training patients, 54 size classes)
    assert len(better) >= 1
    assert tfidf.loc["histologic_type", "accuracy"] > major.loc["histologic_type", "accuracy"]


def test_baselines_are_deterministic(synthetic):
    train, test, preds = synthetic
    again = predict_all(train, test, seed=0)  # fresh fits of both baselines
    assert again == preds


# ----------------------------------------------------------------------------- real TCGA reports
@pytest.fixture(scope="module")
def tcga():
    if not TCGA_CSV.is_file():
        pytest.skip(f"real data not present: {TCGA_CSV}")
    cohort = load_tcga(Config().data_dir)
    return build_instructions(cohort, "train"), build_instructions(cohort, "test")


@pytest.fixture(scope="module")
def tcga_tfidf(tcga):
    train, _ = tcga
    return TfidfBaseline(seed=0).fit(train)


@pytest.mark.slow  # fits TF-IDF + a logistic regression per field on 563 real reports
def test_tcga_tfidf_fit_shares_one_vectoriser_across_fields(tcga, tcga_tfidf):
    """What keeps the fit cheap (one TF-IDF vectoriser fitted on the distinct notes, shared by a classifier per
    field), asserted as structure; how long it takes is not asserted (wall time on a shared machine varies)."""
    train, _ = tcga
    assert list(tcga_tfidf.models) == list(dict.fromkeys(train["field"]))
    n_features = len(tcga_tfidf.vectorizer.vocabulary_)
    for field, model in tcga_tfidf.models.items():
        assert isinstance(model, str) or model.n_features_in_ == n_features, field


@pytest.mark.slow  # fits TF-IDF + a logistic regression per field on 563 real reports
def test_tcga_tfidf_macro_f1_beats_majority_for_t_and_n(tcga, tcga_tfidf):
    train, test = tcga
    fm = field_macro_f1(test, tcga_tfidf.predict(test))
    major = field_macro_f1(test, MajorityBaseline().fit(train).predict(test))
    # measured on the 179-report test split: macro-F1 t_stage 0.532, n_stage 0.340 (accuracy 0.570, 0.586);
    # majority 0.130 and 0.175. Published TF-IDF baselines trained on ~7,000 reports reach ~0.75; here
    # the training split has 563 reports.
    for field in ("t_stage", "n_stage"):
        assert fm.loc[field, "macro_f1"] > major.loc[field, "macro_f1"]
    assert fm.loc["t_stage", "macro_f1"] >= 0.45
    assert fm.loc["n_stage", "macro_f1"] >= 0.28


def test_tcga_rule_baseline(tcga):
    train, test = tcga
    rule = RuleBaseline().fit(train)
    assert rule.grade_style == "G" and rule.high_label == "High Grade"
    preds = rule.predict(test)
    # measured accuracy on the test split: t_stage 0.709, n_stage 0.648, grade 0.829, diagnosis 0.888
    floors = {"t_stage": 0.62, "n_stage": 0.55, "grade": 0.75, "diagnosis": 0.8}
    for field, floor in floors.items():
        acc, _ = _accuracy(test, preds, field)
        assert acc >= floor, field
