"""The CancerLLM reference scorer, reproduced exactly, plus a labelled "clinical" variant.

Used in notebooks/30_evaluation.ipynb.

Provenance. Re-written (not copied) from the public sources: ToneLi/CancerLLM
``Evaluation/2_evaluation_of_three_evualtion.py``, ``generation_metric.py``, ``eval_util.py`` and
``eval_metric/rouge/rouge.py`` (commit d7f78322); AllenAI openpi-dataset ``eval/porter.py`` and
``eval/test_simple_eval.py``; tylin/coco-caption ``pycocoevalcap/bleu/bleu_scorer.py``. CancerLLM's
``eval_metric/bleu/bleu.py`` is stored only as ``.pyc``; OpenPI's tests (BLEU of identical strings
== 1.0) show that wrapper returns percentages, so ``score[1]/100`` is cumulative BLEU-2 on 0-1.

Per instance (``f1_emnlp2020``), in this order:
  1. a prediction list of exactly one item whose ``.lower().strip()`` starts with
     "there will be no change" becomes [] (done by ``evaluate()`` before the F1 call);
  2. gold [] & pred [] -> (1, 1, 1); gold [] & pred non-empty -> (0, 1, 0); pred [] -> (1, 0, 0);
  3. predictions are de-duplicated as raw strings (the reference uses ``set``; we keep first
     occurrence order, which changes nothing but the float summation order);
  4. only ``gold[0]`` gets ``.replace(" .", "")`` (so "2 .5" -> "25"); the caller's list is not
     mutated here (the reference mutates it in place, which is idempotent after normalisation);
  5. P = mean over predictions of max over gold of match(g, p); R = mean over gold of max over
     predictions; F1 = 2PR/(P+R), or (0, 0, 0) when P+R == 0.
match(g, p): both strings go through ``normalize_nostem`` (strip, lowercase, delete every
``string.punctuation`` char -- "2.5" == "25" --, collapse whitespace; the stop-word set is {""}, so
nothing else is dropped). Emptiness is tested AFTER that: both empty -> 1, one empty -> 0 (so "."
vs "!" scores 1). Then ``normalize_and_stem`` (the same normalisation, whitespace tokens, NLTK
PorterStemmer in NLTK_EXTENSIONS mode; tokens of <= 2 chars are returned unchanged by the stemmer
itself) and the metric, with gold as reference and prediction as candidate:
  * exact_match: stemmed strings equal ("ER-positive" -> "erposit").
  * bleu2: coco-caption BLEU with option 'closest' on one reference; cumulative BLEU-2 =
    sqrt(p1*p2)*BP, p_k = (correct_k + 1e-15)/(guess_k + 1e-9), BP = exp(1 - 1/ratio) when
    ratio = (testlen + 1e-15)/(reflen + 1e-9) < 1. A one-token exact match scores ~0.001, and
    even a longer exact match falls ~1e-9 short of 1 (ratio is just below 1).
  * rouge_l_reference: what the shipped ``ROUGEMetric`` runs, class ``Rouge1``: token SETS split
    on " ", P = |C&R|/|C|, R = |C&R|/|R|, F = (1+b^2)PR/(R+b^2 P), beta = 1.2. Not ROUGE-L.
  * rouge_l: coco-caption's real LCS ROUGE-L (same F-beta, beta = 1.2), present but unused there.
Corpus scores are macro averages x100 of per-instance P, R and F1 (mean of F1s, not F1 of means).

clinical_* metrics run ``clinical_normalize`` on every string before the same reference procedure.
"""

from __future__ import annotations

import json
import math
import re
import string
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from collections.abc import Callable

import pandas as pd
from nltk.stem.porter import PorterStemmer

from .errors import DataError

_PUNCT = str.maketrans("", "", string.punctuation)
_PORTER = PorterStemmer(mode=PorterStemmer.NLTK_EXTENSIONS)
_BETA = 1.2
_SMALL, _TINY = 1e-9, 1e-15  # coco-caption bleu_scorer: small = 1e-9, tiny = 1e-15


def normalize_nostem(s: str) -> str:
    """Strip, lowercase, delete ``string.punctuation``, collapse whitespace (reference order)."""
    return " ".join(s.strip().lower().translate(_PUNCT).split())


