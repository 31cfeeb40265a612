"""Batched greedy generation and answer parsing.

Batched generation with KV cache and left padding, stop at EOS, `max_new_tokens` (reference: 50); the prompt is
stripped by position; the answer is the text after the response marker, cut at the first newline, split on
commas into a list (the reference's post-processing, which its repo lacks — paper notes §3.3, §4.1).
Used in notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessor, LogitsProcessorList

from .data.schema import NOT_MENTIONED
from .instructions import (INPUT_PREFIX, NOT_RELEVANT, RESPONSE_MARKER, join_input, passage_texts, render,
                           split_answers, split_input)
from .modeling import on_best_device
from .normalise import MERGED


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


def _whole(piece: str, source: str) -> bool:
    """`piece` occurs in `source` as whole words: no letter or digit either side, except that a TNM component
    may end where the next one of a chain begins ("pT2" in "pT2N1M0")."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(piece)}(?:(?![A-Za-z0-9])|(?<=[0-4Xsa-d])(?=[NM][0-4Xx]))",
                     source) is not None


def copies(answer: str, source: str, final: bool = False, stock: tuple[str, ...] = (NOT_RELEVANT,)) -> bool:
    """Whether `answer` (or, unless `final`, the start of one being generated) is a copy of `source`: its
    ", "-separated pieces are phrases of the passage (whitespace collapsed, case kept) made of whole words —
    the last one may still be growing unless the answer is `final` or has ended at a newline (``parse_answer``
    reads only what comes before one) — or it is (the start of) a stock reply."""
    text, ended = answer.split("\n", 1)[0].lstrip(), final or "\n" in answer
    if not text:
        return True
    if any(s == text or (not ended and s.startswith(text)) for s in stock):
        return True
    *done, last = text.split(", ")
    return (all(_whole(p, source) for p in done)
            and (_whole(last, source) if ended else (last == "" or last in source)))


_TOKEN_TEXTS: dict[int, tuple[dict[str, list[int]], list[int]]] = {}


def _token_texts(tokenizer) -> tuple[dict[str, list[int]], list[int]]:
    """(token text -> ids, ids of tokens with no letter or digit) of a tokenizer, special tokens left out;
    computed once per tokenizer."""
    key = id(tokenizer)
    if key not in _TOKEN_TEXTS:
        special = set(tokenizer.all_special_ids)
        by_text: dict[str, list[int]] = {}
        for i in range(len(tokenizer)):
            if i not in special:
                by_text.setdefault(tokenizer.decode([i]), []).append(i)
        marks = [i for t, ids in by_text.items() if not any(c.isalnum() for c in t) for i in ids]
        _TOKEN_TEXTS[key] = (by_text, marks)
    return _TOKEN_TEXTS[key]


