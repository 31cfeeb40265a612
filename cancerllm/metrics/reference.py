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

clinical_* metrics run ``clinical_normalize`` (``metrics.clinical``) on every string before the same reference
procedure.
"""

from __future__ import annotations

import math
import string
from functools import lru_cache
from collections.abc import Callable

from nltk.stem.porter import PorterStemmer

from .clinical import clinical_normalize

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