@lru_cache(maxsize=200_000)
def _stem(token: str) -> str:
    return _PORTER.stem(token.lower()).strip()  # nltk returns tokens of <= 2 chars unchanged


@lru_cache(maxsize=200_000)
def normalize_and_stem(s: str) -> str:
    """``normalize_nostem`` then Porter-stem each whitespace token (empty stems dropped)."""
    return " ".join(t for t in (_stem(w) for w in normalize_nostem(s).split()) if t)


def _exact(ref: str, cand: str) -> float:
    return 1.0 if ref == cand else 0.0


def _fbeta(prec: float, rec: float) -> float:
    if prec != 0 and rec != 0:
        return ((1 + _BETA ** 2) * prec * rec) / float(rec + _BETA ** 2 * prec)
    return 0.0


def _bleu2(ref: str, cand: str) -> float:
    """Cumulative BLEU-2 of one candidate against one reference (coco-caption BleuScorer)."""
    r, c = ref.split(), cand.split()
    bleu = 1.0
    for k in (1, 2):
        ref_counts: dict[tuple, int] = {}
        for i in range(len(r) - k + 1):
            ref_counts[tuple(r[i:i + k])] = ref_counts.get(tuple(r[i:i + k]), 0) + 1
        cand_counts: dict[tuple, int] = {}
        for i in range(len(c) - k + 1):
            cand_counts[tuple(c[i:i + k])] = cand_counts.get(tuple(c[i:i + k]), 0) + 1
        correct = sum(min(n, ref_counts.get(g, 0)) for g, n in cand_counts.items())
        guess = max(0, len(c) - k + 1)
        bleu *= float(correct + _TINY) / (guess + _SMALL)
    score = bleu ** (1.0 / 2)
    ratio = (len(c) + _TINY) / (len(r) + _SMALL)  # 'closest' with a single reference
    if ratio < 1:
        score *= math.exp(1 - 1 / ratio)
    return score


def _rouge_set(ref: str, cand: str) -> float:
    """The shipped ``Rouge1``: unigram-set F-beta (beta 1.2); x100 then /100 like the reference."""
    tc, tr = set(cand.split(" ")), set(ref.split(" "))
    overlap = len(tc & tr)
    return 100 * _fbeta(overlap / float(len(tc)), overlap / float(len(tr))) / 100.0


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _rouge_lcs(ref: str, cand: str) -> float:
    """coco-caption ROUGE-L (LCS F-beta, beta 1.2); x100 then /100 like the reference."""
    tc, tr = cand.split(" "), ref.split(" ")
    lcs = _lcs(tr, tc)
    return 100 * _fbeta(lcs / float(len(tc)), lcs / float(len(tr))) / 100.0


def _reference_match(core: Callable[[str, str], float]) -> Callable[[str, str], float]:
    def match(gold: str, pred: str) -> float:
        g, p = normalize_nostem(gold), normalize_nostem(pred)  # get_content_from_predicted_effect
        if not g and not p:
            return 1.0
        if not g or not p:
            return 0.0
        return core(normalize_and_stem(g), normalize_and_stem(p))
    return match


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


# ---------------------------------------------------------------- registry and scoring
_BASE = {"exact_match": _exact, "bleu2": _bleu2, "rouge_l_reference": _rouge_set, "rouge_l": _rouge_lcs}
REFERENCE_METRICS = ["exact_match", "bleu2", "rouge_l_reference", "rouge_l"]
CLINICAL_METRICS = ["clinical_" + name for name in REFERENCE_METRICS]
# name -> (string pre-normaliser or None, reference match function)
_SPECS: dict[str, tuple[Callable[[str], str] | None, Callable[[str, str], float]]] = {}
for _name in REFERENCE_METRICS:
    _SPECS[_name] = (None, _reference_match(_BASE[_name]))
for _name in REFERENCE_METRICS:
    _SPECS["clinical_" + _name] = (clinical_normalize, _SPECS[_name][1])


def _registry_fn(pre, match):
    return match if pre is None else (lambda gold, pred: match(pre(gold), pre(pred)))


METRICS: dict[str, Callable[[str, str], float]] = {n: _registry_fn(*spec) for n, spec in _SPECS.items()}


