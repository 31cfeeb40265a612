"""Non-LLM baselines: what a clinical NLP team would try first, scored by the same reference scorer.

Used in notebooks/30_evaluation.ipynb.

Both baselines read the instruction examples of ``instructions.build_instructions`` (a train DataFrame to
fit, a test DataFrame to predict) and return one answer list per test row (``list[list[str]]``, aligned with
the rows), exactly like the LM's parsed output, so ``metrics.corpus_prf`` scores all systems the same way.

* ``RuleBaseline`` - regular expressions over the raw note inside ``context``: TNM tokens (``pT2``, ``pN1a``,
  ``cM0``, the combined ``pT2N1aM0`` and OCR's ``pT3NO``), grade (``G2``, ``grade II``, differentiation
  words, Gleason / Grade Group, Nottingham score), tumour size (largest dimension, cm/mm, with the
  specimen-dimension and benign-second-specimen distractors skipped), a histology keyword table, a tumour
  site table, receptor / molecular markers, and diagnosis. Canonical forms follow the gold of the data:
  "T2"/"N1"/"M0", "2.5 cm", "grade 2" (or "G2" when the training gold says so), "ER positive, PR negative".
  ``fit`` learns only label maps from the training gold: keyword -> most common histologic type (given the
  organ), detected (site, organ, histology) -> most common diagnosis, the grade style, and for a staging /
  grade answer outside the gold vocabulary ("MX" where the gold only has M0/M1) its most common gold.
  No rule fires -> ``NOT_MENTIONED``. The cancer type column is never read (for TCGA it *is* the diagnosis).
* ``TfidfBaseline`` - ``TfidfVectorizer`` (word 1-2-grams, sublinear tf) + ``LogisticRegression`` per field,
  the whole gold response string being the class (``NOT_MENTIONED`` included).
* ``MajorityBaseline`` - the most common training response per field (the floor every system must beat).

``field_macro_f1`` gives class-level accuracy and scikit-learn macro-F1 per field (exact match of the full
response), the number published TCGA TF-IDF baselines report.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from tqdm.auto import tqdm

from .data.schema import NOT_MENTIONED
from .instructions import QUESTIONS, split_answers

__all__ = [
    "raw_note", "extract_tnm", "extract_grade", "format_grade", "extract_tumor_size", "extract_histology",
    "extract_site", "extract_organ", "extract_biomarkers", "t_from_size", "T_BY_SIZE", "RuleBaseline",
    "TfidfBaseline", "MajorityBaseline", "field_macro_f1", "predict_all", "HISTOLOGY_KEYWORDS", "SITE_PATTERNS",
    "ORGAN_KEYWORDS", "MARKER_ORDER",
]

_PREFIX = "In the text: "


def raw_note(context: str, field: str | None = None) -> str:
    """The note inside an instruction ``context`` ("In the text: <note> <question>" -> "<note>")."""
    s = str(context)
    if s.startswith(_PREFIX):
        s = s[len(_PREFIX):]
    q = QUESTIONS.get(field or "")
    if q and s.rstrip().endswith(q):
        s = s.rstrip()[: -len(q)]
    elif field is None:
        for q in QUESTIONS.values():
            if s.rstrip().endswith(q):
                s = s.rstrip()[: -len(q)]
                break
    return s.strip()


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


# ============================================================================ histology
#: (canonical name, regex) - most specific first; matched case-insensitively unless the regex is an
#: all-capitals abbreviation (matched as written). Canonical names are standard WHO-style names.
HISTOLOGY_KEYWORDS: list[tuple[str, str]] = [
    ("clear cell renal cell carcinoma", r"clear cell renal cell carcinoma|renal cell carcinoma,? (?:conventional )?"
                                        r"\(?clear cell|conventional \(?clear cell|\bccRCC\b"),
    ("papillary renal cell carcinoma", r"papillary renal cell carcinoma|renal cell carcinoma,? papillary type|"
                                       r"\bpRCC\b"),
    ("chromophobe renal cell carcinoma", r"chromophobe renal cell carcinoma|renal cell carcinoma,? chromophobe type|"
                                         r"\bchRCC\b|chromophobe"),
    ("invasive ductal carcinoma", r"(?:invasive|infiltrating) ductal carcinoma|\bIDC\b|"
                                  r"invasive carcinoma of no special type"),
    ("invasive lobular carcinoma", r"(?:invasive|infiltrating) lobular carcinoma|\bILC\b"),
    ("ductal carcinoma", r"ductal carcinoma(?! in situ)|carcinoma with ductal features"),
    ("lobular carcinoma", r"lobular carcinoma(?! in situ)"),
    ("acinar adenocarcinoma", r"acinar adenocarcinoma|adenocarcinoma,? acinar type|prostatic adenocarcinoma"),
    ("ductal adenocarcinoma", r"pancreatic ductal adenocarcinoma|ductal adenocarcinoma|adenocarcinoma,? ductal type|"
                              r"\bPDAC\b"),
    ("intestinal-type adenocarcinoma", r"intestinal[ -]type adenocarcinoma|adenocarcinoma,? intestinal type"),
    ("diffuse-type adenocarcinoma", r"diffuse[ -]type adenocarcinoma|adenocarcinoma,? diffuse type"),
    ("signet ring cell carcinoma", r"signet[ -]ring cell carcinoma"),
    ("mucinous adenocarcinoma", r"mucinous adenocarcinoma"),
    ("endometrioid adenocarcinoma", r"endometrioid adenocarcinoma"),
    ("endometrioid carcinoma", r"endometrioid carcinoma"),
    ("mucinous carcinoma", r"mucinous carcinoma|colloid carcinoma"),
    ("serous carcinoma", r"(?:high[ -]grade |low[ -]grade |uterine )?serous (?:papillary )?"
                         r"(?:carcinoma|adenocarcinoma)"),
    ("clear cell carcinoma", r"clear cell carcinoma"),
    ("papillary thyroid carcinoma", r"papillary thyroid carcinoma|papillary carcinoma of (?:the )?thyroid|\bPTC\b|"
                                    r"papillary carcinoma"),
    ("follicular thyroid carcinoma", r"follicular thyroid carcinoma|follicular carcinoma|\bFTC\b"),
    ("medullary thyroid carcinoma", r"medullary thyroid carcinoma|medullary carcinoma|\bMTC\b"),
    ("hepatocellular carcinoma", r"hepatocellular carcinoma|\bHCC\b"),
    ("intrahepatic cholangiocarcinoma", r"intrahepatic cholangiocarcinoma|cholangiocarcinoma,? intrahepatic|"
                                        r"cholangiocarcinoma"),
    ("adenosquamous carcinoma", r"adenosquamous carcinoma"),
    ("acinar cell carcinoma", r"acinar cell carcinoma"),
    ("adenoid cystic carcinoma", r"adenoid cystic carcinoma"),
    ("urothelial carcinoma", r"urothelial carcinoma|transitional cell carcinoma"),
    ("small cell carcinoma", r"(?<!non-)(?<!non )small cell (?:lung )?carcinoma|\bSCLC\b"),
    ("large cell carcinoma", r"large cell carcinoma"),
    ("squamous cell carcinoma", r"squamous cell carcinoma|squamous carcinoma|\bHNSCC\b|\bSCC\b"),
    ("carcinosarcoma", r"carcinosarcoma|malignant mixed m[uü]llerian tumou?r"),
    ("superficial spreading melanoma", r"superficial spreading melanoma"),
    ("nodular melanoma", r"nodular melanoma"),
    ("lentigo maligna melanoma", r"lentigo maligna melanoma"),
    ("chronic lymphocytic leukemia", r"chronic lymphocytic leuka?emia|\bCLL\b"),
    ("acute myeloid leukemia", r"acute myeloid leuka?emia|\bAML\b"),
    ("chronic myeloid leukemia", r"chronic myeloid leuka?emia|\bCML\b"),
    ("acute lymphoblastic leukemia", r"acute lymphoblastic leuka?emia|B-lymphoblastic leuka?emia"),
    ("diffuse large B-cell lymphoma", r"diffuse large B-cell lymphoma|\bDLBCL\b"),
    ("follicular lymphoma", r"follicular lymphoma"),
    ("classical Hodgkin lymphoma", r"(?:classical )?Hodgkin(?:'s)? lymphoma|\bcHL\b"),
    ("mantle cell lymphoma", r"mantle cell lymphoma|\bMCL\b"),
    ("glioblastoma", r"glioblastoma|\bGBM\b"),
    ("oligodendroglioma", r"oligodendroglioma"),
    ("astrocytoma", r"astrocytoma"),
    ("mesothelioma", r"mesothelioma"),
    ("seminoma", r"seminoma"),
    ("adrenocortical carcinoma", r"adrenal cortical carcinoma|adrenocortical carcinoma"),
    ("melanoma", r"melanoma"),
    ("renal cell carcinoma", r"renal cell carcinoma|\bRCC\b"),
    ("adenocarcinoma", r"adenocarcinoma"),
]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """ASCII lower-casing (keeps every position, unlike ``str.lower`` on some non-ASCII letters)."""
    return text.translate(_ASCII_LOWER)


def _split_top(pattern: str) -> list[str]:
    """Top-level alternatives of a regex (a "|" inside parentheses or a class does not split)."""
    out, depth, cur, i = [], 0, "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            cur += pattern[i:i + 2]
            i += 2
            continue
        depth += c in "(["
        depth -= c in ")]"
        if c == "|" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    return out + [cur]


def _compile(pattern: str) -> tuple[re.Pattern | None, re.Pattern | None]:
    """Split a table pattern into (words, abbreviations): words are matched on the lower-cased text
    (fast literal scanning, no re.I), abbreviations (\\bABC\\b) case-sensitively on the original text."""
    parts = _split_top(pattern)
    abbrs = [p for p in parts if re.fullmatch(r"\\b[A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*\\b", p)]
    words = [p.lower() for p in parts if p not in abbrs]
    return (re.compile("|".join(words)) if words else None, re.compile("|".join(abbrs)) if abbrs else None)


def _anchor(alternative: str) -> str:
    """The longest literal every match of ``alternative`` must contain ("" when there is none): the text
    outside any group, class or escape. Used to skip a pattern whose anchor is absent from the note."""
    s = re.sub(r"\\.", "\x00", alternative)
    while True:  # drop innermost groups and classes, their contents are optional or variable
        t = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", "\x00", s)
        if t == s:
            break
        s = t
    best = ""
    for piece in s.split("\x00"):
        for lit in re.split(r"[^A-Za-z0-9 ,'-]|.\?", piece):
            if len(lit) > len(best):
                best = lit
    return best if len(best.strip()) >= 3 else ""


def _hist_entry(label: str, pattern: str):
    """(label, word regex, word anchors, abbreviation regex, abbreviation anchors); no anchors -> always run."""
    words, abbrs = _compile(pattern)
    w_anch = [_anchor(a) for a in _split_top(words.pattern)] if words else []
    a_anch = [_anchor(a) for a in _split_top(abbrs.pattern)] if abbrs else []
    return (label, words, None if "" in w_anch else tuple(w_anch),
            abbrs, None if "" in a_anch else tuple(a_anch))


_HIST_RE = [_hist_entry(canon, p) for canon, p in HISTOLOGY_KEYWORDS]


def _first_hit(text: str, lower: str) -> str | None:
    """The histology label matched earliest (ties: the table's earlier, more specific entry)."""
    best, best_pos = None, None
    for label, word_rx, word_anch, abbr_rx, abbr_anch in _HIST_RE:
        for rx, anchors, t in ((word_rx, word_anch, lower), (abbr_rx, abbr_anch, text)):
            if rx is None or (anchors is not None and not any(a in t for a in anchors)):
                continue
            m = rx.search(t, 0, best_pos + 200 if best_pos is not None else len(t))  # hits end < 200 chars on
            if m and (best_pos is None or m.start() < best_pos):
                best, best_pos = label, m.start()
    return best


@lru_cache(maxsize=4096)
def extract_histology(text: str) -> str | None:
    """The first histologic-type keyword of ``text`` (canonical name from ``HISTOLOGY_KEYWORDS``), or None."""
    return _first_hit(text, _lower(text))


# ============================================================================ tumour site and organ
_LAT = r"(right|left)"


def _site_rows():
    rows: list[tuple[str, str, str]] = []  # (canonical template, organ, regex); template may use {lat} etc.
    quad = r"(upper|lower)[ -](outer|inner) quadrant"
    abbr = r"(UOQ|UIQ|LOQ|LIQ)"
    rows += [("breast_q", "breast", rf"{_LAT} breast,? {quad}"),
             ("breast_q2", "breast", rf"{quad} of (?:the )?{_LAT} breast"),
             ("breast_a", "breast", rf"{_LAT} breast,? {abbr}\b"),
             ("breast_a2", "breast", rf"\b{abbr} of (?:the )?{_LAT} breast"),
             ("breast_c", "breast", rf"central (?:portion of (?:the )?)?{_LAT} breast|"
                                    rf"{_LAT} breast,? central(?: portion)?")]
    rows += [("lung", "lung", rf"{_LAT} (upper|middle|lower) lobe"),
             ("lung2", "lung", rf"{_LAT} lung,? (upper|middle|lower) lobe"),
             ("lung3", "lung", r"\b(RUL|RML|RLL|LUL|LLL)\b")]
    rows += [("prostate", "prostate", rf"{_LAT} peripheral zone"),
             ("prostate_b", "prostate", r"bilateral peripheral zones?"),
             ("prostate_t", "prostate", r"transition zone")]
    rows += [("fixed:rectosigmoid junction", "colorectal", r"rectosigmoid junction"),
             ("fixed:cecum", "colorectal", r"\bcecum\b|\bcecal\b|\bcaecum\b"),
             ("colon", "colorectal", r"(ascending|transverse|descending|sigmoid) colon"),
             ("colon2", "colorectal", r"colon,? (ascending|transverse|descending|sigmoid)\b"),
             ("fixed:rectum", "colorectal", r"\brectum\b")]
    rows += [("fixed:skin of upper back", "skin", r"skin of (?:the )?upper back|upper back skin|skin,? upper back"),
             ("fixed:skin of chest", "skin", r"skin of (?:the )?chest|chest wall skin|skin,? chest"),
             ("skin_limb", "skin", rf"(?:skin of (?:the )?|skin,? )?{_LAT} (upper arm|thigh)"),
             ("fixed:skin of scalp", "skin", r"skin of (?:the )?scalp|\bscalp\b")]
    rows += [("bladder", "bladder", r"(lateral|posterior) (?:bladder )?wall(?: of (?:the )?bladder)?"),
             ("bladder2", "bladder", r"bladder,? (lateral|posterior) wall"),
             ("bladder3", "bladder", r"(trigone|dome) of (?:the )?bladder|bladder,? (trigone|dome)|"
                                     r"bladder (trigone|dome)")]
    rows += [("kidney", "kidney", rf"{_LAT} kidney,? (upper pole|lower pole|interpolar region)"),
             ("kidney2", "kidney", rf"{_LAT} renal (upper pole|lower pole|interpolar region)"),
             ("kidney3", "kidney", rf"(upper pole|lower pole|interpolar region) of (?:the )?{_LAT} kidney")]
    rows += [("fixed:fundus uteri", "uterus", r"fundus uteri|uterine fundus|fundus of (?:the )?uterus"),
             ("fixed:isthmus uteri", "uterus", r"isthmus uteri|lower uterine segment"),
             ("fixed:endometrium", "uterus", r"\bendometrium\b")]
    rows += [("pancreas", "pancreas", r"(head|body|tail) of (?:the )?pancreas|pancreatic (head|body|tail)|"
                                      r"pancreas,? (head|body|tail)")]
    rows += [("thyroid", "thyroid", rf"{_LAT} lobe of (?:the )?thyroid|{_LAT} thyroid lobe|thyroid,? {_LAT} lobe"),
             ("fixed:isthmus of thyroid", "thyroid", r"isthmus of (?:the )?thyroid|thyroid,? isthmus")]
    rows += [("liver", "liver", r"(right|left|caudate) lobe of (?:the )?liver|(right|left) hepatic lobe|"
                                r"liver,? (right|left) lobe"),
             ("fixed:caudate lobe of liver", "liver", r"caudate lobe")]
    rows += [("fixed:bone marrow", "bone marrow", r"bone marrow")]
    nodes = r"(cervical|mediastinal|axillary|inguinal|retroperitoneal)"
    rows += [("nodes", "lymph node", rf"{nodes} lymph nodes?|lymph nodes?,? {nodes}")]
    rows += [("ovary", "ovary", rf"{_LAT} ovary|ovary,? {_LAT}"),
             ("fixed:bilateral ovaries", "ovary", r"bilateral ovaries|ovaries,? bilateral")]
    rows += [("fixed:gastric antrum", "stomach", r"gastric antrum|antrum of (?:the )?stomach|stomach,? antrum"),
             ("stomach", "stomach", r"(body|cardia|fundus|lesser curvature) of (?:the )?stomach|"
                                    r"gastric (body|cardia|fundus)|stomach,? (body|cardia|fundus|lesser curvature)")]
    rows += [("brain", "brain", rf"{_LAT} (frontal|temporal|parietal|occipital)(?: lobe)?")]
    rows += [("fixed:lateral border of tongue", "head and neck",
              r"lateral border of (?:the )?tongue|lateral tongue|tongue,? lateral border"),
             ("fixed:base of tongue", "head and neck", r"base of (?:the )?tongue|tongue base"),
             ("fixed:palatine tonsil", "head and neck", r"palatine tonsil|\btonsil\b"),
             ("fixed:glottic larynx", "head and neck", r"glottic larynx|\bglottis\b|vocal cord"),
             ("fixed:floor of mouth", "head and neck", r"floor of (?:the )?mouth|mouth,? floor")]
    return rows


#: (key, organ, regex) of the tumour-site table; `extract_site` turns a hit into the canonical phrase.
#: Patterns other than the "lung3" abbreviations are lower-case and run on the lower-cased text.
SITE_PATTERNS = [(k, organ, re.compile(p if k == "lung3" else p.lower())) for k, organ, p in _site_rows()]
#: organ -> literals one of which every site pattern of that organ contains (a cheap pre-filter)
_SITE_ANCHORS = {
    "breast": ("breast",), "lung": ("lobe",), "prostate": ("zone",),
    "colorectal": ("colon", "cec", "caec", "rectum", "rectosigmoid"), "skin": ("skin", "scalp", "arm", "thigh"),
    "bladder": ("bladder", "wall"), "kidney": ("kidney", "renal"), "uterus": ("uter", "endometrium"),
    "pancreas": ("pancrea",), "thyroid": ("thyroid",), "liver": ("liver", "hepatic", "caudate"),
    "bone marrow": ("marrow",), "lymph node": ("lymph",), "ovary": ("ovar",), "stomach": ("stomach", "gastric"),
    "brain": ("frontal", "temporal", "parietal", "occipital"),
    "head and neck": ("tongue", "tonsil", "glott", "vocal", "mouth"),
}
_LOBE_ABBRS = ("RUL", "RML", "RLL", "LUL", "LLL")


def _canon_site(key: str, m: re.Match) -> str:
    g = [x.lower() if x else x for x in m.groups()]
    pick = lambda *idx: next(g[i] for i in idx if g[i])  # noqa: E731
    if key.startswith("fixed:"):
        return key[6:]
    if key == "breast_q":
        return f"{g[1]}-{g[2]} quadrant of {g[0]} breast"
    if key == "breast_q2":
        return f"{g[0]}-{g[1]} quadrant of {g[2]} breast"
    if key in ("breast_a", "breast_a2"):
        lat, ab = (g[0], g[1]) if key == "breast_a" else (g[1], g[0])
        q = {"uoq": "upper-outer", "uiq": "upper-inner", "loq": "lower-outer", "liq": "lower-inner"}[ab]
        return f"{q} quadrant of {lat} breast"
    if key == "breast_c":
        return f"central portion of {pick(0, 1)} breast"
    if key in ("lung", "lung2"):
        return f"{g[0]} {g[1]} lobe"
    if key == "lung3":
        ab = m.group(1)
        return f"{'right' if ab[0] == 'R' else 'left'} {dict(U='upper', M='middle', L='lower')[ab[1]]} lobe"
    if key == "prostate":
        return f"{g[0]} peripheral zone of prostate"
    if key == "prostate_b":
        return "bilateral peripheral zones of prostate"
    if key == "prostate_t":
        return "transition zone of prostate"
    if key in ("colon", "colon2"):
        return f"{g[0]} colon"
    if key == "skin_limb":
        return f"skin of {g[0]} {g[1]}"
    if key in ("bladder", "bladder2"):
        return f"{g[0]} wall of bladder"
    if key == "bladder3":
        return f"{pick(0, 1, 2)} of bladder"
    if key in ("kidney", "kidney2"):
        return f"{g[1]} of {g[0]} kidney"
    if key == "kidney3":
        return f"{g[0]} of {g[1]} kidney"
    if key == "pancreas":
        return f"{pick(0, 1, 2)} of pancreas"
    if key == "thyroid":
        return f"{pick(0, 1, 2)} lobe of thyroid"
    if key == "liver":
        return f"{pick(0, 1, 2)} lobe of liver"
    if key == "nodes":
        return f"{pick(0, 1)} lymph nodes"
    if key == "ovary":
        return f"{pick(0, 1)} ovary"
    if key == "stomach":
        return f"{pick(0, 1, 2)} of stomach"
    if key == "brain":
        return f"{g[0]} {g[1]} lobe"
    raise KeyError(key)


@lru_cache(maxsize=4096)
def _site_hit(text: str) -> tuple[str, str] | None:
    """(canonical site, organ) of the earliest site-table hit (ties: the longer match), or None."""
    best = None
    lower = _lower(text)
    present = {organ for organ, anchors in _SITE_ANCHORS.items() if any(a in lower for a in anchors)}
    abbr_present = any(a in text for a in _LOBE_ABBRS)
    for key, organ, rx in SITE_PATTERNS:
        if not (abbr_present if key == "lung3" else organ in present):
            continue
        m = rx.search(text if key == "lung3" else lower)
        if m and (best is None or m.start() < best[0] or (m.start() == best[0] and m.end() > best[1])):
            best = (m.start(), m.end(), key, organ, m)
    if best is None:
        return None
    return _canon_site(best[2], best[4]), best[3]


def extract_site(text: str) -> str | None:
    """The first tumour-site phrase of ``text`` in canonical form ("upper-outer quadrant of right breast",
    "right upper lobe", "sigmoid colon", ...), or None (an organ alone is not a site)."""
    hit = _site_hit(text)
    return hit[0] if hit else None


#: organ -> regex (organ words and common procedure names); used as context for the label maps.
ORGAN_KEYWORDS: dict[str, str] = {
    "breast": r"breast|mammary|mastectomy|lumpectomy",
    "lung": r"\blung(?!s\s*:)|pulmonary|bronch|pneumonectomy",
    "prostate": r"prostat",
    "colorectal": r"\bcolon|colonic|rectum|rectal\b|cecum|sigmoid|large intestine|colectomy",
    "skin": r"\bskin\b(?!\s*:)|cutaneous",
    "eye": r"\beye\b|uvea|choroid|ciliary body|enucleation|ocular",
    "bladder": r"bladder|cystectomy",
    "kidney": r"kidney|renal|nephrectomy",
    "uterus": r"uterus|uterine|endometrium|endometrial|hysterectomy",
    "cervix": r"cervix|endocervi|ectocervi|cervical (?:carcinoma|cancer|biopsy|cone)",
    "pancreas": r"pancrea|whipple",
    "thyroid": r"thyroid",
    "liver": r"liver|hepat",
    "bone marrow": r"bone marrow|marrow",
    "ovary": r"ovar|oophorectomy",
    "stomach": r"stomach|gastric|gastrectomy",
    "esophagus": r"esophag|oesophag",
    "brain": r"\bbrain|cerebr|frontal lobe|temporal lobe|parietal lobe|occipital lobe",
    "head and neck": r"head and neck|tongue|tonsil|laryn|pharyn|oral cavity|mouth|palate|glottis|mandib|maxill",
    "adrenal": r"adrenal",
    "testis": r"testis|testic|orchiectomy|spermatic cord",
    "pleura": r"pleura",
    "bile duct": r"bile duct|biliary",
}
_ORGAN_RE = {k: re.compile(v.lower()) for k, v in ORGAN_KEYWORDS.items()}


@lru_cache(maxsize=4096)
def extract_organ(text: str) -> str | None:
    """The organ of the first site hit, else the most often named organ (ties: the first named).

    Review-of-systems and exam headers ("Skin: no rash", "Lungs: clear") are not organ mentions.
    """
    hit = _site_hit(text)
    if hit:
        return hit[1]
    lower = _lower(text)
    counts = {}
    for organ, rx in _ORGAN_RE.items():
        ms = list(rx.finditer(lower))
        if ms:
            counts[organ] = (len(ms), -ms[0].start())
    return max(counts, key=counts.get) if counts else None


# ============================================================================ biomarkers
#: The answer order of the marker pieces (breast ER, PR, HER2; lung EGFR, ALK, PD-L1; colon MSI, KRAS; ...).
MARKER_ORDER = ["ER", "PR", "HER2", "EGFR", "ALK", "PD-L1", "MSI", "KRAS", "BRAF", "IDH", "MGMT", "p16", "CD20"]
_MARKER_RE = [
    ("ER", re.compile(r"(?<![A-Za-z])ER(?![A-Za-z])|(?i:o?estrogen receptors?)")),
    ("PR", re.compile(r"(?<![A-Za-z])PR(?![A-Za-z])|(?i:progesterone receptors?)|(?<![A-Za-z])PgR(?![A-Za-z])")),
    ("HER2", re.compile(r"(?i:her-?2(?:\s*/\s*neu)?|erbb2)")),
    ("EGFR", re.compile(r"EGFR")),
    ("ALK", re.compile(r"(?<![A-Za-z])ALK(?![A-Za-z])")),
    ("PD-L1", re.compile(r"(?i:pd-?l1)")),
    ("MSI", re.compile(r"(?<![A-Za-z])MSI|(?i:microsatellite)")),
    ("MSS", re.compile(r"(?<![A-Za-z])MSS(?![A-Za-z])")),
    ("KRAS", re.compile(r"KRAS")),
    ("BRAF", re.compile(r"BRAF")),
    ("IDH", re.compile(r"IDH[12]?")),
    ("MGMT", re.compile(r"MGMT")),
    ("p16", re.compile(r"(?<![A-Za-z0-9])p16(?![0-9])")),
    ("CD20", re.compile(r"CD20(?![0-9])")),
]
_NEG = re.compile(r"neg|not amplified|non-?amplified|no (?:mutation|rearrangement|fusion)|not rearranged|not detected|"
                  r"wild[ -]?type|unmethylated|stable|\bMSS\b|absent|^\s*-\s*(?:$|[/,;.)\s])|^\s*\(-\)", re.I)
_POS = re.compile(r"pos|^\s*\+|^\s*\(\+\)|amplified|mutat|mutant|rearranged|fusion|detected|high|^\s*-H\b|methylated|"
                  r"express|present", re.I)
_PSA = re.compile(r"(?:\bPSA\b|(?i:prostate[- ]specific antigen))\s*(?:level\s*)?(?:of|:|=|was|is)?\s*(\d+(?:\.\d+)?)")


def extract_biomarkers(text: str) -> str | None:
    """Receptor / molecular status as "ER positive, PR positive, HER2 negative" (``MARKER_ORDER``), or
    "PSA 8.2 ng/mL" for a serum PSA value; None when no marker with a status is found.

    Each marker mention is read up to the next mention (at most 50 characters): negative wordings are
    tested first ("not amplified", "no mutation detected", "wild-type", "unmethylated", "MSS", "-neg"),
    then positive ones ("+", "positive", "amplified", "mutated", "rearranged", "MSI-high", "methylated").
    """
    hits = []
    for name, rx in _MARKER_RE:
        hits += [(m.start(), m.end(), name) for m in rx.finditer(text)]
    hits.sort()
    status: dict[str, str] = {}
    for i, (start, end, name) in enumerate(hits):
        if name == "MSS":
            status.setdefault("MSI", "negative")
            continue
        stop = min(end + 50, hits[i + 1][0] if i + 1 < len(hits) else len(text))
        window = text[end:stop]
        if _NEG.search(window):
            status.setdefault(name, "negative")
        elif _POS.search(window):
            status.setdefault(name, "positive")
    if status:
        return ", ".join(f"{k} {status[k]}" for k in MARKER_ORDER if k in status)
    if m := _PSA.search(text):
        return f"PSA {m[1]} ng/mL"
    return None


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


# ============================================================================ the rule baseline
_REMAP_FIELDS = ("t_stage", "n_stage", "m_stage", "grade")
_HISTORY_SENTENCE = re.compile(r"family history|history of|mother|father|sister|brother|remission|prior|remote", re.I)


def _current_text(text: str) -> str:
    """``text`` without sentences about family history or prior cancers (a NegEx-like history filter)."""
    parts = re.split(r"(?<=[.!?\n])\s+", text)
    return " ".join(p for p in parts if not _HISTORY_SENTENCE.search(p))


def _most_common(counter: Counter) -> str:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


class RuleBaseline:
    """Regular expressions and keyword tables over the note (see the module docstring).

    Used in notebooks/30_evaluation.ipynb. ``fit`` learns only label maps from the training gold:

    * the grade style ("grade 2" vs "G2", plus the gold's "High Grade" label when it has one);
    * histology keyword -> most common gold histologic type, given the organ, backing off to the keyword
      alone, then to the keyword's own canonical name;
    * detected (site, organ, histology) of the note -> most common diagnosis, backing off to site, then
      (organ, histology), organ, histology (sentences about family history or prior cancers are dropped);
    * for T/N/M and grade, a rule answer outside the training gold vocabulary (TCGA's gold has M0/M1 but
      the reports write "pMX"; it stops at G4 but a Gleason 4+5 gives 5) -> the most common gold among
      the training rows that got that answer. A rule that does not fire is never remapped.

    T falls back to the AJCC size cut-offs (``t_from_size``; ``t_from_size=False`` turns that off) and N
    to the involved lymph-node count. ``predict`` never reads the gold or the cancer type.
    """

    def __init__(self, t_from_size: bool = True):
        self.t_from_size = t_from_size
        self.grade_style = "grade"
        self.high_label: str | None = None
        self.low_label: str | None = None
        self.hist_map: dict[tuple, str] = {}
        self.dx_map: dict[tuple, str] = {}
        self.remap: dict[str, dict[str, str]] = {}

    # --------------------------------------------------------------- keys
    @staticmethod
    def _hist_keys(note: str) -> list[tuple]:
        hist = extract_histology(note)
        if hist is None:
            return []
        return [("ho", hist, extract_organ(note)), ("h", hist)]

    @staticmethod
    def _dx_keys(note: str) -> list[tuple]:
        cur = _current_text(note)
        site, organ, hist = extract_site(cur), extract_organ(cur), extract_histology(cur)
        keys = []
        if organ or hist or site:
            keys.append(("soh", site, organ, hist))
        if site:
            keys.append(("s", site))
        if organ or hist:
            keys.append(("oh", organ, hist))
        if organ:
            keys.append(("o", organ))
        if hist:
            keys.append(("h", hist))
        return keys

    # --------------------------------------------------------------- fit / predict
    def fit(self, train_df: pd.DataFrame) -> "RuleBaseline":
        grades = train_df.loc[train_df["field"] == "grade", "response"].astype(str)
        graded = grades[grades != NOT_MENTIONED]
        if len(graded):
            g_style = graded.str.fullmatch(r"G[1-4X]").mean()
            self.grade_style = "G" if g_style > 0.5 else "grade"
            self.high_label = next((v for v in graded.unique() if v.lower().startswith("high")), None)
            self.low_label = next((v for v in graded.unique() if v.lower().startswith("low")), None)
        hist_counts: dict[tuple, Counter] = {}
        dx_counts: dict[tuple, Counter] = {}
        rows = train_df[train_df["field"].isin(["histologic_type", "diagnosis"])]
        for fld, ctx, resp in tqdm(zip(rows["field"], rows["context"], rows["response"]), total=len(rows),
                                   desc="rule fit", leave=False):
            note = raw_note(ctx, fld)
            if fld == "histologic_type":
                if resp == NOT_MENTIONED:
                    continue
                for key in self._hist_keys(note):
                    hist_counts.setdefault(key, Counter())[resp] += 1
            else:
                for key in self._dx_keys(note):
                    dx_counts.setdefault(key, Counter())[resp] += 1
        self.hist_map = {k: _most_common(c) for k, c in hist_counts.items()}
        self.dx_map = {k: _most_common(c) for k, c in dx_counts.items()}
        # a rule answer outside the training gold vocabulary ("MX" when the gold says M0, "G5" when it stops
        # at G4) -> the most common gold among the training rows that got that answer
        self.remap = {}
        for fld in _REMAP_FIELDS:
            rows = train_df[train_df["field"] == fld]
            vocab = set(rows["response"].astype(str))
            counts: dict[str, Counter] = {}
            for ctx, gold in zip(rows["context"], rows["response"].astype(str)):
                out = self._predict_raw(fld, ctx)
                if out != NOT_MENTIONED and out not in vocab:
                    counts.setdefault(out, Counter())[gold] += 1
            self.remap[fld] = {o: _most_common(c) for o, c in counts.items()}
        return self

    def predict_one(self, field: str, context: str) -> str:
        """The answer string for one example (``NOT_MENTIONED`` when no rule fires)."""
        out = self._predict_raw(field, context)
        return self.remap.get(field, {}).get(out, out)

    def _predict_raw(self, field: str, context: str) -> str:
        note = raw_note(context, field)
        out = None
        if field in ("t_stage", "n_stage", "m_stage"):
            cat = field[0].upper()
            out = extract_tnm(note).get(cat)
            if out is None and cat == "N":
                out = _n_from_node_count(note)
            if out is None and cat == "T" and self.t_from_size:
                out = t_from_size(note)
        elif field == "grade":
            out = format_grade(extract_grade(note), self.grade_style, self.high_label, self.low_label)
        elif field == "tumor_size":
            out = extract_tumor_size(note)
        elif field == "histologic_type":
            keys = self._hist_keys(note)
            out = next((self.hist_map[k] for k in keys if k in self.hist_map), keys[-1][1] if keys else None)
        elif field == "tumor_site":
            out = extract_site(note)
        elif field == "biomarker_status":
            out = extract_biomarkers(note)
        elif field == "diagnosis":
            out = next((self.dx_map[k] for k in self._dx_keys(note) if k in self.dx_map), None)
        return out if out else NOT_MENTIONED

    def predict(self, test_df: pd.DataFrame) -> list[list[str]]:
        """One answer list per row of ``test_df`` (the response split on commas, like the reference)."""
        return [split_answers(self.predict_one(f, c)) or [NOT_MENTIONED]
                for f, c in tqdm(zip(test_df["field"], test_df["context"]), total=len(test_df),
                                 desc="rule predict", leave=False)]


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


# ============================================================================ TF-IDF + logistic regression
class TfidfBaseline:
    """TF-IDF (word 1-2-grams, sublinear tf) + logistic regression, one classifier per field.

    Used in notebooks/30_evaluation.ipynb. The class is the whole gold response string (``NOT_MENTIONED``
    included); a field with one training class predicts it. The vectoriser is fitted once on the distinct
    training notes (unsupervised, shared by the per-field classifiers, which is what keeps the fit fast);
    ``min_df`` falls back to 1 when the training set is too small for it. Deterministic for a seed.
    """

    def __init__(self, seed: int = 42, C: float = 3.0, class_weight: str | None = "balanced", min_df: int = 2,
                 max_features: int | None = 200_000, tol: float = 1e-3):
        self.seed, self.C, self.class_weight, self.min_df = seed, C, class_weight, min_df
        self.max_features, self.tol = max_features, tol
        self.vectorizer: TfidfVectorizer | None = None
        self.models: dict[str, LogisticRegression | str] = {}

    def _vectorizer(self, min_df: int) -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, max_features=self.max_features,
                               lowercase=True, dtype=np.float32)

    def fit(self, train_df: pd.DataFrame) -> "TfidfBaseline":
        notes = [raw_note(c, f) for f, c in zip(train_df["field"], train_df["context"])]
        uniq = list(dict.fromkeys(notes))
        try:
            self.vectorizer = self._vectorizer(self.min_df if len(uniq) >= 5 * self.min_df else 1)
            X_uniq = self.vectorizer.fit_transform(uniq)
        except ValueError:  # empty vocabulary after min_df pruning
            self.vectorizer = self._vectorizer(1)
            X_uniq = self.vectorizer.fit_transform(uniq)
        row_of = {t: i for i, t in enumerate(uniq)}
        idx = np.array([row_of[t] for t in notes])
        fields = train_df["field"].to_numpy()
        y_all = train_df["response"].astype(str).to_numpy()
        self.models = {}
        for fld in tqdm(list(dict.fromkeys(fields)), desc="tfidf fit", leave=False):
            mask = fields == fld
            y = y_all[mask]
            if len(set(y)) == 1:
                self.models[fld] = y[0]
                continue
            clf = LogisticRegression(C=self.C, max_iter=1000, tol=self.tol, class_weight=self.class_weight,
                                     random_state=self.seed)
            with warnings.catch_warnings():  # "more classes than half the samples" (tumour sizes): expected here
                warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
                clf.fit(X_uniq[idx[mask]], y)
            self.models[fld] = clf
        return self

    def predict_labels(self, test_df: pd.DataFrame) -> list[str]:
        """The predicted class (full response string) per row; an unseen field gets ``NOT_MENTIONED``."""
        if self.vectorizer is None:
            raise RuntimeError("TfidfBaseline.predict called before fit")
        notes = [raw_note(c, f) for f, c in zip(test_df["field"], test_df["context"])]
        uniq = list(dict.fromkeys(notes))
        X_uniq = self.vectorizer.transform(uniq)
        row_of = {t: i for i, t in enumerate(uniq)}
        idx = np.array([row_of[t] for t in notes], dtype=int)
        fields = test_df["field"].to_numpy()
        out = np.full(len(test_df), NOT_MENTIONED, dtype=object)
        for fld in dict.fromkeys(fields):
            mask = fields == fld
            model = self.models.get(fld)
            if model is None:
                continue
            out[mask] = model if isinstance(model, str) else model.predict(X_uniq[idx[mask]])
        return [str(x) for x in out]

    def predict(self, test_df: pd.DataFrame) -> list[list[str]]:
        """One answer list per row of ``test_df`` (the class string split on commas)."""
        return [split_answers(s) or [NOT_MENTIONED] for s in self.predict_labels(test_df)]


