"""Robustness testbeds: do the systems still answer when the note is noisy or reworded, and do they read the note
at all? The CancerLLM paper reports robustness testbeds (misspellings and similar perturbations) but did not publish
them, so **the design here is ours**. Used in notebooks/40_robustness.ipynb.

Every perturbation edits only the note *body* inside an instruction's ``context`` ("In the text: <body> <question>"
for phenotype rows, the body itself for diagnosis rows); the instruction, the question and the gold answers stay as
they are (except in the counterfactual, which changes the expected answer on purpose). ``context`` and ``prompt``
are rebuilt exactly as ``instructions.build_instructions`` builds them.

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
* ``counterfactual`` - the stated value of one field (T, N, grade, size, histologic type, site laterality) is
  replaced by another valid value at EVERY place the note states it (all surface forms: "pT2" and "pT2N1M0";
  "grade 2", "G2", "moderately differentiated", "Gleason 3+4=7", "Nottingham score 7/9"; "2.5 cm" and "25 mm"),
  and the expected answer becomes the new value. A model that answers the new value reads the note
  (evidence-following); one that answers the old label answers from what it learned is typical (prior-following).
  Other statements are left alone, so the note can become inconsistent (a T stage that no longer fits the size).

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
from pathlib import Path

import pandas as pd

from . import evaluation, inference, instructions, pipeline, stats
from .data.schema import NOT_MENTIONED
from .instructions import QUESTIONS, TASKS, TEMPLATE
from .metrics import reference_prf

__all__ = ["stable_seed", "n_to_edit", "split_context", "join_context", "misspell", "ocr_confuse", "abbreviate",
           "counterfactual", "counterfactual_set", "build_testbed", "testbed_table", "predict_testbed", "sweep_table",
           "counterfactual_outcomes", "counterfactual_rates", "counterfactual_by_field", "sweep_wide",
           "abbreviation_table", "robustness_summary", "example_or_notice", "save_results", "OCR_CONFUSIONS",
           "ABBREVIATIONS", "CF_FIELDS", "CONDITIONS", "SWEEP_METRICS", "QWERTY_NEIGHBOURS"]

CONDITIONS = ["misspelling", "ocr", "abbrev_contract", "abbrev_expand", "counterfactual"]
CF_FIELDS = ["t_stage", "n_stage", "grade", "tumor_size", "histologic_type", "tumor_site"]
#: metrics of the sweep in the notebook: the headline, exact match, and both in the clinical variant
SWEEP_METRICS = [evaluation.HEADLINE, "exact_match", f"clinical_{evaluation.HEADLINE}", "clinical_exact_match"]
CF_MATCH_METRIC = "clinical_exact_match"  # "2.5 cm" == "25 mm", "G2" == "grade 2", but "2.5" != "25"
_PREFIX = "In the text: "


def stable_seed(*parts) -> int:
    """A 64-bit seed from any parts, identical in every process (unlike the salted ``hash()``)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


# ============================================================================ context <-> body
def split_context(context: str, field: str) -> tuple[str, str]:
    """(body, question) of an instruction context; ``join_context`` undoes it exactly for built rows."""
    s = str(context)
    question = QUESTIONS.get(field, "")
    if question and s.startswith(_PREFIX) and s.endswith(" " + question):
        return s[len(_PREFIX):-len(question) - 1], question
    if question:  # hand-made or edited context: be lenient about the prefix and trailing spaces
        body = s[len(_PREFIX):] if s.startswith(_PREFIX) else s
        body = body.rstrip()
        return (body[:-len(question)].rstrip(), question) if body.endswith(question) else (body, question)
    return s, ""


def join_context(body: str, question: str) -> str:
    return f"{_PREFIX}{body} {question}" if question else body


def _with_body(row: dict, body: str) -> dict:
    _, question = split_context(row["context"], row["field"])
    context = join_context(body, question)
    return {**row, "context": context, "prompt": TEMPLATE.format(instruction=row["instruction"], context=context)}


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
    return int(math.floor(rate * eligible + 0.5 + 1e-9))


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
        alts.append((len(exp if direction == "contract" else abbr), f"(?P<a{i}>{left}{body}(?![\w]))"))
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


