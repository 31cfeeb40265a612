"""Retrieval augmentation (issue 5): similar TRAINING cases put into the prompt as worked examples.

The design is ours. The paper says only that CancerLLM was combined with "five retrievers"; their names, the
prompt format and the results were not published, and no code for it is public.

- **Retrievers, index and prompts** live in the core package `cancerllm.cases` (used by chapter 30's few-shot
  arms and chapter 50 too) and are re-exported here.
- **Retrievers** (`cases.retrievers`): `bm25`, `tfidf` and `char_ngram` (`RETRIEVERS`), each with `fit(docs)` and a
  batched `search(queries, k)`.
- **Index** (`cases.index`): one document per (training patient, task); a hit maps back to that patient's row of the
  query's task and field. Only training rows are indexed, and a candidate is dropped when it belongs to the
  query's patient or when its text hash (`note_key`: `data.loaders.text_hash` of the first 160 characters)
  equals that of any held-out (test or dev) note.
- **Prompt** (`cases.prompts`): k lines `Example j: "<evidence>" -> <answer>` before the test note and question, all
  within `prompt_budget(cfg)` tokens (`augment`); misspelt notes re-framed within the same budget (`perturb`).
- **Leakage** (`leakage`): `leakage_report` measures what got through (same patient, held-out id or hash, and
  near-duplicates by character n-gram cosine >= 0.9; the last is reported, not filtered).
- **Conditions** (`conditions`): no retrieval, each retriever at k, a k-sweep, and the notes misspelled at 30%
  (`perturb.perturb_bodies`) without and with each retriever, stacked so every model predicts all of them in
  one batched call; `cases.index.timings` measures each retriever's cost for notebooks/50_efficiency.
- **Scores** (`scoring`, `report`): `evaluation.score` per condition, the kNN majority answer of the retrieved
  cases as a non-LM reference, paired-bootstrap gains (`stats`), and the chapter's tables and summary.

Used in notebooks/60_retrieval.ipynb.
"""

from ..cases.index import KEY_CHARS, CaseIndex, held_out_hashes, note_key, timings
from ..cases.index import _bodies as _bodies  # the note body of each row (used by tests)
from ..cases.prompts import (MIN_BODY_TOKENS, SNIPPET_TOKENS, augment, build_prompt, evidence_snippet, perturb,
                             prompt_budget)
from ..cases.retrievers import RETRIEVERS, BM25Retriever, CharNgramRetriever, TfidfRetriever
from .conditions import MISSPELL_RATE, STAGE, build_conditions, condition_name, load_tokenizer, predict_conditions
from .leakage import NEAR_DUPLICATE, leakage_report, leakage_table
from .report import (condition_overview, example_prompt, f1_table, gain_display, metrics_json, noise_table,
                     retrieval_summary, sample_note)
from .scoring import KNN, gain_table, knn_answers, score_conditions

__all__ = ["STAGE", "MISSPELL_RATE", "KEY_CHARS", "NEAR_DUPLICATE", "SNIPPET_TOKENS", "MIN_BODY_TOKENS", "KNN",
           "RETRIEVERS", "BM25Retriever", "TfidfRetriever", "CharNgramRetriever", "CaseIndex", "note_key",
           "held_out_hashes", "evidence_snippet", "build_prompt", "augment", "perturb", "prompt_budget",
           "knn_answers", "leakage_report", "leakage_table", "condition_name", "build_conditions", "load_tokenizer",
           "predict_conditions", "timings", "score_conditions", "gain_table", "f1_table", "gain_display",
           "condition_overview", "noise_table", "retrieval_summary", "metrics_json", "example_prompt",
           "sample_note"]
