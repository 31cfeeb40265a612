"""Staging, grade and size extractors of the rule baseline: the TNM categories written in a note
(``extract_tnm``), the N category implied by lymph-node counts (``_n_from_node_count``), the tumour grade
(``extract_grade``, put in the gold's form by ``format_grade``), the largest tumour dimension
(``extract_tumor_size``) and the T category that the AJCC size cut-offs give it when no T is written
(``t_from_size``).

Used in notebooks/30_evaluation.ipynb through ``RuleBaseline``.
"""

from __future__ import annotations

import re

from ..data.schema import NOT_MENTIONED
from .sites import extract_organ
from .text import _lower

# ============================================================================ TNM
_TNM_COMPONENT = re.compile(r"(yp|yc|[pPcCyr])?([TNM])(is|[0-4]|[Xx]|O)((?:mi|[a-d])\d?)?")
_TNM_VALID = {"T": set("01234") | {"is", "X"}, "N": set("0123") | {"X"}, "M": set("01") | {"X"}}
_TNM_CHAIN_NEXT = set("TNMpcy")


def extract_tnm(text: str) -> dict[str, str]:
    """T, N and M categories stated in ``text``: {"T": "T2", "N": "N1", "M": "M0"} (missing keys: not found).

    Accepts a prefix (p, c, yp, yc, y, r), a sub-stage ("pT1b", "pN1a", "pN1mi") and combined forms
    ("pT2N1aM0", "pT3NOMX": OCR's letter O after a T is read as 0). A component must start a word or follow
    another component, and must end a word or be followed by the next one, so "LN1", "WT1", "T12",
    "Tissue" and "M4300" never fire. Several mentions: the first pathologic (p/yp) one wins, else the first.
    """
    found: dict[str, list[tuple[bool, str]]] = {"T": [], "N": [], "M": []}
    last_end = -2
    for m in _TNM_COMPONENT.finditer(text):
        start, end = m.start(), m.end()
        chained = start == last_end
        if not chained and start > 0 and text[start - 1].isalnum():
            continue
        nxt = text[end:end + 1]
        if nxt and nxt.isalnum() and nxt not in _TNM_CHAIN_NEXT:
            continue
        prefix, cat, val = m.group(1) or "", m.group(2), m.group(3)
        if val == "O":  # OCR's letter O: only after a T ("pT3NO") or with a prefix ("pNO"), never a bare "NO"
            if cat == "T" or not (chained or prefix):
                continue
            val = "0"
        val = "X" if val in ("X", "x") else val
        if val not in _TNM_VALID[cat]:
            continue
        last_end = end
        found[cat].append((prefix.lower() in ("p", "yp"), f"{cat}{val}"))
    out = {}
    for cat, hits in found.items():
        if hits:
            patho = [v for is_p, v in hits if is_p]
            out[cat] = patho[0] if patho else hits[0][1]
    return out


# ============================================================================ N from lymph-node counts
_WORD_NUM = {w: i for i, w in enumerate(["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen"])}
_WORD_NUM["none"] = 0
_NUM_TOKEN = r"((?<!\d)\d{1,2}(?!\d)|\b(?:" + "|".join(sorted(_WORD_NUM, key=len, reverse=True)) + r")\b)"
_NODE_SENTENCE_SKIP = re.compile(r"grade|score|mitos|hpf|ratio|gleason|%|margin|fish|cep17", re.I)
_NODE_PATTERNS = [
    # (2/14), 4/28 positive
    re.compile(r"(?<![\d/.])(\d{1,2})\s*/\s*(\d{1,2})(?![\d/.])"),
    # 2 involved of 9, 3 positive lymph nodes of 12
    re.compile(_NUM_TOKEN + r"\s*(?:\(\w+\)\s*)?(?:positive|involved|inv\w*)\s+(?:lymph\s+nodes?\s+)?(?:of|out of)\s+"
               + _NUM_TOKEN, re.I),
    # four (out of fourteen) axillary lymph nodes are positive; none of 12 nodes positive
    re.compile(_NUM_TOKEN + r"\s*\(?\s*(?:out\s+)?of\s+(?:the\s+)?" + _NUM_TOKEN + r"\s*\)?[^.]{0,40}?positive", re.I),
    # Number involved: 0
    re.compile(r"number\s+(?:of\s+nodes\s+)?(?:involved|positive)\s*:?\s*(\d{1,2})()", re.I),
]
_NODE_NEGATIVE = re.compile(r"(?:no|negative for)\s+(?:evidence\s+of\s+)?(?:metasta|malignan|tumou?r|carcinoma)", re.I)


