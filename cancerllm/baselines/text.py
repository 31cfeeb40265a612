"""Text helpers shared by every baseline: the raw note inside an instruction context (``raw_note``),
ASCII lower-casing that keeps every character position (``_lower``, the extractors match on it and report
positions in the original) and the most common label of a counter (``_most_common``, ties: alphabetical).

Used in notebooks/30_evaluation.ipynb through ``cancerllm.baselines``.
"""

from __future__ import annotations

from collections import Counter

from ..data.schema import QUESTIONS

_PREFIX = "In the text: "


def raw_note(context: str, field: str | None = None) -> str:
    """The note inside an instruction ``context`` ("In the text: <note> <question>" -> "<note>")."""
    s = str(context)
    s = s.removeprefix(_PREFIX)
    q = QUESTIONS.get(field or "")
    if q and s.rstrip().endswith(q):
        s = s.rstrip()[: -len(q)]
    elif field is None:
        for q in QUESTIONS.values():
            if s.rstrip().endswith(q):
                s = s.rstrip()[: -len(q)]
                break
    return s.strip()


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """ASCII lower-casing (keeps every position, unlike ``str.lower`` on some non-ASCII letters)."""
    return text.translate(_ASCII_LOWER)


def _most_common(counter: Counter) -> str:
    return min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0]
