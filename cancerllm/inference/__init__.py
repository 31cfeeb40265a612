"""Batched greedy generation and answer parsing.

Batched generation with KV cache and left padding, stop at EOS (the rows that ended dropped between decoding
stages), `max_new_tokens` (reference: 50); the prompt is stripped by position; the answer is the text after the
response marker, cut at the first newline, split on commas into a list (the reference's post-processing, which
its repo lacks — paper notes §3.3, §4.1).
Used in notebooks/30_evaluation.ipynb.

Where the code lives (every name below is re-exported here: ``inference.predict``, ``inference.generate``, ...):

- ``generation.py``: ``generate`` (batched, left padded, optionally copy-constrained, with log-probabilities),
  ``generate_sequential`` (the reference's loop), ``parse_answer``;
- ``copying.py``: copy-constrained decoding, ``copies`` and ``CopyConstraint``;
- ``reading.py``: the reading pass, ``first_tokens``, ``first_tokens_shared`` and ``not_relevant_token``;
- ``prompts.py``: passage prompts, ``sentence_prompts``, ``sentence_prompt_passages``, ``passage_prefix`` and
  ``chat_wrapper``;
- ``notes.py``: note-level ``predict``, ``assemble``, ``note_confidence`` and ``write_predictions``.
"""

from __future__ import annotations

from .copying import CopyConstraint, copies
from .generation import generate, generate_sequential, parse_answer
from .notes import assemble, note_confidence, predict, write_predictions
from .prompts import chat_wrapper, passage_prefix, sentence_prompt_passages, sentence_prompts
from .reading import first_tokens, first_tokens_shared, not_relevant_token

__all__ = [
    "CopyConstraint", "assemble", "chat_wrapper", "copies", "first_tokens", "first_tokens_shared", "generate",
    "generate_sequential", "not_relevant_token", "note_confidence", "parse_answer", "passage_prefix", "predict",
    "sentence_prompt_passages", "sentence_prompts", "write_predictions",
]
