"""Tests of the embedded synthetic cohort: schema, determinism, label/text agreement, splits, noise."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cancerllm.data.schema import CANCER_TYPES, LABEL_COLUMNS, NOT_MENTIONED, NOTE_COLUMNS, PHENOTYPE_FIELDS, Cohort
from cancerllm.data.synthetic import CANCER_TABLE, CANCER_TERMS, generate_cohort, generate_general_notes


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cohort200() -> Cohort:
    return generate_cohort(200, seed=7, ocr_noise_rate=0.02)


@pytest.fixture(scope="module")
def cohort1000() -> Cohort:
    return generate_cohort(1000, seed=11, ocr_noise_rate=0.01)


def texts_by_patient(cohort: Cohort) -> dict[str, str]:
    return cohort.notes.groupby("patient_id", sort=False)["text"].apply("\n\n".join).to_dict()


# ----------------------------------------------------------------------------- an independent checker
# It knows the derivations (mm <-> cm, largest of "a x b x c", grade words and scores, p/c prefixes and
# substage letters, biomarker wordings) but not the generator's templates.
DIMS = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)((?:\s*x\s*\d+(?:\.\d+)?)*)\s*(cm|mm)\b")
T_RE = re.compile(r"(?<![A-Za-z])[cpy]{0,2}T([0-4])")
N_RE = re.compile(r"(?:(?<![A-Za-z])[cpy]{0,2}|(?<=[0-9a-d]))N([0-3])")
M_RE = re.compile(r"(?:(?<![A-Za-z])[cp]?|(?<=[0-9a-d]))M([01])")
GRADE_NUM = re.compile(r"[Gg]rade(?:\s+[Gg]roup)?\s*:?\s*G?(\d|IV|V|I{1,3})\b")
GRADE_G = re.compile(r"\bG([1-4])\b")
GRADE_WORD = re.compile(r"\b(well|moderately|poorly)[ -]differentiated", re.I)
GLEASON = re.compile(r"Gleason[^.\n]{0,20}?(\d)\s*\+\s*(\d)")
NOTT_SCORE = re.compile(r"Nottingham score (\d)|\(score (\d)/9\)")
GRADE_ANY = re.compile(r"grade|differentiated|gleason|nottingham|fuhrman|\bG[1-4]\b", re.I)
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}

MARKER_ALIASES = {
    "ER": r"(?<![A-Za-z0-9])ER(?![A-Za-z])|(?i:estrogen receptor)",
    "PR": r"(?<![A-Za-z0-9])PR(?![A-Za-z])|(?i:progesterone receptor)",
    "HER2": r"HER2(?:/neu)?",
    "EGFR": r"EGFR",
    "ALK": r"(?<![A-Za-z])ALK(?![A-Za-z])",
    "PD-L1": r"PD-L1",
    "MSI": r"(?i:microsatellite)(?: instability)?|(?<![A-Za-z])MSI",
    "KRAS": r"KRAS",
    "BRAF": r"BRAF",
    "IDH": r"(?<![A-Za-z])IDH",
    "MGMT": r"MGMT",
    "p16": r"(?<![A-Za-z0-9])p16",
    "CD20": r"CD20",
    "PSA": r"(?<![A-Za-z])PSA|(?i:prostate-specific antigen)",
}
MARKER_RE = {k: re.compile(v) for k, v in MARKER_ALIASES.items()}
NEG = re.compile(
    r"negative|\bneg\b|not detected|no mutation|no rearrangement|not rearranged|wild-?type|\bstable\b"
    r"|unmethylated|not amplified|<\s*1%",
    re.I,
)
POS = re.compile(r"positive|\bpos\b|^\s*\+|mutated|mutant|detected|rearranged|\bhigh\b|amplified|methylated", re.I)


def sizes_in(text: str) -> set[float]:
    """Largest dimension (in cm) of every measurement in the text."""
    out = set()
    for m in DIMS.finditer(text):
        nums = [float(m.group(1))] + [float(x) for x in re.findall(r"\d+(?:\.\d+)?", m.group(2))]
        out.add(round(max(nums) / (10 if m.group(3) == "mm" else 1), 1))
    return out


def grades_in(text: str) -> set[int]:
    out = {int(g) if g.isdigit() else ROMAN[g] for g in GRADE_NUM.findall(text)}
    out |= {int(g) for g in GRADE_G.findall(text)}
    out |= {{"well": 1, "moderately": 2, "poorly": 3}[w.lower()] for w in GRADE_WORD.findall(text)}
    for a, b in GLEASON.findall(text):
        a, b = int(a), int(b)
        out.add({6: 1, 8: 4}.get(a + b) or (5 if a + b >= 9 else 2 if a == 3 else 3))
    for s1, s2 in NOTT_SCORE.findall(text):
        s = int(s1 or s2)
        out.add(1 if s <= 5 else 2 if s <= 7 else 3)
    return out


def marker_polarities(text: str, marker: str) -> set[str]:
    """'pos'/'neg' for every mention of the marker (the window runs to the next , ; / or newline)."""
    out = set()
    for m in MARKER_RE[marker].finditer(text):
        window = re.split(r"[,;\n/]", text[m.end() : m.end() + 40])[0]
        if NEG.search(window):
            out.add("neg")
        elif POS.search(window):
            out.add("pos")
    return out


def is_abbreviation(form: str) -> bool:
    return " " not in form and not form.islower()


def form_found(text: str, form: str) -> bool:
    """Abbreviations ("RUL", "ccRCC") case-sensitive, words and phrases case-insensitive; whole words."""
    flags = 0 if is_abbreviation(form) else re.I
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", text, flags) is not None


def check_patient(text: str, row: pd.Series) -> list[str]:
    """Every gold value is stated or derivable; every NOT_MENTIONED field has no form in the text."""
    errs = []
    tbl = CANCER_TABLE[row.cancer_type]

    def err(field, msg):
        errs.append(f"{row.patient_id} {row.cancer_type} {field}={row[field]!r}: {msg}")

    # site and histology: the canonical value or one of its synonyms/abbreviations, and no other one
    for field, key in (("tumor_site", "sites"), ("histologic_type", "hists")):
        gold = row[field]
        entries = tbl[key]
        if gold == NOT_MENTIONED:
            hits = [f for e in entries for f in e["forms"] if form_found(text, f)]
            if hits:
                err(field, f"absent field but text has {hits}")
            continue
        entry = next(e for e in entries if e["canon"] == gold)
        if not any(form_found(text, f) for f in entry["forms"]):
            err(field, "not stated")
        rest = text
        for f in sorted(entry["forms"], key=len, reverse=True):
            rest = re.sub(re.escape(f), " ", rest, flags=0 if is_abbreviation(f) else re.I)
        others = [f for e in entries if e is not entry for f in e["forms"] if form_found(rest, f)]
        if others:
            err(field, f"conflicting forms {others}")

    # size
    sizes = sizes_in(text)
    if row.tumor_size == NOT_MENTIONED:
        if sizes:
            err("tumor_size", f"absent field but sizes {sizes}")
    else:
        assert re.fullmatch(r"\d+\.\d cm", row.tumor_size)
        if float(row.tumor_size.split()[0]) not in sizes:
            err("tumor_size", f"not derivable from {sizes}")

    # grade
    if row.grade == NOT_MENTIONED:
        if GRADE_ANY.search(text):
            err("grade", f"absent field but text has {GRADE_ANY.search(text).group(0)!r}")
    else:
        g = int(row.grade.split()[1])
        found = grades_in(text)
        if found != {g}:
            err("grade", f"derived {found}")

    # TNM
    for field, rx, letter in (("t_stage", T_RE, "T"), ("n_stage", N_RE, "N"), ("m_stage", M_RE, "M")):
        found = {letter + d for d in rx.findall(text)}
        if row[field] == NOT_MENTIONED:
            if found:
                err(field, f"absent field but text has {found}")
        elif found != {row[field]}:
            err(field, f"derived {found}")

    # biomarkers
    gold = row.biomarker_status
    if gold == NOT_MENTIONED:
        hits = [k for k, rx in MARKER_RE.items() if rx.search(text)]
        if hits:
            err("biomarker_status", f"absent field but text names {hits}")
    else:
        for piece in gold.split(", "):
            if piece.startswith("PSA "):
                value = piece.split()[1]
                if not re.search(rf"(?:PSA|prostate-specific antigen)\D{{0,6}}{re.escape(value)}(?!\d)", text):
                    err("biomarker_status", f"{piece} not stated")
                continue
            marker, status = piece.rsplit(" ", 1)
            want = {"positive": "pos", "negative": "neg"}[status]
            pol = marker_polarities(text, marker)
            if pol != {want}:
                err("biomarker_status", f"{piece}: text polarities {pol}")
    return errs


# ----------------------------------------------------------------------------- schema & determinism
def test_schema_and_cohort_metadata(cohort200):
    c = cohort200
    assert c.name == "synthetic" and c.is_real is False
    assert c.fields == list(PHENOTYPE_FIELDS)
    assert list(c.notes.columns) == NOTE_COLUMNS
    assert list(c.labels.columns) == LABEL_COLUMNS
    assert list(c.general.columns) == ["note_id", "text"]
    assert len(c.labels) == 200 and c.labels.patient_id.is_unique
    assert c.labels.patient_id.iloc[0] == "SYN-0001" and c.labels.patient_id.iloc[-1] == "SYN-0200"
    assert c.notes.note_id.is_unique
    assert all(re.fullmatch(r"SYN-\d{4}-N\d", n) for n in c.notes.note_id)
    assert all(n.startswith(p + "-") for n, p in zip(c.notes.note_id, c.notes.patient_id, strict=True))
    assert set(c.notes.note_type) == {"clinical_note", "pathology_report"}
    assert set(c.notes.patient_id) == set(c.labels.patient_id)


def test_no_nan_labels_and_all_strings(cohort200):
    lab = cohort200.labels
    assert not lab.isna().any().any()
    assert all(isinstance(v, str) and v for v in lab.to_numpy().ravel())
    assert set(lab.cancer_type) <= set(CANCER_TYPES)
    assert set(lab.split) <= {"train", "dev", "test"}


def test_every_type_present_with_34_patients():
    lab = generate_cohort(34, seed=1).labels
    assert set(lab.cancer_type) == set(CANCER_TYPES)
    assert set(generate_cohort(17, seed=2).labels.cancer_type) == set(CANCER_TYPES)


def test_type_mix_is_skewed_for_large_cohorts(cohort1000):
    counts = cohort1000.labels.cancer_type.value_counts()
    assert set(counts.index) == set(CANCER_TYPES)
    assert counts["breast"] > 2 * counts["ovary"]


def test_notes_per_patient(cohort1000):
    n = cohort1000.notes
    per = n.groupby("patient_id").note_type.value_counts().unstack(fill_value=0)
    assert (per["pathology_report"] == 1).all()
    assert per["clinical_note"].isin([1, 2]).all()
    follow = (per["clinical_note"] == 2).mean()
    assert 0.10 < follow < 0.20


def test_same_seed_identical_and_different_seed_differs():
    a = generate_cohort(60, seed=5, ocr_noise_rate=0.02)
    b = generate_cohort(60, seed=5, ocr_noise_rate=0.02)
    pd.testing.assert_frame_equal(a.notes, b.notes)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.general, b.general)
    c = generate_cohort(60, seed=6, ocr_noise_rate=0.02)
    assert not a.notes.text.equals(c.notes.text)
    assert not a.labels.equals(c.labels)
    assert not a.general.text.equals(c.general.text)


def test_canonical_label_forms(cohort1000):
    lab = cohort1000.labels

    def ok(col, pattern):
        vals = lab.loc[lab[col] != NOT_MENTIONED, col]
        bad = [v for v in vals if not re.fullmatch(pattern, v)]
        assert not bad, (col, bad[:5])

    ok("tumor_size", r"\d+\.\d cm")
    ok("grade", r"grade [1-5]")
    ok("t_stage", r"T[0-4]")
    ok("n_stage", r"N[0-3]")
    ok("m_stage", r"M[01]")
    ok(
        "biomarker_status",
        r"(?:[A-Za-z0-9-]+ (?:positive|negative)|PSA \d+\.\d ng/mL)(?:, [A-Za-z0-9-]+ (?:positive|negative))*",
    )
    ok("histologic_type", r"[a-z][a-zA-Z -]+")
    assert all(d[0].isupper() for d in lab.diagnosis)
    breast = lab[lab.cancer_type == "breast"]
    assert set(breast.biomarker_status) - {NOT_MENTIONED} <= {
        f"ER {a}, PR {b}, HER2 {c}"
        for a in ("positive", "negative")
        for b in ("positive", "negative")
        for c in ("positive", "negative")
    }
    full = breast[breast.tumor_site != NOT_MENTIONED]
    assert all(d.startswith("Malignant neoplasm of ") and d.endswith("female breast") for d in full.diagnosis)
    assert "Malignant neoplasm of upper-outer quadrant of right female breast" in set(lab.diagnosis)
    assert "Malignant neoplasm of upper lobe, right bronchus or lung" in set(lab.diagnosis)
    assert "Chronic lymphocytic leukemia of B-cell type" in set(lab.diagnosis)
    assert any(d.startswith("Diffuse large B-cell lymphoma, ") for d in lab.diagnosis)


def test_structural_absence(cohort1000):
    lab = cohort1000.labels
    leuk = lab[lab.cancer_type == "leukemia"]
    assert len(leuk) > 0
    for f in ("tumor_size", "grade", "t_stage", "n_stage", "m_stage", "biomarker_status"):
        assert (leuk[f] == NOT_MENTIONED).all(), f
    assert (leuk.tumor_site == "bone marrow").all()
    for t in ("lymphoma", "brain"):
        assert (lab.loc[lab.cancer_type == t, "t_stage"] == NOT_MENTIONED).all()
    assert (lab.loc[lab.cancer_type == "kidney", "biomarker_status"] == NOT_MENTIONED).all()


def test_random_absence_rate(cohort1000):
    lab = cohort1000.labels
    solid = lab[lab.cancer_type.isin(["breast", "lung", "colorectal", "stomach"])]
    for f in PHENOTYPE_FIELDS:
        rate = (solid[f] == NOT_MENTIONED).mean()
        assert 0.05 < rate < 0.22, (f, rate)


def test_diagnosis_uses_unspecified_title_when_site_absent(cohort1000):
    lab = cohort1000.labels
    b = lab[(lab.cancer_type == "breast") & (lab.tumor_site == NOT_MENTIONED)]
    assert len(b) > 0
    assert (b.diagnosis == "Malignant neoplasm of unspecified site of unspecified female breast").all()


# ----------------------------------------------------------------------------- label/text agreement
def test_label_text_agreement_every_patient(cohort200):
    texts = texts_by_patient(cohort200)
    errs = []
    for _, row in cohort200.labels.iterrows():
        errs += check_patient(texts[row.patient_id], row)
    assert not errs, "\n".join(errs[:20])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_text_agreement_more_seeds(seed):
    c = generate_cohort(300, seed=seed, ocr_noise_rate=0.05)
    texts = texts_by_patient(c)
    errs = []
    for _, row in c.labels.iterrows():
        errs += check_patient(texts[row.patient_id], row)
    assert not errs, "\n".join(errs[:20])


def test_checker_is_not_vacuous(cohort200):
    """The checker fails when a label is swapped for a wrong value."""
    texts = texts_by_patient(cohort200)
    lab = cohort200.labels
    row = (
        lab[(lab.t_stage != NOT_MENTIONED) & (lab.tumor_size != NOT_MENTIONED) & (lab.grade != NOT_MENTIONED)]
        .iloc[0]
        .copy()
    )
    text = texts[row.patient_id]
    assert check_patient(text, row) == []
    bad = row.copy()
    bad["t_stage"] = "T4" if row.t_stage != "T4" else "T1"
    bad["tumor_size"] = "99.9 cm"
    bad["grade"] = "grade 5"
    assert len(check_patient(text, bad)) == 3
    gone = row.copy()
    gone["t_stage"] = NOT_MENTIONED
    assert check_patient(text, gone)


def test_indirect_forms_and_abbreviations_present(cohort1000):
    text = "\n".join(cohort1000.notes.text)
    assert re.search(r"\b\d+ mm\b", text)  # sizes in mm (gold is cm)
    assert re.search(r"\d+\.\d x \d+\.\d x \d+\.\d cm", text)  # three dimensions
    assert re.search(r"moderately differentiated", text)
    assert re.search(r"Gleason (?:score )?\d\+\d", text)
    assert re.search(r"pT[1-4][a-c]?N[0-3][a-c]?M[01]", text)  # compact pTNM
    assert re.search(r"pN[1-3][a-c]", text)  # substage letters
    for abbr in ("IDC", "SCC", "HCC", "ER+", "HER2-neg", "RUL", "ccRCC"):
        assert abbr in text, abbr


def test_distractors_and_negations_present(cohort1000):
    texts = texts_by_patient(cohort1000)
    lab = cohort1000.labels.set_index("patient_id")
    prior = re.compile(
        r"[Hh]istory of (basal cell carcinoma|squamous cell carcinoma of the skin|papillary thyroid carcinoma|"
        r"prostate adenocarcinoma|seminoma|ductal carcinoma in situ|Hodgkin lymphoma|cervical carcinoma|"
        r"superficial bladder cancer)"
    )
    with_prior = [pid for pid, t in texts.items() if prior.search(t)]
    assert 0.10 < len(with_prior) / len(texts) < 0.30
    # the prior cancer is never the patient's own type
    own = {
        "papillary thyroid carcinoma": "thyroid",
        "prostate adenocarcinoma": "prostate",
        "Hodgkin lymphoma": "lymphoma",
        "basal cell carcinoma": "melanoma",
        "ductal carcinoma in situ": "breast",
        "superficial bladder cancer": "bladder",
    }
    for pid in with_prior:
        name = prior.search(texts[pid]).group(1)
        assert own.get(name) != lab.loc[pid, "cancer_type"]
    all_text = "\n".join(texts.values())
    assert "negative for malignancy" in all_text  # benign second specimen
    assert re.search(r"No lymphovascular invasion|Lymphovascular invasion: not identified", all_text)
    assert "Family history:" in all_text


# ----------------------------------------------------------------------------- splits
def test_splits_patient_level_and_consistent(cohort1000):
    c = cohort1000
    per_patient = c.notes.groupby("patient_id").split.nunique()
    assert (per_patient == 1).all()
    note_split = c.notes.groupby("patient_id").split.first()
    lab_split = c.labels.set_index("patient_id").split
    assert (note_split.loc[lab_split.index] == lab_split).all()
    frac = lab_split.value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.01 and abs(frac["dev"] - 0.1) < 0.01 and abs(frac["test"] - 0.2) < 0.01
    # stratified: every type with enough patients is in train and test
    ct = pd.crosstab(c.labels.cancer_type, c.labels.split)
    assert (ct["train"] > 0).all() and (ct["test"] > 0).all()
    share = ct["train"] / ct.sum(axis=1)
    assert share[ct.sum(axis=1) >= 20].between(0.6, 0.8).all()


@pytest.mark.parametrize("n", [10, 11, 17, 25])
def test_every_split_nonempty_for_small_cohorts(n):
    lab = generate_cohort(n, seed=3).labels
    assert set(lab.split) == {"train", "dev", "test"}


def test_custom_split_fractions_and_seeded():
    lab = generate_cohort(200, seed=4, split_fractions=(0.5, 0.25, 0.25)).labels
    assert lab.split.value_counts().to_dict() == {"train": 100, "dev": 50, "test": 50}
    again = generate_cohort(200, seed=4, split_fractions=(0.5, 0.25, 0.25)).labels
    assert lab.split.equals(again.split)
    with pytest.raises(ValueError):
        generate_cohort(10, split_fractions=(0.5, -0.1, 0.6))


# ----------------------------------------------------------------------------- OCR noise
OCR_CONFUSION = re.compile(r"[a-z][01][a-z]|[A-Z]{2}0[A-Z]{2}|\b0[A-Z]{3}")


def test_ocr_noise_rate_zero_is_clean_and_positive_rate_differs():
    clean = generate_cohort(100, seed=9, ocr_noise_rate=0.0)
    noisy = generate_cohort(100, seed=9, ocr_noise_rate=0.05)
    clean_text = "\n".join(clean.notes.text) + "\n".join(clean.general.text)
    assert not OCR_CONFUSION.search(clean_text)
    assert "\x01" not in clean_text and "\x02" not in clean_text
    noisy_text = "\n".join(noisy.notes.text)
    assert "\x01" not in noisy_text and "\x02" not in noisy_text
    assert OCR_CONFUSION.search(noisy_text)
    differ = (clean.notes.text != noisy.notes.text).mean()
    assert differ > 0.9
    # the noise has its own random stream: labels and splits do not depend on the rate
    pd.testing.assert_frame_equal(clean.labels, noisy.labels)
    assert clean.notes.note_id.equals(noisy.notes.note_id)


def test_ocr_noise_spares_gold_values():
    c = generate_cohort(150, seed=21, ocr_noise_rate=0.3)
    texts = texts_by_patient(c)
    errs = []
    for _, row in c.labels.iterrows():
        errs += check_patient(texts[row.patient_id], row)
    assert not errs, "\n".join(errs[:20])


# ----------------------------------------------------------------------------- general notes
def test_general_notes_have_no_cancer_terms(cohort200):
    assert len(cohort200.general) == 200
    pattern = re.compile("|".join(re.escape(t) for t in CANCER_TERMS), re.I)
    for df in (
        cohort200.general,
        generate_general_notes(300, seed=3),
        generate_general_notes(100, seed=4, ocr_noise_rate=0.05),
    ):
        hits = [m.group(0) for t in df.text if (m := pattern.search(t))]
        assert not hits, hits[:5]
    # and the cancer notes do contain them (the term list is meaningful)
    assert all(pattern.search(t) for t in texts_by_patient(cohort200).values())


def test_general_notes_api():
    g = generate_general_notes(25, seed=8)
    assert list(g.columns) == ["note_id", "text"] and len(g) == 25 and g.note_id.is_unique
    pd.testing.assert_frame_equal(g, generate_general_notes(25, seed=8))
    assert not g.text.equals(generate_general_notes(25, seed=9).text)
    assert g.text.str.contains(
        r"hypertension|diabetes|pneumonia|osteoarthritis|COPD|heart failure|asthma|migraine|cystitis|back pain",
        case=False,
    ).all()
    assert len(generate_cohort(20, seed=1, n_general_notes=7).general) == 7
    assert len(generate_cohort(20, seed=1, n_general_notes=0).general) == 0


def test_section_headers_are_varied():
    notes = generate_cohort(500, seed=13, ocr_noise_rate=0.0).notes  # no noise: headers are read verbatim
    clinical = notes[notes.note_type == "clinical_note"].text
    reason_headers = {
        h
        for h in ("REASON FOR VISIT:", "Reason for Visit -", "CC:", "Chief complaint:")
        if clinical.str.contains(h, regex=False).any()
    }
    assert len(reason_headers) >= 3
    for section in (
        r"TREATMENT SITE|Treatment site|Tx site|Site of treatment",
        r"ROS|Review of systems|REVIEW OF SYSTEMS",
        r"Labs|LABS|Laboratory data|Pertinent labs",
    ):
        assert clinical.str.contains(section).mean() > 0.7
    path = notes[notes.note_type == "pathology_report"].text
    assert path.str.contains(r"GROSS|Gross").all() and path.str.contains(r"DIAGNOSIS|diagnosis").all()


def test_empty_cohort():
    c = generate_cohort(0)
    assert len(c.notes) == 0 and len(c.labels) == 0 and len(c.general) == 0
    assert list(c.labels.columns) == LABEL_COLUMNS


def test_2000_patient_cohort_is_whole():
    """A 2000-patient cohort: every patient labelled once and with notes, ids unique. No time limit is asserted
    (a shared machine's wall time is no test of behaviour)."""
    c = generate_cohort(2000, seed=42)
    assert len(c.labels) == 2000 and c.labels.patient_id.is_unique and c.notes.note_id.is_unique
    assert set(c.notes.patient_id) == set(c.labels.patient_id)
