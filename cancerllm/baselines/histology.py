"""Histologic type: the keyword table ``HISTOLOGY_KEYWORDS`` (canonical WHO-style name -> regex, most specific
first) and ``extract_histology``, the earliest keyword hit of a note. Each table pattern is compiled once into a
word regex (run on the lower-cased note) and an abbreviation regex (run case-sensitively), each with literal
anchors that let a note skip the patterns it cannot match.

Used in notebooks/30_evaluation.ipynb through ``RuleBaseline`` (histologic type and diagnosis).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .text import _lower

#: (canonical name, regex) - most specific first; matched case-insensitively unless the regex is an
#: all-capitals abbreviation (matched as written). Canonical names are standard WHO-style names.
HISTOLOGY_KEYWORDS: list[tuple[str, str]] = [
    ("clear cell renal cell carcinoma", (r"clear cell renal cell carcinoma|renal cell carcinoma,? (?:conventional )?"
                                         r"\(?clear cell|conventional \(?clear cell|\bccRCC\b")),
    ("papillary renal cell carcinoma", (r"papillary renal cell carcinoma|renal cell carcinoma,? papillary type|"
                                        r"\bpRCC\b")),
    ("chromophobe renal cell carcinoma", (r"chromophobe renal cell carcinoma|renal cell carcinoma,? chromophobe type|"
                                          r"\bchRCC\b|chromophobe")),
    ("invasive ductal carcinoma", (r"(?:invasive|infiltrating) ductal carcinoma|\bIDC\b|"
                                   r"invasive carcinoma of no special type")),
    ("invasive lobular carcinoma", r"(?:invasive|infiltrating) lobular carcinoma|\bILC\b"),
    ("ductal carcinoma", r"ductal carcinoma(?! in situ)|carcinoma with ductal features"),
    ("lobular carcinoma", r"lobular carcinoma(?! in situ)"),
    ("acinar adenocarcinoma", r"acinar adenocarcinoma|adenocarcinoma,? acinar type|prostatic adenocarcinoma"),
    ("ductal adenocarcinoma", (r"pancreatic ductal adenocarcinoma|ductal adenocarcinoma|adenocarcinoma,? ductal type|"
                               r"\bPDAC\b")),
    ("intestinal-type adenocarcinoma", r"intestinal[ -]type adenocarcinoma|adenocarcinoma,? intestinal type"),
    ("diffuse-type adenocarcinoma", r"diffuse[ -]type adenocarcinoma|adenocarcinoma,? diffuse type"),
    ("signet ring cell carcinoma", r"signet[ -]ring cell carcinoma"),
    ("mucinous adenocarcinoma", r"mucinous adenocarcinoma"),
    ("endometrioid adenocarcinoma", r"endometrioid adenocarcinoma"),
    ("endometrioid carcinoma", r"endometrioid carcinoma"),
    ("mucinous carcinoma", r"mucinous carcinoma|colloid carcinoma"),
    ("serous carcinoma", (r"(?:high[ -]grade |low[ -]grade |uterine )?serous (?:papillary )?"
                          r"(?:carcinoma|adenocarcinoma)")),
    ("clear cell carcinoma", r"clear cell carcinoma"),
    ("papillary thyroid carcinoma", (r"papillary thyroid carcinoma|papillary carcinoma of (?:the )?thyroid|\bPTC\b|"
                                     r"papillary carcinoma")),
    ("follicular thyroid carcinoma", r"follicular thyroid carcinoma|follicular carcinoma|\bFTC\b"),
    ("medullary thyroid carcinoma", r"medullary thyroid carcinoma|medullary carcinoma|\bMTC\b"),
    ("hepatocellular carcinoma", r"hepatocellular carcinoma|\bHCC\b"),
    ("intrahepatic cholangiocarcinoma", (r"intrahepatic cholangiocarcinoma|cholangiocarcinoma,? intrahepatic|"
                                         r"cholangiocarcinoma")),
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