def _num(tok: str) -> int:
    return int(tok) if tok.isdigit() else _WORD_NUM[tok.lower()]


def _n_from_node_count(text: str, combine: str = "sum") -> str | None:
    """N category from the lymph-node counts of the sentences that name nodes: "2 involved of 9",
    "(0/5)", "4/28 positive", "Number involved: 0", or "no metastasis in ... lymph nodes" (0 positive).
    Per sentence the largest involved count counts (a sentence often repeats its total); sentences are
    summed (``combine="sum"``, separate node stations) or their maximum taken (``"max"``).
    0 -> N0, 1-3 -> N1, 4-9 -> N2, >= 10 -> N3 (the AJCC breast cut-offs, the usual first rule).
    Sentences about grade, scores, mitoses, margins or FISH ratios are skipped."""
    counts = []
    for sent in re.split(r"(?<=[.;])\s+|\n", text):
        low = _lower(sent)
        names_nodes = "node" in low or "number involved" in low or "number positive" in low
        if not names_nodes or _NODE_SENTENCE_SKIP.search(sent):
            continue
        best = None
        for rx in _NODE_PATTERNS:
            for m in rx.finditer(sent):
                k = _num(m[1])
                n = _num(m[2]) if m.lastindex and m[2] else k
                if k <= n:
                    best = k if best is None else max(best, k)
            if best is not None:
                break
        if best is None and _NODE_NEGATIVE.search(sent):
            best = 0
        if best is not None:
            counts.append(best)
    if not counts:
        return None
    total = sum(counts) if combine == "sum" else max(counts)
    return "N0" if total == 0 else "N1" if total <= 3 else "N2" if total <= 9 else "N3"


# ============================================================================ grade
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}
_GRADE_GROUP = re.compile(r"grade\s*group\s*:?\s*([1-5])\b", re.I)
_GLEASON = re.compile(r"gleason(?:\s+score)?\s*:?\s*(?:\d+\s*\()?\s*([3-5])\s*\+\s*([3-5])", re.I)
_NOTTINGHAM_SCORE = re.compile(r"nottingham\s+(?:\w+\s+)?score\s*:?\s*([3-9])\s*/\s*9", re.I)
_GRADE_NUM = re.compile(r"\bgrade\b(?:\s*\([^)]{0,40}\))?(?:\s*(?:is|:|-))*\s*(iv|iii|ii|i|[1-4])"
                        r"(?:\s*(?:-|to)\s*([1-4]))?\b", re.I)
_GRADE_G = re.compile(r"\bG([1-4]|X)\b")
_DIFF = re.compile(r"\b(well|moderately|poorly|un)(?:\s*(?:to|-|/)\s*(well|moderately|poorly))?\s*-?\s*differentiated",
                   re.I)
_DIFF_GRADE = {"well": 1, "moderately": 2, "poorly": 3, "un": 4}
_HIGH_LOW = re.compile(r"\b(high|low)[\s-]grade\b", re.I)


def extract_grade(text: str) -> int | str | None:
    """The tumour grade stated in ``text``: an int (1-5), "X", "high", "low", or None.

    In priority order: Grade Group (prostate), Gleason a+b (3+3 -> 1, 3+4 -> 2, 4+3 -> 3, 8 -> 4, 9-10 -> 5),
    Nottingham score s/9 (3-5 -> 1, 6-7 -> 2, 8-9 -> 3), "grade 2"/"grade II" (also "FIGO grade 2",
    "WHO/ISUP grade 2", "CNS WHO grade 4"), "G2", differentiation words (well -> 1, moderately -> 2,
    poorly -> 3, undifferentiated -> 4; "moderately to poorly" takes the higher), then high/low grade.
    """
    if m := _GRADE_GROUP.search(text):
        return int(m[1])
    if m := _GLEASON.search(text):
        a, b = int(m[1]), int(m[2])
        s = a + b
        return 1 if s <= 6 else (2 if a == 3 else 3) if s == 7 else 4 if s == 8 else 5
    if m := _NOTTINGHAM_SCORE.search(text):
        s = int(m[1])
        return 1 if s <= 5 else 2 if s <= 7 else 3
    if m := _GRADE_NUM.search(text):
        v = m[1].lower()
        g = _ROMAN[v] if v in _ROMAN else int(v)
        return max(g, int(m[2])) if m[2] else g  # "grade 1-2/4", "grade is 3-4": the higher
    if m := _GRADE_G.search(text):
        return "X" if m[1] == "X" else int(m[1])
    if m := _DIFF.search(text):
        g = _DIFF_GRADE[m[1].lower()]
        return max(g, _DIFF_GRADE[m[2].lower()]) if m[2] else g
    if m := _HIGH_LOW.search(text):
        return m[1].lower()
    return None


