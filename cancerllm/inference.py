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

from .instructions import RESPONSE_MARKER, split_answers
from .modeling import on_best_device


def parse_answer(text: str) -> list[str]:
    """Generated text → answer list: after the response marker (if echoed), before the first newline."""
    if RESPONSE_MARKER in text:
        text = text.split(RESPONSE_MARKER, 1)[1]
    text = text.strip().split("\n", 1)[0] if text.strip() else ""
    return split_answers(text)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int, desc: str = "generating",
             use_cache: bool = True) -> list[str]:
    """Greedy continuation of each prompt (prompt excluded), batched with left padding. Order preserved.

    Prompts are sorted by length inside the call so a batch pads little; outputs come back in input order.
    """
    model = on_best_device(model).eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str | None] = [None] * len(prompts)
    device = next(model.parameters()).device
    try:
        for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False):
            idx = order[start:start + batch_size]
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=True).to(device)
            gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, use_cache=use_cache,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new = gen[:, enc["input_ids"].shape[1]:]
            for i, row in zip(idx, new):
                out[i] = tokenizer.decode(row, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
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


def predict(model, tokenizer, examples, max_new_tokens: int, batch_size: int, desc: str = "generating"):
    """Predictions for an instruction DataFrame: (raw generations, parsed answer lists)."""
    raw = generate(model, tokenizer, list(examples["prompt"]), max_new_tokens, batch_size, desc=desc)
    return raw, [parse_answer(r) for r in raw]


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