class CopyConstraint(LogitsProcessor):
    """Copy-constrained greedy decoding (our design; the paper decodes freely): at every step each row takes its
    highest-scoring token that keeps the answer a copy of the row's passage (``copies``) — or EOS, allowed once
    the answer is a whole copy — so a phenotype answer can only be a phrase the passage states, or "not
    relevant". Which phrase, and whether to answer at all, is still the model's choice. `sources[b]` is batch
    row b's passage; `start` the prompts' padded length.

    Cheap: a row's candidate tokens are fixed once (every token whose text, or its text without leading spaces,
    occurs in the passage or the stock reply, and punctuation/space tokens); each step checks only those, best
    score first, and stops at the first that ``copies`` accepts."""

    MAX_TOKEN_CHARS = 24

    def __init__(self, tokenizer, sources: list[str], start: int):
        self.tokenizer, self.start = tokenizer, start
        self.sources = [" ".join(s.split()) for s in sources]
        self.eos = tokenizer.eos_token_id
        by_text, marks = _token_texts(tokenizer)
        self.texts = {i: t for t, ids in by_text.items() for i in ids}
        self.candidates = []
        for src in self.sources:
            ids = set(marks)
            for text in (src, NOT_RELEVANT):
                for j in range(len(text)):
                    for k in range(j + 1, min(j + self.MAX_TOKEN_CHARS, len(text)) + 1):
                        for piece in (text[j:k], " " + text[j:k]):
                            ids.update(by_text.get(piece, ()))
            self.candidates.append(torch.tensor(sorted(ids), dtype=torch.long))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = torch.full_like(scores, float("-inf"))
        for b in range(scores.shape[0]):
            ids = input_ids[b, self.start:].tolist()
            if self.eos in ids:  # finished row: padding follows
                out[b] = scores[b]
                continue
            text, src, cand = self.tokenizer.decode(ids, skip_special_tokens=True), self.sources[b], self.candidates[b]
            row = scores[b].detach().float().cpu()  # one copy per row: no device sync per candidate on a GPU
            order = cand[row[cand].argsort(descending=True)].tolist()
            best = None
            for t in order:
                if row[t] < row[self.eos]:
                    break  # EOS scores higher than every candidate left
                if copies(text + self.texts[t], src):
                    best = t
                    break
            if best is None:  # EOS; or, while the answer is not yet a whole copy, the best allowed candidate
                best = self.eos if copies(text, src, final=True) else next(
                    (t for t in order if copies(text + self.texts[t], src)), self.eos)
            out[b, best] = scores[b, best]
        return out


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int, desc: str = "generating",
             use_cache: bool = True, sources: list[str | None] | None = None, logprobs: list | None = None) -> list[str]:
    """Greedy continuation of each prompt (prompt excluded), batched with left padding. Order preserved.

    Prompts are sorted by length inside the call so a batch pads little; outputs come back in input order.
    `sources` (one per prompt; None = free) restricts a prompt's continuation to copies of its source
    (``CopyConstraint``); constrained and free prompts are generated in separate batches. A `logprobs` list is
    filled, in input order, with (sum of the generated tokens' log-probabilities, number of tokens) per prompt,
    counted up to and including EOS; they are the model's own probabilities (its logits before any processor),
    so under a copy constraint they say how much the model itself wanted the phrase it copied.
    """
    model = on_best_device(model).eval()
    out: list[str | None] = [None] * len(prompts)
    scored: list[tuple[float, int] | None] = [None] * len(prompts)
    sources = sources or [None] * len(prompts)
    free = [i for i, s in enumerate(sources) if s is None]
    held = [i for i, s in enumerate(sources) if s is not None]
    for group in (free, held):
        lp: list = []
        texts = _generate([prompts[i] for i in group], [sources[i] for i in group], model, tokenizer,
                          max_new_tokens, batch_size, desc, use_cache, lp if logprobs is not None else None)
        for k, (i, text) in enumerate(zip(group, texts)):
            out[i] = text
            if logprobs is not None:
                scored[i] = lp[k]
    if logprobs is not None:
        logprobs[:] = scored
    return out


def _generate(prompts, sources, model, tokenizer, max_new_tokens, batch_size, desc, use_cache,
              logprobs: list | None = None) -> list[str]:
    out: list[str | None] = [None] * len(prompts)
    scored: list[tuple[float, int] | None] = [None] * len(prompts)
    for idx, enc in _left_padded_batches(model, tokenizer, prompts, batch_size, desc):
        held = [sources[i] for i in idx]
        extra = ({"logits_processor": LogitsProcessorList([CopyConstraint(tokenizer, held, enc["input_ids"].shape[1])])}
                 if held and held[0] is not None else {})
        if logprobs is not None:
            extra.update(return_dict_in_generate=True, output_logits=True)
        gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, use_cache=use_cache,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **extra)
        seqs = gen.sequences if logprobs is not None else gen
        new = seqs[:, enc["input_ids"].shape[1]:]
        if logprobs is not None:
            # the model's own logits, before any processor: CopyConstraint leaves one token per step, so the
            # processed scores would give every copied answer probability 1
            step = model.compute_transition_scores(seqs, gen.logits, normalize_logits=True).float()
            ended = (new == tokenizer.eos_token_id).long().cumsum(-1)
            keep = (ended == 0) | ((ended == 1) & (new == tokenizer.eos_token_id))  # up to and including EOS
            step = torch.where(keep & torch.isfinite(step), step, torch.zeros_like(step))
            for i, total, n in zip(idx, step.sum(-1).tolist(), keep.sum(-1).tolist()):
                scored[i] = (total, int(n))
        for i, row in zip(idx, new):
            out[i] = tokenizer.decode(row, skip_special_tokens=True)
    if logprobs is not None:
        logprobs[:] = scored
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