# ============================================================================ counterfactual edits
class _Skip(Exception):
    """A row the counterfactual cannot edit; the message is the reason counted in the coverage table."""


_NOT_FOUND = "gold value not found in the note"
_TNM = re.compile(r"(yp|yc|[pcyr])?([TNM])(is|[0-4]|[Xx]|O)((?:mi|[a-d])\d?)?")
_CHAIN_NEXT = set("TNMpcy")
_NODES = re.compile(r"(\d+) involved of (\d+) examined")  # the synthetic synoptic node-count line
_N_NODES = {0: 0, 1: 2, 2: 5, 3: 12}


def _tnm_edit(body: str, cat: str, old: str, new: str) -> tuple[str, int]:
    """Replace every T (or N) component equal to ``old`` ("2"), alone or inside "pT2N1aM0", by ``new`` (the
    prefix is kept, the sub-stage dropped). Same word-boundary rules as ``baselines.extract_tnm``."""
    out, last, n, last_end = [], 0, 0, -2
    for m in _TNM.finditer(body):
        chained = m.start() == last_end
        if not chained and m.start() > 0 and body[m.start() - 1].isalnum():
            continue
        nxt = body[m.end():m.end() + 1]
        if nxt and nxt.isalnum() and nxt not in _CHAIN_NEXT:
            continue
        val = m[3]
        if val == "O" and (m[2] == "T" or not (chained or m[1])):
            continue
        last_end = m.end()
        if m[2] == cat and ("0" if val == "O" else val) == old:
            out += [body[last:m.start()], (m[1] or "") + cat + new]
            last, n = m.end(), n + 1
    return "".join(out) + body[last:], n


def _cf_tnm(body, gold, rng, cat):
    m = re.fullmatch(rf"{cat}([0-4])", gold)
    if not m:
        raise _Skip("gold form not editable")
    old = m[1]
    new = rng.choice([v for v in ("1234" if cat == "T" else "0123") if v != old])
    body, n = _tnm_edit(body, cat, old, new)
    if not n:
        raise _Skip(_NOT_FOUND)
    if cat == "N":  # keep the synthetic node count consistent with the new N
        def nodes(m):
            k = _N_NODES[int(new)]
            return f"{k} involved of {max(int(m[2]), k + 3)} examined"
        body, k = _NODES.subn(nodes, body)
        n += k
    return body, f"{cat}{new}", n


_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}
_ROMAN_INV = {v: k for k, v in _ROMAN.items()}
_DIFF = {1: "well", 2: "moderately", 3: "poorly", 4: "un"}
_GLEASON_GG = {1: (3, 3), 2: (3, 4), 3: (4, 3), 4: (4, 4), 5: (4, 5)}
_NOTTINGHAM = {1: 5, 2: 7, 3: 8}


def _grade_group(a: int, b: int) -> int:
    s = a + b
    return 1 if s <= 6 else (2 if a == 3 else 3) if s == 7 else 4 if s == 8 else 5


