"""Batched greedy generation and answer parsing: ``generate`` (left padding, KV cache, optionally
copy-constrained by ``copying.CopyConstraint``, with the model's own log-probabilities), the reference's
one-prompt-at-a-time loop ``generate_sequential``, and ``parse_answer``.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from ..instructions import RESPONSE_MARKER, split_answers
from ..modeling import on_best_device
from .copying import CopyConstraint


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


#: cumulative new-token budgets of the successive ``model.generate`` calls on one batch: between calls the rows that
#: have ended are dropped and the rest go on from their tokens so far (``_generate``). Most answers end within a few
#: tokens ("not relevant", "pT2", "grade 2"); one row that runs on would otherwise keep the whole batch decoding to
#: max_new_tokens.
STAGES = (8, 24)


def _budgets(max_new_tokens: int, stages: tuple[int, ...] = STAGES) -> list[int]:
    """The new-token budget of each ``model.generate`` call on a batch: `stages` (cumulative) cut at
    `max_new_tokens`, then the rest. _budgets(50) == [8, 16, 26]; _budgets(6) == [6]."""
    ends = sorted({min(s, max_new_tokens) for s in stages if s > 0} | {max_new_tokens})
    return [b - a for a, b in zip([0, *ends[:-1]], ends) if b > a]


def _generate(prompts, sources, model, tokenizer, max_new_tokens, batch_size, desc, use_cache,
              logprobs: list | None = None, stages: tuple[int, ...] | None = None) -> list[str]:
    """Greedy continuations of one group (all free or all copy-constrained) in batches sorted by length, each
    batch decoded in stages (``_budgets``): after each ``model.generate`` call the rows that ended (EOS) are
    dropped, the others continue from their prompt and answer so far (re-read in one forward pass, the columns of
    padding no remaining row needs cut away). Greedy decoding makes this the same answer as one call up to
    float rounding (tests/test_reading.py), at the cost of decoding only the rows still going. `stages`: default
    ``STAGES``; () = one call per batch."""
    budgets = _budgets(max_new_tokens, STAGES if stages is None else stages)
    out: list[str | None] = [None] * len(prompts)
    scored: list[tuple[float, int] | None] = [None] * len(prompts)
    eos = tokenizer.eos_token_id
    for idx, enc in _left_padded_batches(model, tokenizer, prompts, batch_size, desc):
        ids, att, start = enc["input_ids"], enc["attention_mask"], enc["input_ids"].shape[1]
        live = list(range(len(idx)))  # rows of this batch still generating
        new: list[list[int]] = [[] for _ in idx]
        total, count = [0.0] * len(idx), [0] * len(idx)
        for k, budget in enumerate(budgets):
            held = [sources[idx[r]] for r in live]
            extra = ({"logits_processor": LogitsProcessorList([CopyConstraint(tokenizer, held, start)])}
                     if held[0] is not None else {})
            if logprobs is not None:
                extra.update(return_dict_in_generate=True, output_logits=True)
            gen = model.generate(input_ids=ids, attention_mask=att, do_sample=False, max_new_tokens=budget,
                                 use_cache=use_cache, pad_token_id=tokenizer.pad_token_id, eos_token_id=eos, **extra)
            seqs = gen.sequences if logprobs is not None else gen
            step_new = seqs[:, ids.shape[1]:]
            ended = (step_new == eos).long().cumsum(-1)
            if logprobs is not None:
                # the model's own logits, before any processor: CopyConstraint leaves one token per step, so the
                # processed scores would give every copied answer probability 1
                step = model.compute_transition_scores(seqs, gen.logits, normalize_logits=True).float()
                keep = (ended == 0) | ((ended == 1) & (step_new == eos))  # up to and including EOS
                step = torch.where(keep & torch.isfinite(step), step, torch.zeros_like(step))
                for r, s, n in zip(live, step.sum(-1).tolist(), keep.sum(-1).tolist()):
                    total[r], count[r] = total[r] + s, count[r] + int(n)
            going = []
            for j, (r, row) in enumerate(zip(live, step_new.tolist())):
                new[r] += row
                if not ended[j, -1]:
                    going.append(j)
            if not going or k == len(budgets) - 1:
                break
            keep_rows = torch.tensor(going, device=seqs.device)
            att = torch.cat([att, att.new_ones(att.shape[0], step_new.shape[1])], dim=1)[keep_rows]
            lead = int((att == 0).all(0).long().cumprod(0).sum())  # left padding no remaining row needs
            ids, att, start = seqs[keep_rows][:, lead:], att[:, lead:], start - lead
            live = [live[j] for j in going]
        for r, i in enumerate(idx):
            out[i] = tokenizer.decode(new[r], skip_special_tokens=True)
            scored[i] = (total[r], count[r])
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