class MajorityBaseline:
    """The most common training response of each field, for every test row (ties: alphabetical).

    Used in notebooks/30_evaluation.ipynb as the floor of the class-level comparison.
    """

    def __init__(self):
        self.majority: dict[str, str] = {}

    def fit(self, train_df: pd.DataFrame) -> "MajorityBaseline":
        self.majority = {f: _most_common(Counter(g.astype(str))) for f, g in train_df.groupby("field")["response"]}
        return self

    def predict(self, test_df: pd.DataFrame) -> list[list[str]]:
        return [split_answers(self.majority.get(f, NOT_MENTIONED)) or [NOT_MENTIONED] for f in test_df["field"]]


# ============================================================================ scoring and running
def field_macro_f1(test_df: pd.DataFrame, preds: list[list[str]]) -> pd.DataFrame:
    """Class-level scores per field (exact match of the whole response, answers re-joined with ", "):
    columns n, n_classes (gold), accuracy and macro_f1 (scikit-learn, labels = gold union predicted), 0-1.

    Used in notebooks/30_evaluation.ipynb; comparable to published TCGA TF-IDF baselines.
    """
    if len(preds) != len(test_df):
        raise ValueError(f"size mismatch: {len(test_df)} rows and {len(preds)} predictions")
    gold = [", ".join(a) for a in test_df["answers"]] if "answers" in test_df else list(test_df["response"])
    pred = [", ".join(p) for p in preds]
    frame = pd.DataFrame({"field": test_df["field"].to_numpy(), "gold": gold, "pred": pred})
    rows = []
    for fld, g in frame.groupby("field", sort=False):
        rows.append({"field": fld, "n": len(g), "n_classes": g["gold"].nunique(),
                     "accuracy": float((g["gold"] == g["pred"]).mean()),
                     "macro_f1": float(f1_score(g["gold"], g["pred"], average="macro", zero_division=0))})
    return pd.DataFrame(rows, columns=["field", "n", "n_classes", "accuracy", "macro_f1"]).set_index("field")


def predict_all(train_df: pd.DataFrame, test_df: pd.DataFrame, seed: int) -> dict[str, list[list[str]]]:
    """Fit both baselines on ``train_df`` and predict ``test_df``: {"rule": ..., "tfidf_logreg": ...}.

    Used in notebooks/30_evaluation.ipynb.
    """
    return {
        "rule": RuleBaseline().fit(train_df).predict(test_df),
        "tfidf_logreg": TfidfBaseline(seed=seed).fit(train_df).predict(test_df),
    }
