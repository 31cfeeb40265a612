"""Which passages of a report state a field's gold value, and as what phrase: from the synthetic generator's
evidence marks, or, for real text, found by the value the way real reports write it.
"""

from __future__ import annotations

import re

from ..data.schema import NOT_MENTIONED


def evidence_passages(bounds: list[tuple[int, int]], marks: list | None, report_text: str, fld: str,
                      gold: str) -> list[bool]:
    """Which passages (`bounds` = ``passages(report_text)``) state the gold value of `fld`: from the generator's
    evidence `marks` when there are any (synthetic, see ``_patients``), else found by the value itself (TNM
    category and number; otherwise the gold text, case-insensitive). One flag per passage."""
    if gold == NOT_MENTIONED:
        return [False] * len(bounds)
    if marks is not None:
        spans = [(a, b) for a, b, f in marks if f == fld]
        return [any(a < e and s < b for s, e in spans) for a, b in bounds]
    return [_states(report_text[a:b], fld, gold) for a, b in bounds]


def _states(passage: str, fld: str, gold: str) -> bool:
    return _stated_phrase(passage, fld, gold) is not None


#: clauses of a passage, for the fields whose value real reports write in words (grade, histology)
_CLAUSE = re.compile(r"[^.;,\n]+")
_MAX_CLAUSE_WORDS = 12  # a longer clause is no phrase to copy: fall back to the gold text itself


def _value_reader(fld: str, gold: str):
    """For the fields real reports write in words: a test of whether a clause states `gold`, by the rule
    baseline's reader for the field (grade: the grade number; histology: the histology keyword); None for the
    other fields, or when the reader cannot read the gold itself."""
    if fld == "grade":
        from ..baselines.staging import extract_grade

        grade = re.fullmatch(r"(?:G|grade )([1-5])", gold)
        return None if grade is None else (lambda clause: str(extract_grade(clause)) == grade[1])
    if fld == "histologic_type":
        from ..baselines.histology import extract_histology

        want = extract_histology(gold)
        return None if want is None else (lambda clause: extract_histology(clause) == want)
    return None


def _stated_phrase(passage: str, fld: str, gold: str) -> str | None:
    """The phrase of `passage` that states `gold`, as the passage writes it, or None. Used for real text (no
    generator marks), so it reads values the way real reports write them:

    - T/N/M: the category token with its prefix ("pT2a", "pT2N1"); a zero the OCR read as the letter O counts
      when a p/c/y/r prefix makes it a stage ("pNO", "pT3NOMX"; a bare "NO" is the word);
    - grade ("G2" or "grade 2"): the first clause the rule baseline's grade reader reads as that grade
      ("moderately differentiated", "Fuhrman grade 2/4", "Nottingham grade 2"), without a "Header:" when
      the value alone still reads;
    - histology: the first clause whose histology keyword (the rule baseline's reader) is the gold's
      ("invasive ductal carcinoma" for the registry's "Infiltrating Ductal Carcinoma");
    - otherwise, and as the fall-back, the gold text itself (case-insensitive).

    The readers are the ones ``normalise.AnswerNormaliser`` uses, so a phrase found here is one the normaliser
    writes back as a value of the gold's kind."""
    m = re.fullmatch(r"([TNM])([0-4]|X|is)", gold) if fld in ("t_stage", "n_stage", "m_stage") else None
    if m:
        hit = re.search(rf"(?<![A-Za-z0-9])[pcyr]?(?:T\w*N\w*)?{m[1]}{m[2]}[a-d]?(?![0-9])", passage)
        if hit is None and m[2] == "0":
            from ..baselines.staging import extract_tnm

            ocr = re.search(rf"(?<![A-Za-z0-9])[pcyr](?:T\w*?)?(?:N\w*?)?{m[1]}O(?![a-z0-9])", passage)
            hit = ocr if ocr and extract_tnm(ocr[0]).get(m[1]) == gold else None
        return hit[0] if hit else None
    reads = _value_reader(fld, gold)
    if reads is not None:
        for c in _CLAUSE.finditer(passage):
            clause = c[0].strip()
            if clause and len(clause.split()) <= _MAX_CLAUSE_WORDS and reads(clause):
                value = clause.rsplit(":", 1)[-1].strip()  # "Histologic type: Papillary carcinoma" -> the value
                return value if value and reads(value) else clause
    at = passage.lower().find(gold.lower())
    return passage[at:at + len(gold)] if at >= 0 else None


def evidence_phrase(report_text: str, bound: tuple[int, int], marks: list | None, fld: str, gold: str) -> str:
    """What a passage's answer is in the paper's sentence-level QA: the phrase that states the field, as the
    passage writes it ("26 mm", "pT2", "Gleason 3+4=7"; several marked phrases joined by ", "), from the
    generator's marks when there are any, else found by the value (``_stated_phrase``); the gold itself when
    neither finds one. ``normalise.AnswerNormaliser`` maps a phrase back to the label vocabulary."""
    a, b = bound
    if marks is not None:
        pieces = sorted((max(a, s), min(b, e)) for s, e, f in marks if f == fld and s < b and a < e)
        phrase = ", ".join(" ".join(report_text[s:e].split()) for s, e in pieces)
        return phrase or gold
    return _stated_phrase(" ".join(report_text[a:b].split()), fld, gold) or gold
