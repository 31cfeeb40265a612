"""Counterfactual notes: does a system read the note at all? Used in notebooks/40_robustness.ipynb.

The stated value of one field (T, N, grade, size, histologic type, site laterality) is replaced by another valid
value at EVERY place the note states it (all surface forms: "pT2" and "pT2N1M0"; "grade 2", "G2", "moderately
differentiated", "Gleason 3+4=7", "Nottingham score 7/9"; "2.5 cm" and "25 mm"), and the expected answer becomes
the new value. A model that answers the new value reads the note (evidence-following); one that answers the old
label answers from what it learned is typical (prior-following). Other statements are left alone, so the note
can become inconsistent (a T stage that no longer fits the size). Each row's choices are seeded by
``stable_seed(seed, row id, "counterfactual")``.
"""

from __future__ import annotations

import random
import re

import pandas as pd

from ..data.schema import NOT_MENTIONED
from ..instructions import cap_examples, split_input
from ..perturb import stable_seed, with_body

CF_FIELDS = ["t_stage", "n_stage", "grade", "tumor_size", "histologic_type", "tumor_site"]


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
    from ..data.vocabulary import CANCER_TABLE

    for h in CANCER_TABLE.get(cancer_type, {}).get("hists", []):
        if h["canon"] == value:
            return list(h["forms"])
    return [value]


def _form_regex(form: str) -> str:
    flags = "" if form.isupper() or re.search(r"[a-z][A-Z]", form) else "(?i)"  # "IDC", "ccRCC" as written
    return rf"{flags and '(?i:'}(?<![\w-]){re.escape(form)}(?![\w-]){flags and ')'}"


def _cf_histology(body, gold, rng, cancer_type, alternatives):
    from ..data.vocabulary import CANCER_TABLE

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
    body, _ = split_input(row["context"], fld)
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
    out = with_body(row, new_body)
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
        rows = cap_examples(rows, max_instances, seed)
    return rows, coverage
