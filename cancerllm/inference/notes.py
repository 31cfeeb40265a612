"""Note-level predictions: ``predict`` (reading pass, generation, then each note's answer from its passages'),
``assemble`` (the passages' vote), ``note_confidence`` and ``write_predictions``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.schema import NOT_MENTIONED
from ..instructions import NOT_RELEVANT, split_answers
from ..normalise import MERGED
from .generation import generate, parse_answer
from .prompts import passage_prefix, sentence_prompt_passages
from .reading import first_tokens, first_tokens_shared, not_relevant_token


def assemble(answers: list[list[str]], weights: list[float] | None = None, normalise=None) -> tuple[list[str], int]:
    """A note-level answer from its passages' answers: each passage's phrase is first written in the label
    vocabulary by `normalise` (a ``normalise.AnswerNormaliser`` bound to the field; None = as written), then
    every passage that states a value votes for it with its weight (default 1; ``predict`` passes the model's
    confidence that the passage is relevant, 1 − p(not relevant)), and the value with the largest total wins
    (compared lower-cased; ties go to the one stated last: reports end with their synoptic summary);
    NOT_MENTIONED when no passage states one. Also returns how many distinct values the passages stated
    (> 1 = a conflict)."""
    weights = [1.0] * len(answers) if weights is None else weights
    stated = [(", ".join(a), w) for a, w in zip(answers, weights) if a and ", ".join(a).lower() != NOT_RELEVANT]
    if normalise is not None:
        stated = [(normalise(s), w) for s, w in stated]
    if not stated:
        return [NOT_MENTIONED], 0
    totals: dict[str, float] = {}
    for s, w in stated:
        totals[s.lower()] = totals.get(s.lower(), 0.0) + w
    best = max(range(len(stated)), key=lambda i: (round(totals[stated[i][0].lower()], 9), i))
    return split_answers(stated[best][0]), len(totals)


def note_confidence(p_not_relevant: list[float], stated: list[tuple[str, float]], answer: str | None) -> float:
    """The confidence of a note-level phenotype answer from its passages (our combination; the paper reports
    none). ``p_not_relevant``: each passage's probability of the *not relevant* reply; ``stated``: (value as
    voted, probability of the phrase the passage generated) for every passage that stated a value; ``answer``:
    the value the vote chose, None for *not mentioned*. Each candidate gets a score — *not mentioned*: the
    product of the passages' p(not relevant) (no passage states a value); a value: 1 − the product of
    (1 − phrase probability) over the passages stating it (at least one of them is right, noisy-OR) — and the
    answer's confidence is its score over the sum of the scores, where the values' part of the sum is at
    least 1 − the *not mentioned* score (a passage may state a value even when no greedy answer did: without
    this floor a note whose passages all answered *not relevant* would get confidence 1 whatever their
    probabilities)."""
    p_none = float(np.prod(p_not_relevant)) if p_not_relevant else 1.0
    miss: dict[str, float] = {}
    for v, w in stated:
        miss[v] = miss.get(v, 1.0) * (1.0 - w)
    scores = {v: 1.0 - m for v, m in miss.items()}
    total = p_none + max(sum(scores.values()), 1.0 - p_none)
    if total <= 0:
        return 0.0
    return (p_none if answer is None else scores.get(answer, 0.0)) / total


def predict(model, tokenizer, examples, max_new_tokens: int, batch_size: int, desc: str = "generating",
            return_details: bool = False, normaliser=None, copy: bool = False, shared_prefix: bool = True,
            wrap=None):
    """Predictions for note-level instances: (raw outputs, parsed answer lists).

    Diagnosis rows: greedy generation from the row's prompt. Phenotype rows: the paper's sentence-level QA —
    every passage of the note asked the question (``sentence_prompts``), the note-level answer assembled by
    ``assemble``. Cheap by construction: each distinct passage prompt is read once; one batched forward pass
    gives every passage's first answer token (and the probability of the not-relevant reply's, which weights
    the passage's vote in ``assemble``), and a passage whose first token is the not-relevant reply's is
    taken as not relevant without generating (greedy decoding would continue it, so only the rare
    passage that starts "not relevant" and then says something else could differ); the rest are generated in
    batches sorted by length, stopping at EOS, the rows that ended dropped between stages (``generation.STAGES``).
    `normaliser` (``normalise.AnswerNormaliser``, fitted by ``pipeline.answer_normaliser``) writes each
    passage's copied phrase in the label vocabulary before the vote (a histology phrase given this model's own
    answer to the note's diagnosis question, when `examples` hold it; a TNM or grade phrase it reads nothing in
    counts as not relevant: ``AnswerNormaliser.states_value``); None keeps phrases as written. `copy`
    decodes every passage answer copy-constrained (``CopyConstraint``: a phrase of its passage or "not
    relevant"; diagnosis is generated freely). `return_details` adds a dict
    with passages read / generated, per phenotype row the conflicts and the phrases the passages answered, and
    ``confidence``: per row, in order, the answer's probability — ``sequence`` (product of its tokens'
    probabilities) and ``normalised`` (their geometric mean, per token); phenotype rows combine their
    passages' by ``note_confidence``. `shared_prefix` reads each passage once for all its questions
    (``first_tokens_shared``; False = every prompt whole, ``first_tokens``: the same tokens up to float rounding).
    `wrap` rewrites every prompt before it is read (``chat_wrapper``: an untuned chat model's own template)."""
    rows = examples.to_dict("records")
    is_ph = [r["task"] == "phenotype_extraction" for r in rows]
    pairs = [sentence_prompt_passages(r) if ph else [(r["prompt"], None)] for r, ph in zip(rows, is_ph)]
    if wrap is not None:
        pairs = [[(wrap(p), t) for p, t in pp] for pp in pairs]
    per_row = [[p for p, _ in pp] for pp in pairs]
    passage = {p: t for pp in pairs for p, t in pp}  # each prompt's passage (None for diagnosis prompts)
    source = passage if copy else {}
    uniq = list(dict.fromkeys(p for ph, ps in zip(is_ph, per_row) if ph for p in ps))
    nr = not_relevant_token(tokenizer, uniq[0]) if uniq else None
    if not uniq or nr is None:
        first, p_nr = [], [0.0] * len(uniq)
    elif shared_prefix:  # each prompt's prefix ends with its passage: only the question comes after it
        prefix = [passage_prefix(p, passage[p]) for p in uniq]
        first, p_nr = first_tokens_shared(model, tokenizer, uniq, prefix, batch_size, nr, desc=f"{desc}: reading")
    else:
        first, p_nr = first_tokens(model, tokenizer, uniq, batch_size, nr, desc=f"{desc}: reading")
    todo = [p for p, t in zip(uniq, first) if t != nr] if nr is not None else uniq
    relevant = dict(zip(uniq, (1.0 - q for q in p_nr)))
    todo += [ps[0] for ph, ps in zip(is_ph, per_row) if not ph]
    todo = list(dict.fromkeys(todo))
    lp: list = []
    text = dict(zip(todo, generate(model, tokenizer, todo, max_new_tokens, batch_size, desc=desc,
                                   sources=[source.get(p) for p in todo], logprobs=lp)))
    logp = dict(zip(todo, lp))
    # each note's diagnosis as this model answered it (histology is spelled given it: normalise.CONTEXT_FIELDS)
    diagnosis = {r.get("patient_id"): ", ".join(parse_answer(text[ps[0]]))
                 for r, ph, ps in zip(rows, is_ph, per_row) if not ph and r.get("patient_id") is not None}
    raw, parsed, details, conf = [], [], [], {"sequence": [], "normalised": []}
    for row, ph, ps in zip(rows, is_ph, per_row):
        if not ph:
            raw.append(text[ps[0]]), parsed.append(parse_answer(text[ps[0]]))
            total, n = logp[ps[0]]
            conf["sequence"].append(float(np.exp(total)))
            conf["normalised"].append(float(np.exp(total / max(n, 1))))
            continue
        answers = [parse_answer(text[p]) if p in text else [NOT_RELEVANT] for p in ps]
        if normaliser is not None:  # a TNM/grade phrase no reader reads (a copied header) states no value
            answers = [a if not a or normaliser.states_value(row["field"], ", ".join(a)) else [NOT_RELEVANT]
                       for a in answers]
        phrases = [", ".join(a) for a in answers if a and ", ".join(a).lower() != NOT_RELEVANT]
        merged = normaliser is not None and row["field"] in MERGED
        dx = diagnosis.get(row.get("patient_id"))
        norm = None if normaliser is None else (lambda phrase, f=row["field"], dx=dx: normaliser(f, phrase, dx))
        if merged:  # values spread over sentences: merged
            ans, n_values = split_answers(normaliser.merge(row["field"], phrases)) or [NOT_MENTIONED], 1
        else:
            ans, n_values = assemble(answers, [relevant[p] for p in ps], norm)
        raw.append(", ".join(ans)), parsed.append(ans)
        details.append({"passages": len(ps), "conflict": n_values > 1, "phrases": phrases})
        chosen = None if ans == [NOT_MENTIONED] else ", ".join(ans).lower()
        for kind, confidences in conf.items():
            q, stated = [], []
            for p, a in zip(ps, answers):
                said = ", ".join(a)
                if p not in text:  # skipped after the reading pass: its first token was the not-relevant reply's
                    q.append(1.0 - relevant[p])
                    continue
                total, n = logp[p]
                prob = float(np.exp(total if kind == "sequence" else total / max(n, 1)))
                is_nr = not a or said.lower() == NOT_RELEVANT
                q.append(1.0 - relevant[p] if nr is not None else (prob if is_nr else 1.0 - prob))
                if not is_nr:
                    value = chosen if merged else ", ".join(split_answers(norm(said) if norm else said)).lower()
                    stated.append((value, prob))
            confidences.append(note_confidence(q, stated, chosen))
    if return_details:
        return raw, parsed, {"passage_prompts": len(uniq), "generated": len(todo), "rows": details,
                             "confidence": conf}
    return raw, parsed


def write_predictions(path: Path, examples, preds: list[list[str]], confidence: dict | None = None) -> None:
    """JSONL next to the gold answers: one line per instance {id, task, field, cancer_type, gold, answers}, and
    with `confidence` (``predict``'s: {"sequence": [...], "normalised": [...]}, in row order) each answer's
    confidences under "confidence"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for k, (row, pred) in enumerate(zip(examples.itertuples(), preds)):
            line = {"id": row.id, "task": row.task, "field": row.field, "cancer_type": row.cancer_type,
                    "gold": list(row.answers), "answers": list(pred)}
            if confidence is not None:
                line["confidence"] = {kind: values[k] for kind, values in confidence.items()}
            fh.write(json.dumps(line) + "\n")
    tmp.replace(path)