def _cf_grade(body, gold, rng):
    m = re.fullmatch(r"(grade |G)([1-5])", gold, flags=re.I)
    if not m:
        raise _Skip("gold form not editable")
    g = int(m[2])
    gleason = re.search(r"gleason|grade group", body, re.I) is not None
    new = rng.choice([v for v in range(1, (5 if gleason else max(3, g)) + 1) if v != g])
    a, b = _GLEASON_GG[new]
    n = 0

    def edit(fn):  # count only the matches that encode the old grade (and so get rewritten)
        def wrapped(x):
            nonlocal n
            rep = fn(x)
            n += rep != x[0]
            return rep
        return wrapped

    def grade_word(x):  # "grade 2", "grade II", "Grade Group 2", "FIGO grade 2 of 3"
        v = x[2]
        if (int(v) if v.isdigit() else _ROMAN_INV.get(v.upper())) != g:
            return x[0]
        return x[1] + (str(new) if v.isdigit() else _ROMAN[new] if v.isupper() else _ROMAN[new].lower())

    def diff(x):  # "moderately differentiated" (grade 4 and above: "undifferentiated")
        if _DIFF.get(g) != x[1].lower():
            return x[0]
        word = _DIFF.get(new, "un")
        word = word.capitalize() if x[1][0].isupper() else word
        return f"{word}differentiated" if word.lower() == "un" else f"{word}{x[2] or ' '}differentiated"

    rules = [
        (r"(gleason(?:\s+score)?\s*:?\s*)([3-5])\s*\+\s*([3-5])\s*=\s*\d+",  # "Gleason score 3+4=7"
         lambda x: f"{x[1]}{a}+{b}={a + b}" if _grade_group(int(x[2]), int(x[3])) == g else x[0]),
        (r"(gleason\s+score\s+)(\d+)\s*\(\s*([3-5])\s*\+\s*([3-5])\s*\)",  # "Gleason score 7 (3+4)"
         lambda x: f"{x[1]}{a + b} ({a}+{b})" if _grade_group(int(x[3]), int(x[4])) == g else x[0]),
        (r"(\bscore\s*:?\s*)([3-9])\s*/\s*9",  # "Nottingham score 7/9", "(score 7/9)"
         lambda x: f"{x[1]}{_NOTTINGHAM.get(new, 9)}/9" if _nottingham_grade(int(x[2])) == g else x[0]),
        (r"(\bgrade(?:\s+group)?\s*:?\s*)(iv|iii|ii|i|v|[1-5])\b", grade_word),
        (r"(?-i:\bG([1-5])\b)", lambda x: f"G{new}" if int(x[1]) == g else x[0]),
        (r"\b(well|moderately|poorly|un)([\s-]*)differentiated", diff),
    ]
    for pattern, fn in rules:
        body = re.sub(pattern, edit(fn), body, flags=re.I)
    if not n:
        raise _Skip(_NOT_FOUND)
    return body, gold[:m.start(2)] + str(new), n


def _nottingham_grade(score: int) -> int:
    return 1 if score <= 5 else 2 if score <= 7 else 3


_SIZE_CHAIN = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?(?:\s*[x×X]\s*\d+(?:\.\d+)?){0,2})\s*(cm|mm)\b", re.I)


def _cf_size(body, gold, rng):
    m = re.fullmatch(r"(\d+(?:\.\d+)?) cm", gold)
    if not m:
        raise _Skip("gold form not editable")
    old = float(m[1])
    new = round(old + rng.choice([x / 10 for x in range(10, 31)]), 1)  # 1.0-3.0 cm larger: stays the largest
    n = 0

    def chain(cm):
        scale = 10.0 if cm[2].lower() == "mm" else 1.0

        def num(x):
            nonlocal n
            if abs(float(x[0]) - old * scale) > 1e-6:
                return x[0]
            n += 1
            dec = len(x[0].split(".")[1]) if "." in x[0] else 0
            return f"{new * scale:.{dec}f}"

        return re.sub(r"\d+(?:\.\d+)?", num, cm[1]) + cm[0][len(cm[1]):]

    body = _SIZE_CHAIN.sub(chain, body)
    if not n:
        raise _Skip(_NOT_FOUND)
    return body, f"{new:.1f} cm", n


def _forms(value: str, cancer_type: str) -> list[str]:
    """Surface forms of a histologic type: the synthetic table's synonyms when it knows the value, else itself."""
    from .data.synthetic import CANCER_TABLE

    for h in CANCER_TABLE.get(cancer_type, {}).get("hists", []):
        if h["canon"] == value:
            return list(h["forms"])
    return [value]


def _form_regex(form: str) -> str:
    flags = "" if form.isupper() or re.search(r"[a-z][A-Z]", form) else "(?i)"  # "IDC", "ccRCC" as written
    return rf"{flags and '(?i:'}(?<![\w-]){re.escape(form)}(?![\w-]){flags and ')'}"


