"""Evaluation: predictions of every system on the test instructions, scored with the reference scorer (and the
clinical variant beside it), bootstrap CIs, paired tests against `cancer_cpt`, per-field / per-cancer-type
breakdowns, confusion matrices, and external validation on a file a run never saw.

Systems: the three trained models (no_cpt, general_cpt, cancer_cpt), the untuned base (zero_shot), a rule
baseline and a TF-IDF + logistic-regression baseline.

Where the code lives:
  - ``predict``: the LM systems of chapter 30 (``model_systems``, ``untuned_arm``) and every system's answers
    (``predict_systems``, ``predict_models``, ``predict_ablation``, ``predict_confident``, ``predict_baselines``, ``few_shot_rows``,
    ``save_predictions``, ``saved_confident``);
  - ``scoring``: the chapter's stage name and headline metric, the score tables with bootstrap CIs (``score``,
    ``comparison_table``, ``metrics_json``), paired tests (``paired_tests``) and per-instance scores
    (``instance_table``, ``by_group``);
  - ``tables``: what the paper reports (``REPORTED``) and the chapter's other tables with their summaries in
    words: decoding, reading cost, ablation, "do the models read?", scoring subsets, per-field gaps, "not
    mentioned" rates, confusion matrices and the error gallery;
  - ``external``: a finished run's Config (``run_config``) and external validation (``external_validation``).

Used in notebooks/30_evaluation.ipynb and by `python -m cancerllm evaluate`.
"""

from ..instructions import TASKS
from .external import external_validation, run_config
from .predict import (FEW_SHOT, ZERO_SHOT, few_shot_rows, model_systems, predict_ablation, predict_baselines,
                      predict_confident, predict_models, predict_systems, save_predictions, saved_confident,
                      untuned_arm)
from .scoring import (HEADLINE, METRIC_LABELS, by_group, comparison_table, instance_table, metrics_json, paired_tests,
                      score)
from .tables import (DECODINGS, REPORTED, ablation_summary, confusions, decoding_summary, decoding_table, error_gallery,
                     field_gap_summary, field_gap_table, not_mentioned_rates, reading_cost, reading_summary,
                     reading_table, scoring_subsets, subset_summary, subset_table)

__all__ = ["DECODINGS", "FEW_SHOT", "HEADLINE", "METRIC_LABELS", "REPORTED", "TASKS", "ZERO_SHOT",
           "ablation_summary", "by_group", "comparison_table", "confusions", "decoding_summary", "decoding_table",
           "error_gallery", "external_validation", "few_shot_rows", "field_gap_summary", "field_gap_table",
           "instance_table", "metrics_json", "model_systems", "not_mentioned_rates", "paired_tests",
           "predict_ablation", "predict_baselines", "predict_confident", "predict_models", "predict_systems", "reading_cost",
           "reading_summary", "reading_table", "run_config", "save_predictions", "saved_confident", "score", "scoring_subsets",
           "subset_summary", "subset_table", "untuned_arm"]