#: attention implementations that take a custom 4D mask (flash attention does not: ``first_tokens`` is used there)
_MASKABLE = ("sdpa", "eager")


def _shared_groups(tokenizer, prompts: list[str], prefixes: list[str]):
    """(prefix ids, [(prompt index, suffix ids)]) per distinct prefix, and the indices of prompts whose tokens do
    not start with their prefix's tokens (a BPE merge across the seam): those are read whole."""
    groups: dict[str, tuple[list[int], list]] = {}
    whole = []
    for i, (p, pre) in enumerate(zip(prompts, prefixes)):
        ids = tokenizer(p)["input_ids"]
        if pre not in groups:
            groups[pre] = (tokenizer(pre)["input_ids"], [])
        head = groups[pre][0]
        if p.startswith(pre) and len(ids) > len(head) and ids[:len(head)] == head:
            groups[pre][1].append((i, ids[len(head):]))
        else:
            whole.append(i)
    return [g for g in groups.values() if g[1]], whole


@torch.no_grad()
def first_tokens_shared(model, tokenizer, prompts: list[str], prefixes: list[str], batch_size: int,
                        watch: int | None = None, desc: str = "reading") -> tuple[list[int], list[float]]:
    """``first_tokens`` for prompts that share prefixes — a passage asked every field's question shares the
    frame and the passage, and differs only in the question — with each distinct prefix computed once: one row
    per prefix holds the prefix and then every prompt's remaining tokens, each block placed at the positions it
    has in its own prompt and attending to the prefix and to itself only (a 4D attention mask), so each block's
    last position gives that prompt's next-token distribution (equal to reading the prompt alone up to float
    rounding; tests/test_reading.py). ~8 questions per passage: ~2-3x fewer tokens than ``first_tokens``.
    Models whose attention takes no custom mask, and prompts whose tokens do not start with their prefix's,
    are read by ``first_tokens``."""
    model = on_best_device(model).eval()
    out, prob = [0] * len(prompts), [0.0] * len(prompts)
    if getattr(model.config, "_attn_implementation", None) not in _MASKABLE:
        return first_tokens(model, tokenizer, prompts, batch_size, watch, desc)
    groups, whole = _shared_groups(tokenizer, prompts, prefixes)
    device = next(model.parameters()).device
    groups.sort(key=lambda g: len(g[0]) + sum(len(s) for _, s in g[1]))
    chunks, cur = [], []
    for g in groups:  # at most batch_size prompts per forward pass (at least one prefix)
        if cur and sum(len(c[1]) for c in cur) + len(g[1]) > batch_size:
            chunks.append(cur)
            cur = []
        cur.append(g)
    chunks += [cur] if cur else []
    eager = model.config._attn_implementation == "eager"
    for chunk in tqdm(chunks, desc=desc, leave=False):
        width = max(len(h) + sum(len(s) for _, s in blocks) for h, blocks in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        pos = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.eye(width, dtype=torch.bool).repeat(len(chunk), 1, 1, 1)  # padding attends to itself
        ends = []
        for r, (head, blocks) in enumerate(chunk):
            n = len(head)
            ids[r, :n], pos[r, :n] = torch.tensor(head), torch.arange(n)
            mask[r, 0, :n, :n] = torch.ones(n, n, dtype=torch.bool).tril()
            at = n
            for i, suffix in blocks:
                k = len(suffix)
                ids[r, at:at + k], pos[r, at:at + k] = torch.tensor(suffix), torch.arange(n, n + k)
                mask[r, 0, at:at + k, :n] = True
                mask[r, 0, at:at + k, at:at + k] = torch.ones(k, k, dtype=torch.bool).tril()
                ends.append((r, at + k - 1, i))
                at += k
        keep = torch.tensor(sorted({e for _, e, _ in ends}), dtype=torch.long)
        col = {e: j for j, e in enumerate(keep.tolist())}
        attn = mask if not eager else torch.zeros(mask.shape, dtype=model.dtype).masked_fill(
            ~mask, torch.finfo(model.dtype).min)
        logits = model(input_ids=ids.to(device), attention_mask=attn.to(device), position_ids=pos.to(device),
                       logits_to_keep=keep.to(device)).logits.float()
        for r, e, i in ends:
            row = logits[r, col[e]]
            out[i] = int(row.argmax())
            prob[i] = float(row.softmax(-1)[watch]) if watch is not None else 0.0
    if whole:
        f, q = first_tokens(model, tokenizer, [prompts[i] for i in whole], batch_size, watch, desc)
        for i, t, p in zip(whole, f, q):
            out[i], prob[i] = t, p
    return out, prob


def not_relevant_token(tokenizer, prompt: str) -> int | None:
    """The first token the tuned model emits for NOT_RELEVANT after `prompt` (how training tokenised it), or
    None when the prompt/answer seam tokenises differently (then every passage is generated in full)."""
    p = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + NOT_RELEVANT)["input_ids"]
    return full[len(p)] if full[:len(p)] == p and len(full) > len(p) else None