def _spec(metric: str):
    if metric not in _SPECS:
        raise ValueError(f"unknown metric {metric!r}; valid names: {', '.join(METRICS)}")
    return _SPECS[metric]


def reference_prf(gold: list[str], pred: list[str], metric: str) -> tuple[float, float, float]:
    """Per-instance (precision, recall, F1) on a 0-1 scale, exactly as ``f1_emnlp2020``."""
    pre, match = _spec(metric)
    if isinstance(gold, str) or isinstance(pred, str):
        raise TypeError("gold and pred must be lists of strings, not str")
    gold, pred = list(gold), list(pred)
    if pre is not None:
        gold, pred = [pre(g) for g in gold], [pre(p) for p in pred]
    if len(pred) == 1 and pred[0].lower().strip().startswith("there will be no change"):
        pred = []
    if not gold and not pred:
        return (1.0, 1.0, 1.0)
    if not gold:
        return (0.0, 1.0, 0.0)
    if not pred:
        return (1.0, 0.0, 0.0)
    pred = list(dict.fromkeys(pred))
    gold[0] = gold[0].replace(" .", "")
    tp = 0.0
    for p in pred:
        tp += max([0.0] + [match(g, p) for g in gold])
    tr = 0.0
    for g in gold:
        tr += max([0.0] + [match(g, p) for p in pred])
    precision, recall = tp / len(pred), tr / len(gold)
    if precision + recall == 0:
        return (0.0, 0.0, 0.0)
    return (precision, recall, 2 * precision * recall / (precision + recall))


def corpus_prf(golds: list[list[str]], preds: list[list[str]], metric: str) -> dict:
    """Macro averages over instances, x100: keys "precision", "recall", "f1"."""
    _spec(metric)
    if len(golds) != len(preds):
        raise ValueError(f"size mismatch: {len(golds)} gold instances and {len(preds)} predictions")
    if not golds:
        raise ValueError("cannot score an empty corpus (0 instances)")
    p_sum = r_sum = f_sum = 0.0
    for gold, pred in zip(golds, preds):
        p, r, f = reference_prf(gold, pred, metric)
        p_sum, r_sum, f_sum = p_sum + p, r_sum + r, f_sum + f
    n = len(golds)
    return {"precision": 100.0 * p_sum / n, "recall": 100.0 * r_sum / n, "f1": 100.0 * f_sum / n}


def score_table(golds, preds, metrics=None) -> pd.DataFrame:
    """One row per metric (default: all eight), columns precision, recall, f1 (x100)."""
    names = list(metrics) if metrics is not None else REFERENCE_METRICS + CLINICAL_METRICS
    rows = [corpus_prf(golds, preds, name) for name in names]
    return pd.DataFrame(rows, index=pd.Index(names, name="metric"),
                        columns=["precision", "recall", "f1"])


def read_answers_jsonl(path) -> dict[str, list[str]]:
    """Read ``{"id": ..., "answers": [...]}`` lines (blank lines skipped) into {str(id): answers}. A bad file is
    one DataError naming it and the line (`score` answers exit 2)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an answers file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; re-save the file as UTF-8") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "id" not in record or "answers" not in record:
            raise DataError(f"{path}: line {lineno}: record needs keys 'id' and 'answers'")
        answers = record["answers"]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise DataError(f"{path}: line {lineno}: 'answers' must be a list of strings")
        if not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool):
            raise DataError(f"{path}: line {lineno}: 'id' must be a string or an integer")
        key = str(record["id"])
        if key in out:
            raise DataError(f"{path}: line {lineno}: duplicate id {key!r}")
        out[key] = answers
    if not out:
        raise DataError(f"{path}: no answers (every line is blank)")
    return out


def score_files(gold_path, pred_path) -> pd.DataFrame:
    """Align two answer files by id and score all eight metrics (``score_table``)."""
    gold, pred = read_answers_jsonl(gold_path), read_answers_jsonl(pred_path)
    missing_pred = [i for i in gold if i not in pred]
    missing_gold = [i for i in pred if i not in gold]
    if missing_pred or missing_gold:
        raise DataError(f"id sets differ: missing from {pred_path}: {missing_pred[:20]}; "
                        f"missing from {gold_path}: {missing_gold[:20]}")
    ids = list(gold)
    return score_table([gold[i] for i in ids], [pred[i] for i in ids])
