"""Instruction data for both tasks, in the reference's instruction / context / response form and its
Alpaca-style template (the same template at training and inference).

- phenotype extraction: one question per phenotype field, answered with the gold value or NOT_MENTIONED;
- diagnosis generation: the patient's clinical note(s) in, the diagnosis text out (several joined by ", ").

TRL appends EOS to every completion, which fixes the reference's missing-EOS bug (its model never learned to
stop); tests/test_training.py checks that the tokenised example ends with EOS.
Used in notebooks/20_instruction_tuning.ipynb and notebooks/30_evaluation.ipynb.

Where the code lives (every name below is re-exported here: ``instructions.build_instructions``, ...):

- ``templates.py``: the templates, instructions and stock replies, ``render``, ``frame_texts``, and the input
  framing ``join_input`` / ``split_input``;
- ``segments.py``: how a note is cut, ``passages`` / ``passage_texts`` (sentence level) and ``diagnosis_text``;
- ``notes.py``: the note-level instances, ``build_instructions``, plus ``section_views`` and ``cap_examples``;
- ``evidence.py``: which passages state a gold value and as what phrase, ``evidence_passages`` /
  ``evidence_phrase``;
- ``sentences.py``: the sentence-level QA examples, ``sentence_examples``, and the answerability invariant,
  ``answerability`` / ``unanswerable_ids``.
"""

from __future__ import annotations

from ..data.schema import NOT_MENTIONED, QUESTIONS, Cohort, split_answers
from .evidence import evidence_passages, evidence_phrase
from .notes import build_instructions, cap_examples, section_views
from .segments import DIAGNOSIS_SECTIONS, diagnosis_text, passage_texts, passages
from .sentences import answerability, sentence_examples, unanswerable_ids
from .templates import (DIAGNOSIS_INSTRUCTION, FRAME_TOKENS, INPUT_PREFIX, NOT_RELEVANT, PHENOTYPE_INSTRUCTION,
                        RESPONSE_MARKER, SHORT_TEMPLATE, TASKS, TEMPLATE, TEMPLATES, frame_texts, join_input, render, split_input)

__all__ = [
    "DIAGNOSIS_INSTRUCTION", "DIAGNOSIS_SECTIONS", "FRAME_TOKENS", "INPUT_PREFIX", "NOT_MENTIONED", "NOT_RELEVANT",
    "PHENOTYPE_INSTRUCTION", "QUESTIONS", "RESPONSE_MARKER", "SHORT_TEMPLATE", "TASKS", "TEMPLATE", "TEMPLATES",
    "Cohort", "answerability", "build_instructions", "cap_examples", "diagnosis_text", "evidence_passages",
    "evidence_phrase", "frame_texts", "join_input", "passage_texts", "passages", "render", "section_views",
    "sentence_examples", "split_answers", "split_input", "unanswerable_ids",
]
