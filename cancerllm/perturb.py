"""Perturbations of a note body: typing errors, OCR confusions and abbreviation changes, and the step that
applies one to every instance's input (``perturb_bodies``, shared by the testbeds and notebooks/60_retrieval).
Used in notebooks/40_robustness.ipynb.

* ``misspell`` - typing errors: on round(rate x eligible) words (rounded half up; eligible = runs of >= 3 ASCII
  letters not touching a digit, so "2.5 cm", "pT2N1M0", "HER2", "ER" and punctuation are never edited and the
  test measures *reading* under noise, not destroyed values) ONE edit each: insert a QWERTY-adjacent key next to a
  letter, delete a letter, substitute a QWERTY-adjacent key, or swap two adjacent (different) letters.
* ``ocr_confuse`` - OCR confusions (``OCR_CONFUSIONS``: l<->1, O<->0, rn<->m, I<->l, S<->5, cl<->d, e<->c) on
  round(rate x eligible) whitespace tokens, one confusion each; a token is eligible when it holds at least one
  confusable site. Digits are fair game here (a scanner does turn "0" into "O").
* ``abbreviate`` - ``ABBREVIATIONS`` contracted ("invasive ductal carcinoma" -> "IDC") or expanded (the reverse).
  TNM codes are *not* expanded: "pT2N1aM0" has no spelled-out form a pathologist writes, and the gold answer is
  the code itself, so "pathologic T2" would change the asked-for token rather than an abbreviation around it.

Determinism: every random choice comes from ``random.Random(stable_seed(seed, row id, condition))``, a SHA-256 of
the parts (Python's ``hash()`` is salted per process). The rate is deliberately *not* part of the seed: the words
edited at rate 0.1 are a subset of those edited at 0.3, with the same edits, so the curves compare nested noise
levels on the same instances. ``nlpaug`` is not used: it is not installed and some augmenters download models.
"""

from __future__ import annotations

import hashlib
import math
import random
import re

import pandas as pd

from .instructions import join_input, render, split_input


