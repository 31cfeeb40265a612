"""Non-LLM baselines: what a clinical NLP team would try first, scored by the same reference scorer.

Used in notebooks/30_evaluation.ipynb.

Both baselines read the instruction examples of ``instructions.build_instructions`` (a train DataFrame to
fit, a test DataFrame to predict) and return one answer list per test row (``list[list[str]]``, aligned with
the rows), exactly like the LM's parsed output, so ``metrics.corpus_prf`` scores all systems the same way.

* ``RuleBaseline`` - regular expressions over the raw note inside ``context``: TNM tokens (``pT2``, ``pN1a``,
  ``cM0``, the combined ``pT2N1aM0`` and OCR's ``pT3NO``), grade (``G2``, ``grade II``, differentiation
  words, Gleason / Grade Group, Nottingham score), tumour size (largest dimension, cm/mm, with the
  specimen-dimension and benign-second-specimen distractors skipped), a histology keyword table, a tumour
  site table, receptor / molecular markers, and diagnosis. Canonical forms follow the gold of the data:
  "T2"/"N1"/"M0", "2.5 cm", "grade 2" (or "G2" when the training gold says so), "ER positive, PR negative".
  ``fit`` learns only label maps from the training gold: keyword -> most common histologic type (given the
  organ), detected (site, organ, histology) -> most common diagnosis, the grade style, and for a staging /
  grade answer outside the gold vocabulary ("MX" where the gold only has M0/M1) its most common gold.
  No rule fires -> ``NOT_MENTIONED``. The cancer type column is never read (for TCGA it *is* the diagnosis).
* ``TfidfBaseline`` - ``TfidfVectorizer`` (word 1-2-grams, sublinear tf) + ``LogisticRegression`` per field,
  the whole gold response string being the class (``NOT_MENTIONED`` included).
* ``MajorityBaseline`` - the most common training response per field (the floor every system must beat).

``field_macro_f1`` gives class-level accuracy and scikit-learn macro-F1 per field (exact match of the full
response), the number published TCGA TF-IDF baselines report.

Where the code lives (this module only re-exports):

* ``text`` - ``raw_note`` and the helpers every baseline shares;
* ``staging`` - TNM, N from lymph-node counts, grade, tumour size, T from size;
* ``histology`` - the histology keyword table and ``extract_histology``;
* ``sites`` - the tumour-site and organ tables, ``extract_site`` and ``extract_organ``;
* ``biomarkers`` - receptor / molecular marker status and PSA;
* ``rule`` - ``RuleBaseline``;
* ``classifiers`` - ``TfidfBaseline``, ``MajorityBaseline``, ``field_macro_f1`` and ``predict_all``.
"""

from __future__ import annotations

from .biomarkers import MARKER_ORDER, extract_biomarkers
from .classifiers import MajorityBaseline, TfidfBaseline, field_macro_f1, predict_all
from .histology import HISTOLOGY_KEYWORDS, extract_histology
from .rule import RuleBaseline
from .sites import ORGAN_KEYWORDS, SITE_PATTERNS, extract_organ, extract_site
from .staging import T_BY_SIZE, extract_grade, extract_tnm, extract_tumor_size, format_grade, t_from_size
from .text import raw_note

__all__ = [
    "raw_note", "extract_tnm", "extract_grade", "format_grade", "extract_tumor_size", "extract_histology",
    "extract_site", "extract_organ", "extract_biomarkers", "t_from_size", "T_BY_SIZE", "RuleBaseline",
    "TfidfBaseline", "MajorityBaseline", "field_macro_f1", "predict_all", "HISTOLOGY_KEYWORDS", "SITE_PATTERNS",
    "ORGAN_KEYWORDS", "MARKER_ORDER",
]
