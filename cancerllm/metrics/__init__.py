"""The CancerLLM reference scorer, reproduced exactly, plus a labelled "clinical" variant.

Where the code lives:
  - ``reference``: the reference scorer (``f1_emnlp2020``: normalisation, stemming, EM / BLEU-2 / ROUGE match
    functions, the metric registry, ``reference_prf`` and ``corpus_prf``), with its provenance and every quirk;
  - ``clinical``: ``clinical_normalize``, the string pre-normaliser of the clinical_* metrics;
  - ``files``: ``score_table`` and the answers-file scorer of `python -m cancerllm score` (``read_answers_jsonl``,
    ``score_files``).

Used in notebooks/30_evaluation.ipynb.
"""

from .clinical import clinical_normalize
from .files import read_answers_jsonl, score_files, score_table
from .reference import (CLINICAL_METRICS, METRICS, REFERENCE_METRICS, corpus_prf, normalize_and_stem, normalize_nostem,
                        reference_prf)

__all__ = ["CLINICAL_METRICS", "METRICS", "REFERENCE_METRICS", "clinical_normalize", "corpus_prf",
           "normalize_and_stem", "normalize_nostem", "read_answers_jsonl", "reference_prf", "score_files",
           "score_table"]