def _cf_histology(body, gold, rng, cancer_type, alternatives):
    from .data.synthetic import CANCER_TABLE

    table = [h["canon"] for h in CANCER_TABLE.get(cancer_type, {}).get("hists", [])]
    options = [v for v in (table if gold in table else alternatives) if v != gold]
    if not options:
        raise _Skip("no other value for this cancer type")
    new = rng.choice(sorted(options))
    old_forms, new_forms = _forms(gold, cancer_type), _forms(new, cancer_type)
    order = sorted(range(len(old_forms)), key=lambda i: -len(old_forms[i]))  # longest form first
    pattern = "|".join(f"(?P<f{i}>{_form_regex(old_forms[i])})" for i in order)

    def repl(m):
        i = int(m.lastgroup[1:])
        rep = new_forms[i] if i < len(new_forms) else new
        return rep[0].upper() + rep[1:] if m[0][0].isupper() and not m[0].isupper() else rep

    body, n = re.subn(pattern, repl, body)
    if not n:
        raise _Skip(_NOT_FOUND)
    return body, new, n


_SIDE = {"left": "right", "right": "left"}


def _cf_site(body, gold, rng):
    sides = re.findall(r"\b(left|right)\b", gold)
    if len(sides) != 1:
        raise _Skip("gold has no laterality")
    if "middle lobe" in gold:
        raise _Skip("no contralateral counterpart")
    old, other = sides[0], _SIDE[sides[0]]

    def repl(m):
        w = m[0]
        return other.upper() if w.isupper() else other.capitalize() if w[0].isupper() else other

    body, n = re.subn(rf"\b{old}\b", repl, body, flags=re.I)
    o, t = old[0].upper(), other[0].upper()
    body, k = re.subn(rf"\b{o}([UL])L\b", lambda m: f"{t}{m[1]}L", body)  # RUL -> LUL
    if not n + k:
        raise _Skip(_NOT_FOUND)
    return body, re.sub(rf"\b{old}\b", other, gold), n + k


def counterfactual(row, rng: random.Random, alternatives=None) -> tuple[dict | None, str]:
    """Counterfactual copy of one phenotype row: (new row, "edited") or (None, reason for skipping).

    The new row has the edited context/prompt, ``answers`` = [new value] (also ``response``/``completion``),
    ``original_answers`` = the old gold and ``n_edits`` = places changed. ``alternatives``: other gold values of
    the field for the same cancer type (histologic types the synthetic table does not know, e.g. TCGA's)."""
    row = dict(row)
    fld, gold = row["field"], list(row["answers"])
    if row["task"] != "phenotype_extraction" or fld not in CF_FIELDS:
        return None, "field not edited"
    if [g.lower() for g in gold] == [NOT_MENTIONED] or not gold:
        return None, "gold is 'not mentioned'"
    if len(gold) != 1:
        return None, "gold has several answers"
    body, _ = split_context(row["context"], fld)
    try:
        if fld in ("t_stage", "n_stage"):
            new_body, new, n = _cf_tnm(body, gold[0], rng, fld[0].upper())
        elif fld == "grade":
            new_body, new, n = _cf_grade(body, gold[0], rng)
        elif fld == "tumor_size":
            new_body, new, n = _cf_size(body, gold[0], rng)
        elif fld == "histologic_type":
            new_body, new, n = _cf_histology(body, gold[0], rng, row["cancer_type"], alternatives or [])
        else:
            new_body, new, n = _cf_site(body, gold[0], rng)
    except _Skip as exc:
        return None, str(exc)
    if new_body == body:
        return None, _NOT_FOUND
    out = _with_body(row, new_body)
    out.update(answers=[new], response=new, completion=new, original_answers=gold, n_edits=n)
    return out, "edited"


