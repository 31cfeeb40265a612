"""Receptor and molecular marker status: ``extract_biomarkers`` reads each marker mention (``MARKER_ORDER``: ER,
PR, HER2, EGFR, ALK, PD-L1, MSI, KRAS, ...) up to the next mention for a negative, then a positive wording, and
falls back to a serum PSA value.

Used in notebooks/30_evaluation.ipynb through ``RuleBaseline``.
"""

from __future__ import annotations

import re

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
