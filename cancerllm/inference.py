"""Batched greedy generation and answer parsing.

Batched generation with KV cache and left padding, stop at EOS, `max_new_tokens` (reference: 50); the prompt is
stripped by position; the answer is the text after the response marker, cut at the first newline, split on
commas into a list (the reference's post-processing, which its repo lacks — paper notes §3.3, §4.1).
Used in notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .data.schema import NOT_MENTIONED
from .instructions import (INPUT_PREFIX, NOT_RELEVANT, RESPONSE_MARKER, join_input, passage_texts, render,
                           split_answers, split_input)
from .modeling import on_best_device


def parse_answer(text: str) -> list[str]:
    """Generated text → answer list: after the response marker (if echoed), before the first newline."""
    if RESPONSE_MARKER in text:
        text = text.split(RESPONSE_MARKER, 1)[1]
    text = text.strip().split("\n", 1)[0] if text.strip() else ""
    return split_answers(text)


def _left_padded_batches(model, tokenizer, prompts: list[str], batch_size: int, desc: str):
    """(prompt indices, encoded batch) in batches of prompts sorted by length (a batch pads little), left padded
    on the model's device; the tokenizer's padding side is restored afterwards. Shared by ``generate`` and
    ``first_tokens``."""
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    try:
        for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False):
            idx = order[start:start + batch_size]
            yield idx, tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                                 add_special_tokens=True).to(device)
    finally:
        tokenizer.padding_side = side


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int, desc: str = "generating",
             use_cache: bool = True) -> list[str]:
    """Greedy continuation of each prompt (prompt excluded), batched with left padding. Order preserved.

    Prompts are sorted by length inside the call so a batch pads little; outputs come back in input order.
    """
    model = on_best_device(model).eval()
    out: list[str | None] = [None] * len(prompts)
    for idx, enc in _left_padded_batches(model, tokenizer, prompts, batch_size, desc):
        gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, use_cache=use_cache,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        for i, row in zip(idx, new):
            out[i] = tokenizer.decode(row, skip_special_tokens=True)
    return out


@torch.no_grad()
def generate_sequential(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """The reference's loop: one prompt at a time (batch 1, no padding). Kept for the efficiency benchmark."""
    model = on_best_device(model).eval()
    device = next(model.parameters()).device
    outs = []
    for p in prompts:
        enc = tokenizer(p, return_tensors="pt").to(device)
        gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        outs.append(tokenizer.decode(gen[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    return outs


@torch.no_grad()
def first_tokens(model, tokenizer, prompts: list[str], batch_size: int, watch: int | None = None,
                 desc: str = "reading") -> tuple[list[int], list[float]]:
    """The greedy first answer token of every prompt and the probability of token `watch` in that position
    (0.0 when `watch` is None): one batched forward pass (left padding), no generation."""
    model = on_best_device(model).eval()
    out, prob = [0] * len(prompts), [0.0] * len(prompts)
    for idx, enc in _left_padded_batches(model, tokenizer, prompts, batch_size, desc):
        logits = model(**enc).logits[:, -1, :].float()
        p_watch = logits.softmax(-1)[:, watch].tolist() if watch is not None else [0.0] * len(idx)
        for i, t, q in zip(idx, logits.argmax(-1).tolist(), p_watch):
            out[i], prob[i] = t, q
    return out, prob


def not_relevant_token(tokenizer, prompt: str) -> int | None:
    """The first token the tuned model emits for NOT_RELEVANT after `prompt` (how training tokenised it), or
    None when the prompt/answer seam tokenises differently (then every passage is generated in full)."""
    p = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + NOT_RELEVANT)["input_ids"]
    return full[len(p)] if full[:len(p)] == p and len(full) > len(p) else None


def sentence_prompts(row) -> list[str]:
    """The passage-level prompts of one note-level phenotype instance: each passage of the note (``passages``)
    asked the instance's question, in the instance's prompt style; worked examples put before "In the text:"
    (retrieval) are kept in front of every passage."""
    context = str(row["context"])
    at = context.find(INPUT_PREFIX)
    head, rest = (context[:at], context[at:]) if at > 0 else ("", context)
    body, question = split_input(rest, row["field"])
    style = row.get("style", "alpaca") if hasattr(row, "get") else "alpaca"
    return [render(row["instruction"], head + join_input(t, question), style) for t in passage_texts(body)]


def assemble(answers: list[list[str]], weights: list[float] | None = None) -> tuple[list[str], int]:
    """A note-level answer from its passages' answers: every passage that states a value votes for it with its
    weight (default 1; ``predict`` passes the model's confidence that the passage is relevant, 1 − p(not
    relevant)), and the value with the largest total wins (compared lower-cased; ties go to the one stated
    last: reports end with their synoptic summary); NOT_MENTIONED when no passage states one. Also returns how
    many distinct values the passages stated (> 1 = a conflict)."""
    weights = [1.0] * len(answers) if weights is None else weights
    stated = [(", ".join(a), w) for a, w in zip(answers, weights) if a and ", ".join(a).lower() != NOT_RELEVANT]
    if not stated:
        return [NOT_MENTIONED], 0
    totals: dict[str, float] = {}
    for s, w in stated:
        totals[s.lower()] = totals.get(s.lower(), 0.0) + w
    best = max(range(len(stated)), key=lambda i: (round(totals[stated[i][0].lower()], 9), i))
    return split_answers(stated[best][0]), len(totals)


def predict(model, tokenizer, examples, max_new_tokens: int, batch_size: int, desc: str = "generating",
            return_details: bool = False):
    """Predictions for note-level instances: (raw outputs, parsed answer lists).

    Diagnosis rows: greedy generation from the row's prompt. Phenotype rows: the paper's sentence-level QA —
    every passage of the note asked the question (``sentence_prompts``), the note-level answer assembled by
    ``assemble``. Cheap by construction: each distinct passage prompt is read once; one batched forward pass
    gives every passage's first answer token (and the probability of the not-relevant reply's, which weights
    the passage's vote in ``assemble``), and a passage whose first token is the not-relevant reply's is
    taken as not relevant without generating (greedy decoding would continue it, so only the rare
    passage that starts "not relevant" and then says something else could differ); the rest are generated in
    batches sorted by length, stopping at EOS. `return_details` adds a dict with passages read / generated and
    conflicts per row."""
    rows = examples.to_dict("records")
    is_ph = [r["task"] == "phenotype_extraction" for r in rows]
    per_row = [sentence_prompts(r) if ph else [r["prompt"]] for r, ph in zip(rows, is_ph)]
    uniq = list(dict.fromkeys(p for ph, ps in zip(is_ph, per_row) if ph for p in ps))
    nr = not_relevant_token(tokenizer, uniq[0]) if uniq else None
    first, p_nr = (first_tokens(model, tokenizer, uniq, batch_size, nr, desc=f"{desc}: reading")
                   if uniq and nr is not None else ([], [0.0] * len(uniq)))
    todo = [p for p, t in zip(uniq, first) if t != nr] if nr is not None else uniq
    relevant = dict(zip(uniq, (1.0 - q for q in p_nr)))
    todo += [ps[0] for ph, ps in zip(is_ph, per_row) if not ph]
    todo = list(dict.fromkeys(todo))
    text = dict(zip(todo, generate(model, tokenizer, todo, max_new_tokens, batch_size, desc=desc)))
    raw, parsed, details = [], [], []
    for ph, ps in zip(is_ph, per_row):
        if not ph:
            raw.append(text[ps[0]]), parsed.append(parse_answer(text[ps[0]]))
            continue
        answers = [parse_answer(text[p]) if p in text else [NOT_RELEVANT] for p in ps]
        ans, n_values = assemble(answers, [relevant[p] for p in ps])
        raw.append(", ".join(ans)), parsed.append(ans)
        details.append({"passages": len(ps), "conflict": n_values > 1})
    if return_details:
        return raw, parsed, {"passage_prompts": len(uniq), "generated": len(todo), "rows": details}
    return raw, parsed


def write_predictions(path: Path, examples, preds: list[list[str]]) -> None:
    """JSONL next to the gold answers: one line per instance {id, task, field, cancer_type, gold, answers}."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row, pred in zip(examples.itertuples(), preds):
            fh.write(json.dumps({"id": row.id, "task": row.task, "field": row.field, "cancer_type": row.cancer_type,
                                 "gold": list(row.answers), "answers": list(pred)}) + "\n")
    tmp.replace(path)