def stable_seed(*parts) -> int:
    """A 64-bit seed from any parts, identical in every process (unlike the salted ``hash()``)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def with_body(row: dict, body: str) -> dict:
    """``row`` with its note body replaced: ``context`` and ``prompt`` rebuilt as ``build_instructions`` builds
    them (instruction, question and answers unchanged)."""
    _, question = split_input(row["context"], row["field"])
    context = join_input(body, question)
    return {**row, "context": context, "prompt": render(row["instruction"], context, row.get("style", "alpaca"))}


# ============================================================================ noise
_QWERTY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_POS = {ch: (r, c) for r, row in enumerate(_QWERTY_ROWS) for c, ch in enumerate(row)}
#: keys touching each letter on a staggered QWERTY keyboard (same row, the row above at c and c+1, below at c-1, c)
QWERTY_NEIGHBOURS = {ch: "".join(_QWERTY_ROWS[i][j] for i, j in ((r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1),
                                                                (r + 1, c - 1), (r + 1, c))
                                 if 0 <= i < 3 and 0 <= j < len(_QWERTY_ROWS[i]))
                     for ch, (r, c) in _POS.items()}
_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z0-9])")
#: (source, replacement) confusions of OCR engines; each is also listed in the other direction.
OCR_CONFUSIONS = [("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("l", "1"), ("1", "l"), ("O", "0"), ("0", "O"),
                  ("I", "l"), ("l", "I"), ("S", "5"), ("5", "S"), ("e", "c"), ("c", "e")]
_TOKEN = re.compile(r"\S+")


def n_to_edit(rate: float, eligible: int) -> int:
    """round(rate x eligible), half up (Python's round() would round 0.5 to 0)."""
    return math.floor(rate * eligible + 0.5 + 1e-9)


def _case_like(ch: str, like: str) -> str:
    return ch.upper() if like.isupper() else ch


def _typo(word: str, rng: random.Random) -> str:
    pairs = [i for i in range(len(word) - 1) if word[i].lower() != word[i + 1].lower()]
    op = rng.choice(["insert", "delete", "substitute"] + (["transpose"] if pairs else []))
    if op == "transpose":
        i = rng.choice(pairs)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    i = rng.randrange(len(word))
    if op == "delete":
        return word[:i] + word[i + 1:]
    key = _case_like(rng.choice(QWERTY_NEIGHBOURS[word[i].lower()]), word[i])
    return word[:i] + key + word[i + 1:] if op == "substitute" else word[:i + 1] + key + word[i + 1:]


def _ocr_sites(token: str) -> list[tuple[int, str, str]]:
    return [(m.start(), src, dst) for src, dst in OCR_CONFUSIONS for m in re.finditer(re.escape(src), token)]


def _confuse(token: str, rng: random.Random) -> str:
    i, src, dst = rng.choice(_ocr_sites(token))
    return token[:i] + dst + token[i + len(src):]


def _edit_spans(text: str, spans: list[tuple[int, int]], rate: float, seed: int, edit, tag: str) -> tuple[str, int]:
    """Edit the first round(rate x len(spans)) spans of a seeded permutation (nested across rates)."""
    k = n_to_edit(rate, len(spans))
    if k == 0:
        return text, 0
    chosen = sorted(random.Random(stable_seed(seed, tag)).sample(range(len(spans)), len(spans))[:k])
    out, last = [], 0
    for j in chosen:
        a, b = spans[j]
        out += [text[last:a], edit(text[a:b], random.Random(stable_seed(seed, tag, j)))]
        last = b
    return "".join(out) + text[last:], k


def misspell(text: str, rate: float, seed: int) -> str:
    """Typing errors on a ``rate`` share of the words of >= 3 letters (see the module docstring)."""
    return _misspell(text, rate, seed)[0]


def _misspell(text, rate, seed):
    return _edit_spans(text, [m.span() for m in _WORD.finditer(text)], rate, seed, _typo, "misspell")


def ocr_confuse(text: str, rate: float, seed: int) -> str:
    """OCR confusions (``OCR_CONFUSIONS``) on a ``rate`` share of the tokens that have a confusable site."""
    return _ocr(text, rate, seed)[0]


def _ocr(text, rate, seed):
    spans = [m.span() for m in _TOKEN.finditer(text) if _ocr_sites(m.group())]
    return _edit_spans(text, spans, rate, seed, _confuse, "ocr")


# ============================================================================ abbreviations
#: (abbreviation, expansion). Expansions match case-insensitively, with spaces and hyphens interchangeable;
#: abbreviations match as written. Contraction maps an expansion to the FIRST abbreviation listed for it.
ABBREVIATIONS = [
    ("ccRCC", "clear cell renal cell carcinoma"), ("RCC", "renal cell carcinoma"),
    ("IDC", "invasive ductal carcinoma"), ("ILC", "invasive lobular carcinoma"),
    ("DCIS", "ductal carcinoma in situ"), ("LCIS", "lobular carcinoma in situ"),
    ("SCC", "squamous cell carcinoma"), ("NSCLC", "non-small cell lung cancer"), ("SCLC", "small cell lung cancer"),
    ("HCC", "hepatocellular carcinoma"), ("PDAC", "pancreatic ductal adenocarcinoma"),
    ("DLBCL", "diffuse large B-cell lymphoma"), ("TCC", "transitional cell carcinoma"),
    ("LVI", "lymphovascular invasion"), ("PNI", "perineural invasion"),
    ("ER", "estrogen receptor"), ("PR", "progesterone receptor"), ("HER2", "human epidermal growth factor receptor 2"),
    ("PSA", "prostate-specific antigen"), ("MSI", "microsatellite instability"),
    ("LNs", "lymph nodes"), ("LN", "lymph node"),
    ("RUL", "right upper lobe"), ("RML", "right middle lobe"), ("RLL", "right lower lobe"),
    ("LUL", "left upper lobe"), ("LLL", "left lower lobe"),
    ("UOQ", "upper-outer quadrant"), ("UIQ", "upper-inner quadrant"), ("LOQ", "lower-outer quadrant"),
    ("LIQ", "lower-inner quadrant"),
    ("CT", "computed tomography"), ("MRI", "magnetic resonance imaging"),
    ("PMH", "past medical history"), ("HPI", "history of present illness"), ("ROS", "review of systems"),
    ("cm", "centimeters"), ("mm", "millimeters"),
]
_UNITS = {"cm", "mm"}  # only after a number: "2.5 cm" <-> "2.5 centimeters"


def _expansion_regex(exp: str) -> str:
    words = [re.escape(w) for w in re.split(r"[ -]", exp)]
    return r"[\s-]".join(words)


def _abbrev_regex(direction: str) -> re.Pattern:
    first = {}
    for abbr, exp in ABBREVIATIONS:
        first.setdefault(exp, abbr)
    alts = []
    for i, (abbr, exp) in enumerate(ABBREVIATIONS):
        if direction == "contract" and first[exp] != abbr:
            continue
        if direction == "expand":
            body = re.escape(abbr)
        elif abbr in _UNITS:
            body = f"(?i:{re.escape(exp[:-1])}s?)"  # "centimeter" or "centimeters"
        else:
            body = f"(?i:{_expansion_regex(exp)})"
        left = r"(?:(?<=\d)|(?<=\d\s))" if abbr in _UNITS else r"(?<![\w-])"  # units only after a number
        alts.append((len(exp if direction == "contract" else abbr), rf"(?P<a{i}>{left}{body}(?![\w]))"))
    alts.sort(key=lambda t: -t[0])  # longest first: "clear cell renal cell carcinoma" before "renal cell carcinoma"
    return re.compile("|".join(a for _, a in alts))


_ABBREV_RE = {d: _abbrev_regex(d) for d in ("contract", "expand")}


def _sentence_start(text: str, i: int) -> bool:
    j = i
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    if j > 0 and text[j - 1] == "-" and (j == 1 or text[j - 2] == "\n"):  # "- IDC" bullet
        j -= 1
    return j == 0 or text[j - 1] in "\n.!?"


def abbreviate(text: str, direction: str) -> tuple[str, int]:
    """Contract (expansion -> abbreviation) or expand (abbreviation -> expansion) every ``ABBREVIATIONS`` entry
    in ``text``; returns (text, substitutions). An expansion at a sentence or line start is capitalised, so
    expand(contract(s)) == s for sentences written with the listed expansions (in lower or sentence case)."""
    if direction not in _ABBREV_RE:
        raise ValueError(f"direction must be 'contract' or 'expand', got {direction!r}")

    def repl(m: re.Match) -> str:
        abbr, exp = ABBREVIATIONS[int(m.lastgroup[1:])]
        if direction == "contract":
            return abbr
        return exp[0].upper() + exp[1:] if _sentence_start(m.string, m.start()) else exp

    return _ABBREV_RE[direction].subn(repl, text)


# ============================================================================ applied to instances
_PERTURBATIONS = {
    "misspelling": _misspell,
    "ocr": _ocr,
    "abbrev_contract": lambda text, rate, seed: abbreviate(text, "contract"),
    "abbrev_expand": lambda text, rate, seed: abbreviate(text, "expand"),
}


def perturb_bodies(df: pd.DataFrame, condition: str, rate: float, seed: int) -> tuple[list[str], list[int]]:
    """The note body of each row's input (``instructions.split_input``) with ``condition`` ("misspelling", "ocr",
    "abbrev_contract" or "abbrev_expand"; the last two ignore ``rate``) applied, each row seeded by
    ``stable_seed(seed, row id, condition)``; returns (bodies, edits per row)."""
    if condition not in _PERTURBATIONS:
        raise ValueError(f"unknown perturbation {condition!r}; choose from {sorted(_PERTURBATIONS)}")
    bodies, edits = [], []
    for rid, context, field in zip(df["id"], df["context"], df["field"]):
        body, n = _PERTURBATIONS[condition](split_input(context, field)[0], rate, stable_seed(seed, rid, condition))
        bodies.append(body), edits.append(n)
    return bodies, edits