def chat_wrapper(tokenizer):
    """A function putting a prompt into `tokenizer`'s chat template as one user turn followed by the assistant's
    turn (``apply_chat_template(..., add_generation_prompt=True)``), for scoring an untuned chat model as it
    was built to be asked; None when the tokenizer has no chat template. The template's leading BOS text is
    dropped because tokenising the prompt adds BOS again."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    bos = tokenizer.bos_token or ""

    def wrap(prompt: str) -> str:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt.rstrip()}], tokenize=False,
                                             add_generation_prompt=True)
        return text[len(bos):] if bos and text.startswith(bos) else text
    return wrap


def passage_prefix(prompt: str, passage: str) -> str:
    """A passage-level prompt up to the end of its passage: what every question asked of that passage shares
    (the question and the response marker come after it; ``first_tokens_shared``)."""
    return prompt[:prompt.rindex(passage) + len(passage)]


def sentence_prompts(row) -> list[str]:
    """The passage-level prompts of one note-level phenotype instance: each passage of the note (``passages``)
    asked the instance's question, in the instance's prompt style; worked examples put before "In the text:"
    (retrieval) are kept in front of every passage."""
    return [p for p, _ in sentence_prompt_passages(row)]


def sentence_prompt_passages(row) -> list[tuple[str, str]]:
    """``sentence_prompts`` with each prompt's passage: (prompt, passage text)."""
    context = str(row["context"])
    at = context.find(INPUT_PREFIX)
    head, rest = (context[:at], context[at:]) if at > 0 else ("", context)
    body, question = split_input(rest, row["field"])
    style = row.get("style", "alpaca") if hasattr(row, "get") else "alpaca"
    return [(render(row["instruction"], head + join_input(t, question), style), t) for t in passage_texts(body)]


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
    batches sorted by length, stopping at EOS. `normaliser` (``normalise.AnswerNormaliser``, fitted by
    ``pipeline.answer_normaliser``) writes each passage's copied phrase in the label vocabulary before the vote;
    None keeps phrases as written. `copy` decodes every passage answer copy-constrained (``CopyConstraint``:
    a phrase of its passage or "not relevant"; diagnosis is generated freely). `return_details` adds a dict
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
    raw, parsed, details, conf = [], [], [], {"sequence": [], "normalised": []}
    for row, ph, ps in zip(rows, is_ph, per_row):
        if not ph:
            raw.append(text[ps[0]]), parsed.append(parse_answer(text[ps[0]]))
            total, n = logp[ps[0]]
            conf["sequence"].append(float(np.exp(total)))
            conf["normalised"].append(float(np.exp(total / max(n, 1))))
            continue
        answers = [parse_answer(text[p]) if p in text else [NOT_RELEVANT] for p in ps]
        phrases = [", ".join(a) for a in answers if a and ", ".join(a).lower() != NOT_RELEVANT]
        merged = normaliser is not None and row["field"] in MERGED
        norm = None if normaliser is None else (lambda phrase, f=row["field"]: normaliser(f, phrase))
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


def write_predictions(path: Path, examples, preds: list[list[str]]) -> None:
    """JSONL next to the gold answers: one line per instance {id, task, field, cancer_type, gold, answers}."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"id": row.id, "task": row.task, "field": row.field, "cancer_type": row.cancer_type,
                                  "gold": list(row.answers), "answers": list(pred)}) + "\n"
                      for row, pred in zip(examples.itertuples(), preds))
    tmp.replace(path)
