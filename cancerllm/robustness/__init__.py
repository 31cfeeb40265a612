"""Robustness testbeds: do the systems still answer when the note is noisy or reworded, and do they read the note
at all? The CancerLLM paper reports robustness testbeds (misspellings and similar perturbations) but did not publish
them, so **the design here is ours**. Used in notebooks/40_robustness.ipynb.

Every perturbation edits only the note *body* inside an instruction's ``context`` (``instructions.split_input``);
the instruction, the question and the gold answers stay as they are, except in the counterfactual, which changes
the expected answer on purpose.

- ``cancerllm.perturb`` (a core module, re-exported here): ``misspell``, ``ocr_confuse``, ``abbreviate`` on a
  text, ``stable_seed``, and ``perturb_bodies`` (one seeded perturbation on every instance's note body; also
  used by the retrieval prompts, ``cancerllm.cases``);
- ``counterfactual``: one stated value changed everywhere in the note (``counterfactual``, ``counterfactual_set``);
- ``testbed``: every condition stacked into one frame (``build_testbed``) and its predictions;
- ``scoring``: the F1 sweep and the counterfactual outcome rates;
- ``report``: the chapter's tables, Markdown summary, example and result files.
"""

from ..instructions import join_input as join_context
from ..instructions import split_input as split_context
from ..perturb import (ABBREVIATIONS, OCR_CONFUSIONS, QWERTY_NEIGHBOURS, abbreviate, misspell, n_to_edit, ocr_confuse,
                       perturb_bodies, stable_seed)
from .counterfactual import CF_FIELDS, counterfactual, counterfactual_set
from .report import abbreviation_table, example_or_notice, robustness_summary, sample_note, save_results, sweep_wide
from .scoring import (CF_MATCH_METRIC, SWEEP_METRICS, counterfactual_by_field, counterfactual_outcomes,
                      counterfactual_rates, sweep_table)
from .testbed import CONDITIONS, build_testbed, counterfactual_decoding, predict_testbed, testbed_table

__all__ = ["stable_seed", "n_to_edit", "split_context", "join_context", "misspell", "ocr_confuse", "abbreviate",
           "perturb_bodies", "counterfactual", "counterfactual_set", "build_testbed", "testbed_table",
           "predict_testbed", "counterfactual_decoding", "sweep_table", "counterfactual_outcomes", "counterfactual_rates",
           "counterfactual_by_field", "sweep_wide", "abbreviation_table", "robustness_summary", "example_or_notice",
           "save_results", "sample_note", "OCR_CONFUSIONS", "ABBREVIATIONS", "CF_FIELDS", "CF_MATCH_METRIC", "CONDITIONS",
           "SWEEP_METRICS", "QWERTY_NEIGHBOURS"]
