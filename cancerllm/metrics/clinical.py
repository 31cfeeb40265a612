"""Clinical normalisation: ``clinical_normalize`` maps clinically equivalent spellings to one form before the
reference procedure, for the labelled clinical_* metrics (``metrics.reference`` registers them). The paper's
scorer has no such step.

Used in notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import re
from decimal import Decimal
from collections.abc import Callable

# ---------------------------------------------------------------- clinical normalisation
_NOT_MENTIONED = re.compile(
    r"^(?:not (?:mentioned|stated|reported|specified|documented|available|provided|given|found|"
    r"known|applicable|relevant)|unknown|n ?a|none mentioned|no information)"
    r"(?: in the (?:given )?(?:text|context|report|note))?$")
_MARKERS = r"er|pr|her2|egfr|alk|ros1|pdl1|ki67"
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}
_TNM_PART = r"(?:yp|yc|rp|p|c|y|r)?([tnm](?:x|is|\d)(?:mi|[a-d]\d?)?)"
_NUM = r"\d+(?:\.\d+)?|\.\d+"
# (pattern, replacement) applied in order to lowercased text; every entry is idempotent.
_CLINICAL_RULES: list[tuple[str, str | Callable]] = [
    (r"×", "x"),
    (r"\bo?estrogen receptors?\b", "er"),
    (r"\b(?:progesterone receptors?|pgr)\b", "pr"),
    (r"\b(?:her-?2 ?/ ?neu|her-?2neu|her-2|her 2|erbb2)\b", "her2"),
    (r"\bpd-l1\b", "pdl1"),
    (r"\bki-67\b", "ki67"),
    (rf"\b({_MARKERS})\s*(?:\(\+\)|\+ve\b|\+)", r"\1 positive"),
    (rf"\b({_MARKERS})\s*(?:\(-\)|-ve\b|-(?![a-z0-9]))", r"\1 negative"),
    (r"(?<=[a-z])-(?=[a-z0-9])|(?<=[0-9])-(?=[a-z])", " "),  # ER-positive -> er positive
    (r"\bpos\b", "positive"),
    (r"\bneg\b", "negative"),
    (r"\bidc\b", "invasive ductal carcinoma"),
    (r"\bilc\b", "invasive lobular carcinoma"),
    (r"\bdcis\b", "ductal carcinoma in situ"),
    (r"\blcis\b", "lobular carcinoma in situ"),
    (r"\bscc\b", "squamous cell carcinoma"),
    (r"\brcc\b", "renal cell carcinoma"),
    (r"\bhcc\b", "hepatocellular carcinoma"),
    (r"\b(?:nsclc|non small cell lung carcinoma)\b", "non small cell lung cancer"),
    (r"\b(?:sclc|(?<!non )small cell lung carcinoma)\b", "small cell lung cancer"),
    (r"\badeno ?ca\b", "adenocarcinoma"),
    (r"\bwell differentiated\b", "grade 1"),
    (r"\bmoderately differentiated\b", "grade 2"),
    (r"\bpoorly differentiated\b", "grade 3"),
    (r"\bundifferentiated\b", "grade 4"),
    (r"\bg([1-4])\b", r"grade \1"),
    (r"\bgrade\s*(iv|iii|ii|i|[1-4])\b", lambda m: "grade " + _ROMAN.get(m[1], m[1])),
    (r"\bstage\s*(iv|iii|ii|i)([a-c]?)\b", lambda m: f"stage {_ROMAN[m[1]]}{m[2]}"),
    (rf"\b(?:{_TNM_PART})+\b", lambda m: " ".join(re.findall(_TNM_PART, m[0]))),
    ((rf"(?<![\w.-])((?:{_NUM})(?:\s*(?:[x*-]|to)\s*(?:{_NUM}))*)\s*"
     r"(mm|millimet(?:er|re)s?|cm|centimet(?:er|re)s?)\b"), lambda m: _to_mm(m[1], m[2])),
    (r"(?<![\d.])(\d*\.\d+)(?!\d)", lambda m: _fmt_num(Decimal(m[1]))),
    (r"\s*%|\bper ?cent\b", " percent"),
    (r"[/,;:()\[\]]", " "),
]
_CLINICAL_RULES_RE = [(re.compile(p), r) for p, r in _CLINICAL_RULES]


def _to_mm(chain: str, unit: str) -> str:
    """"2.5 x 1 " + "cm" -> "25 x 10 mm"; "2-3" + "cm" -> "20 to 30 mm"."""
    parts = re.split(r"\s*([x*-]|to)\s*", chain.strip())
    scale = 10 if unit.startswith("c") else 1
    out = [_fmt_num(Decimal(t) * scale) if i % 2 == 0 else ("x" if t in "x*" else "to")
           for i, t in enumerate(parts)]
    return " ".join(out) + " mm"


def _fmt_num(d: Decimal) -> str:
    """Canonical number: 25.0 -> "25", 12.50 -> "12point5" (a "." would be deleted later)."""
    s = format(d.normalize(), "f")
    return s.replace(".", "point") if "." in s else s


def clinical_normalize(s: str) -> str:
    """Map clinically equivalent spellings to one form (the paper's scorer has no such step).

    Lowercases, then applies ``_CLINICAL_RULES`` in order: receptor names and +/- signs
    ("ER+" == "ER positive" == "estrogen receptor pos"), letter hyphens to spaces, abbreviations
    expanded (IDC, ILC, DCIS, LCIS, SCC, RCC, HCC, NSCLC, SCLC, adenoca), grades to "grade N"
    ("G2" == "grade II" == "moderately differentiated"), roman stages to arabic, TNM prefixes
    p/c/y/yp/yc/r/rp dropped with sub-stages kept ("ypT2N0" -> "t2 n0", "pN1a" -> "n1a"),
    lengths to millimetres ("2.5cm" == "25 mm" -> "25 mm", "2.5 x 1 cm" -> "25 x 10 mm"),
    decimals made punctuation-proof ("2.5" -> "2point5", so unlike the reference "2.5" != "25"),
    "%" -> "percent", separators to spaces. A whole answer meaning "no answer" ("not stated",
    "not reported", "N/A", "unknown", ...) becomes "not mentioned". Idempotent.
    """
    s = " ".join(s.lower().split())
    if _NOT_MENTIONED.match(" ".join(re.sub(r"[^\w\s]", " ", s).split())):
        return "not mentioned"
    for pattern, repl in _CLINICAL_RULES_RE:
        s = pattern.sub(repl, s)
    return " ".join(s.split())
