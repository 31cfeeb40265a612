"""The phrases a note states a gold value with: the evidence-span markers (``_p`` marks a gold-bearing phrase,
``_spans`` reads the marks back as evidence offsets) and the surface forms of sizes, grades, stages and
biomarkers.
"""

from __future__ import annotations

import random
import re

from ..schema import PHENOTYPE_FIELDS
from ..vocabulary import _GLEASON, _ROMAN, _SUBSTAGES, _WORDS, MARKER_FORMS

_PS, _PE = "\x01", "\x02"  # protected span markers: the OCR noise never touches text between them
#: the code character after _PS names the field(s) whose gold the span states ("tnm": a combined "pT2N1aM0")
_FIELD_CODES = {f: chr(0x11 + i) for i, f in enumerate([*PHENOTYPE_FIELDS, "tnm"])}
_CODE_FIELDS = {c: (("t_stage", "n_stage", "m_stage") if f == "tnm" else (f,)) for f, c in _FIELD_CODES.items()}
_SPAN = re.compile("\x01([\x11-\x19])(.*?)\x02", re.S)


def _p(s: str, field: str) -> str:
    """A gold-bearing phrase: protected from OCR noise and recorded as evidence for `field`."""
    return f"{_PS}{_FIELD_CODES[field]}{s}{_PE}"


def _spans(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """(clean text, [(start, end, field), ...]): where the text states each field's gold value."""
    out, spans, last, pos = [], [], 0, 0
    for m in _SPAN.finditer(marked):
        out.append(marked[last:m.start()])
        pos += m.start() - last
        for f in _CODE_FIELDS[m[1]]:
            spans.append((pos, pos + len(m[2]), f))
        out.append(m[2])
        pos += len(m[2])
        last = m.end()
    out.append(marked[last:])
    return "".join(out), spans


def _pick(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _stage_token(rng, cat: str, prefix: str, substage: bool) -> str:
    sub = rng.choice(_SUBSTAGES.get(cat, "")) if substage and cat in _SUBSTAGES and rng.random() < 0.4 else ""
    return f"{prefix}{cat}{sub}"


def _size_forms(rng, s: float) -> str:
    mm = round(s * 10)
    others = sorted({max(0.1, round(rng.uniform(0.35, 0.95) * s, 1)) for _ in range(2)} - {s}, reverse=True)
    others = [o for o in others if o < s] or [round(s / 2, 1) if s >= 0.2 else 0.1]
    dims = [s] + others
    k = rng.random()
    if k < 0.3:
        return f"{_fmt(s)} cm"
    if k < 0.5:
        return f"{mm} mm"
    if k < 0.75:
        order = dims[:]
        rng.shuffle(order)
        return " x ".join(_fmt(d) for d in order) + " cm"
    if k < 0.85:
        return " x ".join(str(round(d * 10)) for d in dims) + " mm"
    return f"{_fmt(s)} cm in greatest dimension"


def _grade_form(rng, system: str, g: int) -> str:
    if system == "gleason":
        p1, p2 = rng.choice(_GLEASON[g])
        return rng.choice([f"Gleason score {p1}+{p2}={p1 + p2} (Grade Group {g})", f"Gleason {p1}+{p2}={p1 + p2}",
                           f"ISUP Grade Group {g}", f"Gleason score {p1 + p2} ({p1}+{p2}), grade group {g}"])
    if system == "nottingham":
        s = rng.choice({1: (3, 4, 5), 2: (6, 7), 3: (8, 9)}[g])
        return rng.choice([f"Nottingham grade {g}", f"Nottingham histologic grade {g} (score {s}/9)",
                           f"Nottingham score {s}/9",
                           f"grade {_ROMAN[g]}", _WORDS[g]])
    if system == "isup":
        return rng.choice([f"WHO/ISUP grade {g}", f"Fuhrman nuclear grade {g}", f"ISUP nuclear grade {_ROMAN[g]}",
                           f"G{g}"])
    if system == "figo":
        return rng.choice([f"FIGO grade {g}", f"FIGO grade {g} of 3", _WORDS[g]])
    if system == "who_cns":
        return rng.choice([f"CNS WHO grade {g}", f"WHO grade {_ROMAN[g]}"])
    return rng.choice([_WORDS[g], f"grade {g}", f"G{g}", f"grade {_ROMAN[g]}", f"G{g} ({_WORDS[g]})"])


def _biomarker_text(rng, pieces) -> str:
    forms = []
    for marker, val in pieces:
        if marker == "PSA":
            forms.append(rng.choice([f"PSA {val} ng/mL", f"PSA of {val} ng/mL",
                                     f"prostate-specific antigen {val} ng/mL", f"PSA: {val}"]))
        else:
            forms.append(rng.choice(MARKER_FORMS[marker][0 if val else 1]))
    if len(forms) > 1 and all(" " not in f for f in forms) and rng.random() < 0.6:
        return "/".join(forms)
    return rng.choice([", ", "; "]).join(forms)