def format_grade(grade: int | str | None, style: str = "grade", high_label: str | None = None,
                 low_label: str | None = None) -> str:
    """Canonical grade string: style "grade" -> "grade 2" (synthetic), "G" -> "G2"/"GX" (TCGA)."""
    if grade is None:
        return NOT_MENTIONED
    if grade == "high":
        return high_label or NOT_MENTIONED
    if grade == "low":
        return low_label or NOT_MENTIONED
    if grade == "X":
        return "GX" if style == "G" else NOT_MENTIONED
    return f"G{grade}" if style == "G" else f"grade {grade}"


# ============================================================================ tumour size
_NUM = r"\d+(?:\.\d+)?"
_SIZE = re.compile(rf"(?<![\d.])({_NUM}(?:\s*[x×X]\s*{_NUM}){{0,2}})\s*(cm|mm)\b", re.I)
_SIZE_CUE = re.compile(r"tum(?:o|ou)r|tumou?r\s+size|lesion|mass|greatest|largest|maximum|size|measur", re.I)
_SIZE_SKIP = re.compile(r"speci\w{0,2}en|separate excision|negative for malignancy|benign|margin|fragment|aggregate",
                        re.I)
_SENTENCE_END = re.compile(r"\.\s|[\n;]")


def extract_tumor_size(text: str) -> str | None:
    """Largest tumour dimension as "2.5 cm" (one decimal): "25 mm", "2.5 x 1.8 x 1.2 cm", "25 x 18 mm".

    Mentions whose sentence (up to the mention, or to the next full stop when that clause is about a
    benign lesion) names a specimen, a margin, fragments, a benign or separate excision are skipped
    (specimen dimensions and a benign second lesion are the usual distractors); a mention cued by
    tumour / lesion / mass / size / greatest dimension wins, else the first one left.
    """
    first_ok, cued = None, None
    for m in _SIZE.finditer(text):
        start = max(text.rfind(". ", 0, m.start()) + 1, text.rfind("\n", 0, m.start()) + 1,
                    text.rfind(";", 0, m.start()) + 1)
        end_m = _SENTENCE_END.search(text, m.end())
        before, after = text[start:m.start()], text[m.end(): end_m.start() if end_m else len(text)]
        if _SIZE_SKIP.search(before) or re.search(r"benign|negative for malignancy", after, re.I):
            continue
        nums = [float(x) for x in re.findall(_NUM, m[1])]
        cm = max(nums) / (10.0 if m[2].lower() == "mm" else 1.0)
        if not 0 < cm < 100:
            continue
        value = f"{cm:.1f} cm"
        first_ok = first_ok or value
        if cued is None and _SIZE_CUE.search(text[max(start, m.start() - 40): m.start()]):
            cued = value
    return cued or first_ok


# ============================================================================ T from size
#: AJCC 8th T cut-offs (upper bounds in cm) for organs whose T category is defined by the tumour size.
T_BY_SIZE = {
    "breast": ((2.0, "T1"), (5.0, "T2"), (float("inf"), "T3")),
    "lung": ((3.0, "T1"), (5.0, "T2"), (7.0, "T3"), (float("inf"), "T4")),
    "kidney": ((7.0, "T1"), (10.0, "T2"), (float("inf"), "T3")),
    "pancreas": ((2.0, "T1"), (4.0, "T2"), (float("inf"), "T3")),
    "thyroid": ((2.0, "T1"), (4.0, "T2"), (float("inf"), "T3")),
    "head and neck": ((2.0, "T1"), (4.0, "T2"), (float("inf"), "T3")),
}


def t_from_size(text: str) -> str | None:
    """T category implied by the tumour size when no T is written, for organs whose T is size-defined
    (``T_BY_SIZE``: breast <= 2 / 5 cm, lung <= 3 / 5 / 7 cm, kidney <= 7 / 10 cm, pancreas, thyroid and
    oral cavity <= 2 / 4 cm). None when the organ or the size is unknown."""
    cuts = T_BY_SIZE.get(extract_organ(text) or "")
    size = extract_tumor_size(text) if cuts else None
    if size is None:
        return None
    cm = float(size.split()[0])
    return next(t for limit, t in cuts if cm <= limit)
