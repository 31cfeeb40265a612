"""How a note is cut: its sentence-level passages (the paper's sentence-level QA asks each of them) and its
diagnosis-bearing sections (the diagnosis task's input).
"""

from __future__ import annotations

import re


def passages(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentence-level passages of a note, in order: every line, split
    further at sentence ends (". " or "; " after two lower-case letters or digits, before a capital: "A." and
    "Dr." do not end a sentence); a header line that ends in ":" or "-" is joined
    to the line after it. Used for the paper's sentence-level QA (phenotype extraction)."""
    out: list[list[int]] = []
    pending = None
    for m in re.finditer(r"[^\n]+", text):
        line_start = m.start()
        pieces = [(line_start + a.start(), line_start + a.end()) for a in re.finditer(r"\S(?:.*?\S)?(?=(?<=[a-z0-9)%]{2}[.;])\s+(?=[A-Z(])|\s*$)", m[0])]
        for a, b in pieces:
            if pending is not None:
                a, pending = pending, None
            if text[a:b].endswith((":", " -")) and b - a < 48:
                pending = a  # a header: carried into the next passage
                continue
            out.append([a, b])
    if pending is not None:
        out.append([pending, len(text.rstrip())])
    return [(a, b) for a, b in out]


def passage_texts(text: str, bounds: list[tuple[int, int]] | None = None) -> list[str]:
    """The passages of `text` as strings (whitespace collapsed); `bounds` = ``passages(text)`` when the caller
    already has them."""
    return [" ".join(text[a:b].split()) for a, b in (passages(text) if bounds is None else bounds)]


#: the headers of the clinical-note sections that carry the diagnosis (the reference's input lists reason for
#: visit, treatment site, ... ; the assessment states the diagnosis)
DIAGNOSIS_SECTIONS = re.compile(r"^\s*(reason for visit|cc|chief complaint|treatment site|tx site|site of treatment|"
                                r"assessment( and plan)?|assessment/plan|a/p|impression( and plan)?|diagnosis|"
                                r"final diagnosis)\b", re.I)


def diagnosis_text(text: str) -> str:
    """The diagnosis-bearing sections of a note (paragraphs that open with a DIAGNOSIS_SECTIONS header), in
    order; the whole note when it has none (a pathology report, a custom note)."""
    keep = [p.strip() for p in re.split(r"\n\s*\n", text) if DIAGNOSIS_SECTIONS.match(p)]
    return "\n\n".join(keep) if keep else text
