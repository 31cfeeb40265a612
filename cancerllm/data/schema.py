"""One schema for every data source: a Cohort of notes plus patient-level gold labels.

Every loader (synthetic, TCGA, MTSamples, your own CSV/JSONL/Parquet) returns a `Cohort`, so the
rest of the library never needs to know where the notes came from.

notes  — one row per note:   patient_id, note_id, note_type, text, split
labels — one row per patient: patient_id, cancer_type, split, <PHENOTYPE_FIELDS...>, diagnosis

Label values:
- a string              → the gold answer (e.g. "T2", "2.5 cm", "invasive ductal carcinoma")
- NOT_MENTIONED         → the field is absent from the patient's text; the gold answer says so
- missing (None / NaN)  → no label exists for this patient (e.g. TCGA has no tumor size);
                          the instance is skipped, never scored as "not mentioned".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: The 8 phenotype fields of the extraction task (the paper names site, size, grade, stage and
#: receptor status among its 8; the exact list is not public, so this list is ours).
PHENOTYPE_FIELDS = [
    "tumor_site",
    "tumor_size",
    "histologic_type",
    "grade",
    "t_stage",
    "n_stage",
    "m_stage",
    "biomarker_status",
]

#: The fixed answer when a field is absent from the text (the reference's exact string is not public).
NOT_MENTIONED = "not mentioned"

#: the paper's question per phenotype field (its sentence-level QA prompts ask these)
QUESTIONS = {
    "tumor_site": "What is the tumor site in the given context?",
    "tumor_size": "What is the tumor size in the given context?",
    "histologic_type": "What is the histologic type in the given context?",
    "grade": "What is the tumor grade in the given context?",
    "t_stage": "What is the pathologic T stage in the given context?",
    "n_stage": "What is the pathologic N stage in the given context?",
    "m_stage": "What is the pathologic M stage in the given context?",
    "biomarker_status": "What is the biomarker or receptor status in the given context?",
}

NOTE_TYPES = ["clinical_note", "pathology_report", "general_note"]
SPLITS = ["train", "dev", "test"]

NOTE_COLUMNS = ["patient_id", "note_id", "note_type", "text", "split"]
LABEL_COLUMNS = ["patient_id", "cancer_type", "split", *PHENOTYPE_FIELDS, "diagnosis"]

#: The 17 cancer types of the synthetic cohort (the paper's list is not public; this one is ours).
CANCER_TYPES = [
    "breast", "lung", "prostate", "colorectal", "melanoma", "bladder", "kidney", "uterine",
    "pancreas", "thyroid", "liver", "leukemia", "lymphoma", "ovary", "stomach", "brain",
    "head and neck",
]


@dataclass
class Cohort:
    """Notes and labels of one data source.

    `is_real` comes from the loader (never from a user flag): True for real patient text
    (TCGA, MTSamples, your own notes), False for the embedded synthetic cohort. The publishing
    gate and the "show raw text" switch depend on it.
    """

    name: str
    is_real: bool
    notes: pd.DataFrame
    labels: pd.DataFrame
    #: extra general (non-cancer) clinical text for the general-CPT corpus: columns note_id, text
    general: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["note_id", "text"]))
    #: extra cancer notes without labels (columns note_id, text): CPT text only, as in the paper, where
    #: unlabelled notes are plentiful and labelled instructions scarce
    unlabelled: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["note_id", "text"]))
    #: fields that carry labels in this source (TCGA has no tumor size, say)
    fields: list[str] = field(default_factory=lambda: list(PHENOTYPE_FIELDS))
    #: where each note states each field's gold value: {note_id: [(start, end, field), ...]} character offsets.
    #: Known only for the synthetic cohort (its generator records them); None for real text.
    evidence: dict | None = None


def split_answers(response: str) -> list[str]:
    """The reference's post-processing: split on commas, strip, drop empties."""
    return [a.strip() for a in str(response).split(",") if a.strip()]
