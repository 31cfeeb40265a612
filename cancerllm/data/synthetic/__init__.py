"""Embedded, seeded, deterministic synthetic cancer cohort (no real patient text).

Used in notebooks/00_data_profiling.ipynb.

What is simulated
-----------------
For each patient: one clinical note (sections Reason for visit, Treatment site, Subjective,
Review of systems (nursing ROS), Objective, Labs, Assessment - headers and order varied), one
pathology report (specimen, clinical history, gross and microscopic description, final diagnosis,
synoptic lines such as "pT2 pN1a cM0"), and for ~15% a clinical follow-up note; plus one gold label
row with the 8 phenotype fields of ``PHENOTYPE_FIELDS`` and an ICD-10-style ``diagnosis``.
``general`` holds non-cancer clinical notes (hypertension, diabetes, pneumonia, ...) in the same
section style, for the general-text continued-pretraining ablation.

Design choices that are ours (the CancerLLM paper's data and label formats are private)
----------------------------------------------------------------------------------------
* 17 cancer types (``CANCER_TYPES``), table-driven (``CANCER_TABLE``): sites with their surface
  forms and ICD-10 titles, histologies with synonyms/abbreviations, grading system, size range,
  whether TNM applies, biomarkers.  Type mix: every type once first, then a skewed draw.
* Canonical gold forms (the answer text of the instruction-tuning data):
    - tumor_site: lower-case anatomic phrase, e.g. "upper-outer quadrant of right breast",
      "right upper lobe", "sigmoid colon", "bone marrow"
    - tumor_size: largest dimension in cm with one decimal, e.g. "2.5 cm" (text may say
      "25 mm" or "2.5 x 1.8 x 1.2 cm")
    - histologic_type: lower-case WHO-style name, e.g. "invasive ductal carcinoma"
    - grade: "grade N" (N = 1..4; prostate uses the ISUP Grade Group 1..5; brain the CNS WHO
      grade); text may say "moderately differentiated", "G2", "grade II", "Gleason 3+4=7",
      "Nottingham score 7/9"
    - t_stage / n_stage / m_stage: "T2", "N1", "M0" - main category without prefix or substage
      (text may say "pT2", "pN1a", "cM0", "pT2N1aM0")
    - biomarker_status: "<MARKER> positive|negative" pieces joined by ", " in a fixed order,
      e.g. "ER positive, PR positive, HER2 negative"; "positive" means expressed / mutated /
      rearranged / MSI-high / methylated.  Prostate uses the serum value: "PSA 8.2 ng/mL".
      Types without a biomarker get NOT_MENTIONED.
    - diagnosis: ICD-10-CM-style title, e.g. "Malignant neoplasm of upper-outer quadrant of right
      female breast"; it only uses what the text states (an unstated site gives the
      "unspecified" title, e.g. "Malignant neoplasm of unspecified site of unspecified female
      breast").
* A field is absent at random (~12%) or structurally (no TNM for leukemia/lymphoma/brain, ...):
  its label is NOT_MENTIONED and no form of it appears in the text.
* Realism: synonyms, abbreviations, negations, cm/mm, indirect grade/size/stage forms, distractors
  (~20% prior different cancer, family history, benign second specimen with its own size,
  specimen dimensions) and OCR-like noise (l<->1, O<->0, rn<->m, dropped spaces) at
  ``ocr_noise_rate`` per eligible character, never inside gold-bearing phrases.
* Determinism: only ``random.Random`` / ``numpy.random.default_rng`` instances seeded from
  ``seed``; the OCR noise has its own stream, so labels do not depend on ``ocr_noise_rate``.

Where the code lives (the public names are re-exported here: ``synthetic.generate_cohort``, ...)
--------------------------------------------------------------------------------------------------
* ``data/vocabulary.py``: the data tables (``CANCER_TABLE``, ``CANCER_TERMS``, ``MARKER_FORMS``, the phrases);
* ``phrases.py``: evidence-span markers and the surface forms of gold values;
* ``patients.py``: sampling one patient and planning where its notes state each value;
* ``notes.py``: rendering the clinical note, follow-up note, pathology report and the general notes;
* ``noise.py``: the OCR-like noise;
* ``cohort.py``: ``generate_cohort`` (with the seeded, stratified splits) and ``generate_general_notes``.
"""

from __future__ import annotations

from ..vocabulary import CANCER_TABLE, CANCER_TERMS, MARKER_FORMS
from .cohort import generate_cohort, generate_general_notes

__all__ = ["generate_cohort", "generate_general_notes", "CANCER_TERMS", "CANCER_TABLE", "MARKER_FORMS"]