def counterfactual_set(test_df: pd.DataFrame, max_instances: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counterfactual rows built from EVERY eligible test row (``CF_FIELDS``), then capped at ``max_instances``
    (balanced across fields), and the coverage table: rows per field and outcome (edited or why skipped).

    Drawing from the whole test set rather than the capped sample of the other conditions keeps ~n rows
    (the capped sample has only n x 6/9 rows of these fields, fewer after skips)."""
    alts = (test_df[test_df["field"].isin(CF_FIELDS)]
            .assign(value=lambda d: d["answers"].map(lambda a: ", ".join(a)))
            .groupby(["field", "cancer_type"])["value"].agg(lambda v: sorted(set(v) - {NOT_MENTIONED})).to_dict())
    made, reasons = [], []
    ph = test_df[(test_df["task"] == "phenotype_extraction") & test_df["field"].isin(CF_FIELDS)]
    for row in ph.sort_values("id").to_dict("records"):
        rng = random.Random(stable_seed(seed, row["id"], "counterfactual"))
        new, why = counterfactual(row, rng, alts.get((row["field"], row["cancer_type"])))
        reasons.append({"field": row["field"], "outcome": why})
        if new is not None:
            made.append(new)
    reasons = pd.DataFrame(reasons, columns=["field", "outcome"])
    coverage = pd.crosstab(reasons["field"], reasons["outcome"])
    rows = pd.DataFrame(made)
    if not rows.empty:
        rows = instructions.cap_examples(rows, max_instances, seed)
    return rows, coverage


# ============================================================================ the testbed
def _perturb_block(base: pd.DataFrame, condition: str, rate: float, seed: int) -> pd.DataFrame:
    rows = []
    for row in base.to_dict("records"):
        body, _ = split_context(row["context"], row["field"])
        s = stable_seed(seed, row["id"], condition)
        if condition == "misspelling":
            new, n = _misspell(body, rate, s)
        elif condition == "ocr":
            new, n = _ocr(body, rate, s)
        else:
            new, n = abbreviate(body, condition.removeprefix("abbrev_"))
        rows.append({**_with_body(row, new), "n_edits": n})
    return pd.DataFrame(rows).assign(condition=condition, rate=float(rate))


def build_testbed(test_df: pd.DataFrame, rates, ocr: bool, max_instances: int, seed: int) -> pd.DataFrame:
    """Every condition in one DataFrame (predict it in one batched call per model).

    Columns: condition, rate, source_id, the instruction columns (context/prompt perturbed), original_answers
    (the gold before any edit; differs from ``answers`` only for counterfactual rows), n_edits. The same capped
    instances (``instructions.cap_examples``) in the same order for every noise/abbreviation condition;
    misspelling at rate 0 is the clean baseline (added when ``rates`` lacks 0); ids are "<id>|<condition>|<rate>".
    """
    base = instructions.cap_examples(test_df, max_instances, seed)
    rates = sorted({0.0, *map(float, rates)})
    blocks = [_perturb_block(base, "misspelling", r, seed) for r in rates]
    blocks += [_perturb_block(base, "ocr", r, seed) for r in rates] if ocr else []
    blocks += [_perturb_block(base, c, 0.0, seed) for c in ("abbrev_contract", "abbrev_expand")]
    for b in blocks:
        b["original_answers"] = b["answers"]
    cf, _ = counterfactual_set(test_df, max_instances, seed)
    if not cf.empty:
        blocks.append(cf.assign(condition="counterfactual", rate=0.0))
    bed = pd.concat(blocks, ignore_index=True)
    bed["source_id"] = bed["id"]
    bed["id"] = [f"{i}|{c}|{r:g}" for i, c, r in zip(bed["source_id"], bed["condition"], bed["rate"])]
    front = ["id", "condition", "rate", "source_id"]
    return bed[front + [c for c in bed.columns if c not in front]]


def testbed_table(testbed: pd.DataFrame) -> pd.DataFrame:
    """Per condition and rate: instances, share whose prompt differs from the clean one, mean edits per instance."""
    clean = testbed[(testbed["condition"] == "misspelling") & (testbed["rate"] == 0)].set_index("source_id")["prompt"]
    changed = testbed["prompt"].to_numpy() != testbed["source_id"].map(clean).to_numpy()
    g = testbed.assign(changed=changed).groupby(["condition", "rate"], sort=False)
    return pd.DataFrame({"instances": g.size(), "% changed": (100 * g["changed"].mean()).round(1),
                         "edits per instance": g["n_edits"].mean().round(1)})


def predict_testbed(cfg, testbed: pd.DataFrame, train_df: pd.DataFrame, zero_shot: bool = False) -> dict:
    """Answers of every system on every testbed row. Each distinct prompt is predicted once (rate 0 of OCR and
    unchanged abbreviation rows repeat the clean prompt) and each model is loaded once.

    The untuned base (zero-shot) is left out unless ``zero_shot``: it scores ~0 on clean notes, so it has no
    accuracy to lose, and it always generates ``max_new_tokens`` (the slowest system)."""
    uniq = testbed.drop_duplicates("prompt").reset_index(drop=True)
    if zero_shot:
        preds = evaluation.predict_models(cfg, uniq)
    else:
        preds = {}
        for name in cfg.ablation_models:
            model, tokenizer = pipeline.load_tuned(cfg, name)
            _, preds[name] = inference.predict(model, tokenizer, uniq, cfg.max_new_tokens, cfg.eval_batch_size,
                                               desc=name)
            del model
    preds.update(evaluation.predict_baselines(train_df, uniq, cfg.seed))
    pos = {p: i for i, p in enumerate(uniq["prompt"])}
    where = [pos[p] for p in testbed["prompt"]]
    return {s: [list(p[i]) for i in where] for s, p in preds.items()}


# ============================================================================ scoring
def sweep_table(testbed: pd.DataFrame, preds: dict, n_boot: int, seed: int, metric_names=None) -> pd.DataFrame:
    """Tidy scores per (condition, rate): condition, rate, task, system, metric, precision, recall, f1,
    f1_ci_low, f1_ci_high, n (x100; ``evaluation.score``). Counterfactual rows are excluded (their expected
    answers are edited; see ``counterfactual_rates``). The same bootstrap seed for every condition, over the
    same instances in the same order, so the resamples are paired across conditions."""
    frames = []
    testbed = testbed.reset_index(drop=True)  # predictions are aligned by position
    for (cond, rate), grp in testbed[testbed["condition"] != "counterfactual"].groupby(["condition", "rate"],
                                                                                        sort=False):
        idx = grp.index.to_numpy()
        sub = {s: [p[i] for i in idx] for s, p in preds.items()}
        sc = evaluation.score(grp.reset_index(drop=True), sub, n_boot, seed, metric_names)
        frames.append(sc.assign(condition=cond, rate=float(rate)))
    cols = ["condition", "rate", "task", "system", "metric", "precision", "recall", "f1", "f1_ci_low", "f1_ci_high",
            "n"]
    return pd.concat(frames, ignore_index=True)[cols]


def _same(gold, pred) -> bool:
    return reference_prf(list(gold), list(pred), CF_MATCH_METRIC)[2] == 1.0


def counterfactual_outcomes(testbed: pd.DataFrame, preds: dict) -> pd.DataFrame:
    """One row per (counterfactual instance, system): field, outcome ("evidence" = the edited value, "prior" =
    the original label, "other"), matched after the clinical normalisation (``CF_MATCH_METRIC``)."""
    testbed = testbed.reset_index(drop=True)  # predictions are aligned by position
    cf = testbed[testbed["condition"] == "counterfactual"]
    rows = []
    for system, p in preds.items():
        for i, r in zip(cf.index, cf.itertuples()):
            outcome = "evidence" if _same(r.answers, p[i]) else "prior" if _same(r.original_answers, p[i]) else "other"
            rows.append({"system": system, "field": r.field, "source_id": r.source_id, "outcome": outcome})
    return pd.DataFrame(rows, columns=["system", "field", "source_id", "outcome"])


_OUTCOMES = {"evidence": "evidence_following", "prior": "prior_following", "other": "other"}


def counterfactual_rates(testbed: pd.DataFrame, preds: dict, n_boot: int, seed: int) -> pd.DataFrame:
    """Per system: % evidence-following, % prior-following, % other, each with a 95% percentile-bootstrap CI
    (``stats.bootstrap_ci`` over instances), and n. Empty when the testbed has no counterfactual rows."""
    out = counterfactual_outcomes(testbed, preds)
    rows = []
    for system, grp in out.groupby("system", sort=False):
        row = {"system": system}
        for key, name in _OUTCOMES.items():
            mean, low, high = stats.bootstrap_ci((grp["outcome"] == key).to_numpy(float), n_boot, seed)
            row.update({name: 100 * mean, f"{name}_ci_low": 100 * low, f"{name}_ci_high": 100 * high})
        rows.append({**row, "n": len(grp)})
    cols = ["system"] + [f"{n}{x}" for n in _OUTCOMES.values() for x in ("", "_ci_low", "_ci_high")] + ["n"]
    return pd.DataFrame(rows, columns=cols)


def counterfactual_by_field(testbed: pd.DataFrame, preds: dict) -> pd.DataFrame:
    """% evidence-following per field (rows) and system (columns), with the number of instances per field."""
    out = counterfactual_outcomes(testbed, preds).assign(ev=lambda d: 100.0 * (d["outcome"] == "evidence"))
    if out.empty:
        return pd.DataFrame(columns=[*preds, "n"]).rename_axis("field")
    tab = out.pivot_table(index="field", columns="system", values="ev", aggfunc="mean", sort=False).round(1)
    return tab.assign(n=out[out["system"] == out["system"].iloc[0]].groupby("field").size())


def _f1(sweep, metric):
    return sweep[sweep["metric"] == metric]


def sweep_wide(sweep: pd.DataFrame, task: str, metric: str = evaluation.HEADLINE) -> pd.DataFrame:
    """F1 (x100) per system (columns) and (condition, rate) (rows) for one task."""
    sub = _f1(sweep, metric)
    sub = sub[sub["task"] == task]
    return sub.pivot_table(index=["condition", "rate"], columns="system", values="f1", sort=False).round(1)


def abbreviation_table(sweep: pd.DataFrame, metric: str = evaluation.HEADLINE) -> pd.DataFrame:
    """Per task and system: F1 on clean notes, with abbreviations contracted and expanded, and the changes."""
    sub = _f1(sweep, metric)
    key = {"clean": (sub["condition"] == "misspelling") & (sub["rate"] == 0),
           "contracted": sub["condition"] == "abbrev_contract", "expanded": sub["condition"] == "abbrev_expand"}
    cols = {k: sub[m].set_index(["task", "system"])["f1"] for k, m in key.items()}
    tab = pd.DataFrame(cols)
    tab["Δ contracted"] = tab["contracted"] - tab["clean"]
    tab["Δ expanded"] = tab["expanded"] - tab["clean"]
    return tab.round(1)


def _noise_lines(sweep, metric, condition, label) -> list[str]:
    sub = _f1(sweep, metric)
    sub = sub[sub["condition"] == condition]
    if sub.empty:
        return []
    top = sub["rate"].max()
    lines = []
    for task in TASKS:
        t = sub[sub["task"] == task]
        if t.empty:
            continue
        parts, drops = [], {}
        for system, g in t.groupby("system", sort=False):
            a, b = g[g["rate"] == 0].iloc[0], g[g["rate"] == top].iloc[0]
            drops[system] = a.f1 - b.f1
            overlap = b.f1_ci_high >= a.f1_ci_low and a.f1_ci_high >= b.f1_ci_low
            parts.append(f"`{system}` {a.f1:.1f} → {b.f1:.1f} ({b.f1 - a.f1:+.1f}; 95% CI at {top:.0%}: "
                         f"{b.f1_ci_low:.1f}–{b.f1_ci_high:.1f}{', overlaps the clean CI' if overlap else ''})")
        worst, best = max(drops, key=drops.get), min(drops, key=drops.get)
        lines.append(f"- **{task.replace('_', ' ')}**, clean → {top:.0%} of words {label}: " + "; ".join(parts) +
                     f". Largest drop: `{worst}` ({-drops[worst]:+.1f} points); most stable: `{best}` "
                     f"({-drops[best]:+.1f} points).")
    return lines


def robustness_summary(sweep: pd.DataFrame, cf: pd.DataFrame, metric: str = evaluation.HEADLINE,
                       part: str = "all") -> str:
    """Markdown with this run's numbers, for a clinical reader. ``part``: "noise", "abbreviations",
    "counterfactual" or "all"."""
    out = []
    if part in ("noise", "all"):
        lines = _noise_lines(sweep, metric, "misspelling", "misspelled") + _noise_lines(sweep, metric, "ocr",
                                                                                         "OCR-confused")
        out.append("**Typing and scanning noise** (F1 ×100, clean → highest rate):\n\n" + "\n".join(lines) +
                   "\n\nA drop whose interval still overlaps the clean interval is within what this test set can "
                   "resolve; a system that keeps its F1 under noise can be used on hurriedly typed or scanned notes "
                   "with less worry than one whose F1 collapses.")
    if part in ("abbreviations", "all"):
        tab = abbreviation_table(sweep, metric)
        lines = [f"- `{system}` ({task.replace('_', ' ')}): clean {r['clean']:.1f}, contracted {r['contracted']:.1f} "
                 f"({r['Δ contracted']:+.1f}), expanded {r['expanded']:.1f} ({r['Δ expanded']:+.1f})"
                 for (task, system), r in tab.iterrows()]
        out.append("**Abbreviations** (F1 ×100):\n\n" + "\n".join(lines) + "\n\nA system that loses F1 when terms "
                   "are contracted depends on the spelled-out wording of its training notes; notes from services "
                   "that abbreviate heavily would be read worse.")
    if part in ("counterfactual", "all") and not cf.empty:
        lines = [f"- `{r.system}`: reported the edited value in {r.evidence_following:.0f}% "
                 f"(95% CI {r.evidence_following_ci_low:.0f}–{r.evidence_following_ci_high:.0f}%), the original "
                 f"label in {r.prior_following:.0f}% "
                 f"({r.prior_following_ci_low:.0f}–{r.prior_following_ci_high:.0f}%)"
                 f", something else in {r.other:.0f}% (n = {r.n})." for r in cf.itertuples()]
        best = cf.loc[cf["evidence_following"].idxmax()]
        lost = [f"`{s}`" for s in cf.loc[cf["other"] >= 50, "system"]]
        lost_txt = (f" {', '.join(lost)} gave neither value in at least half of the cases: on these questions "
                    "their answers do not track the note at all." if lost else "")
        out.append("**Counterfactual notes** (one stated value changed everywhere in the note):\n\n" +
                   "\n".join(lines) + f"\n\nThe system that most often reported what the edited note says was "
                   f"`{best.system}` ({best.evidence_following:.0f}%). Answers that repeat the original label come "
                   "from what a system learned is typical, not from the note in front of it: on a real patient "
                   "whose value is unusual, that system would report the usual value instead." + lost_txt)
    return "\n\n".join(out)


def example_or_notice(testbed: pd.DataFrame, is_real: bool, show: bool, chars: int = 500):
    """One misspelled note excerpt at the highest rate (synthetic data only; never real note text)."""
    from IPython.display import Markdown

    if is_real:
        return Markdown("*No example is shown: this run uses real patient text.*")
    sub = testbed[testbed["condition"] == "misspelling"]
    if not show or sub.empty:
        return Markdown("*Examples switched off (`show_examples: false`).*")
    top = sub[sub["rate"] == sub["rate"].max()].iloc[0]
    body, _ = split_context(top["context"], top["field"])
    return Markdown(f"Synthetic note, {top['rate']:.0%} of eligible words misspelled (first {chars} characters):"
                    f"\n\n```text\n{body[:chars]}\n```")


def save_results(out: Path, testbed: pd.DataFrame, sweep: pd.DataFrame, cf: pd.DataFrame,
                 coverage: pd.DataFrame, metric: str = evaluation.HEADLINE) -> None:
    """sweep.csv (the tidy table), counterfactual.csv and metrics.json in the stage directory."""
    from .provenance import write_json

    out = Path(out)
    sweep.to_csv(out / "sweep.csv", index=False)
    cf.to_csv(out / "counterfactual.csv", index=False)
    f1: dict = {}
    for r in _f1(sweep, metric).itertuples():
        f1.setdefault(r.condition, {}).setdefault(f"{r.rate:g}", {}).setdefault(r.task, {})[r.system] = {
            "f1": round(r.f1, 4), "ci_low": round(r.f1_ci_low, 4), "ci_high": round(r.f1_ci_high, 4), "n": int(r.n)}
    n = testbed.groupby("condition", sort=False)["source_id"].nunique().to_dict()
    write_json(out / "metrics.json", {
        "metric": metric, "n_instances": {k: int(v) for k, v in n.items()},
        "rates": sorted(float(r) for r in testbed["rate"][testbed["condition"] == "misspelling"].unique()),
        "f1": f1, "counterfactual": {r["system"]: {k: (round(v, 4) if isinstance(v, float) else v)
                                                   for k, v in r.items() if k != "system"}
                                     for r in cf.to_dict("records")},
        "counterfactual_coverage": {f: {k: int(v) for k, v in row.items()} for f, row in coverage.iterrows()},
    })
