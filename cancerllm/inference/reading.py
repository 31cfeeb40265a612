"""The reading pass: every passage prompt's first answer token in one batched forward pass, no generation —
``first_tokens`` (each prompt whole) and ``first_tokens_shared`` (the tokens a group of prompts shares read
once, a 4D attention mask) — and ``not_relevant_token``, the token that tells a not-relevant passage.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..instructions import NOT_RELEVANT
from ..modeling import on_best_device
from .generation import _left_padded_batches


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
    """(head ids, [(prompt index, suffix ids)]) per group of prompts with the same `prefixes` string: the head is
    the longest run of tokens every prompt of the group starts with (the frame, the passage and the question's
    shared opening words, "What is the"), stopping one token short of the shortest prompt so that every prompt
    keeps a suffix. Taken from the prompts' own tokens, so a BPE merge across the end of the prefix string
    cannot mis-split a prompt."""
    groups: dict[str, list[tuple[int, list[int]]]] = {}
    for i, (pre, ids) in enumerate(zip(prefixes, tokenizer(prompts)["input_ids"] if prompts else [])):
        groups.setdefault(pre, []).append((i, ids))
    out = []
    for members in groups.values():
        first, n = members[0][1], min(len(ids) for _, ids in members) - 1
        for _, ids in members[1:]:
            n = next((k for k in range(n) if ids[k] != first[k]), n)
        out.append((first[:n], [(i, ids[n:]) for i, ids in members]))
    return out


@torch.no_grad()
def first_tokens_shared(model, tokenizer, prompts: list[str], prefixes: list[str], batch_size: int,
                        watch: int | None = None, desc: str = "reading") -> tuple[list[int], list[float]]:
    """``first_tokens`` for prompts that share prefixes — a passage asked every field's question shares the
    frame, the passage and the question's opening "What is the", and differs only in the rest of the question —
    with each group's shared tokens (``_shared_groups``; `prefixes` says which prompts form a group) computed
    once: one row per group holds the shared tokens and then every prompt's remaining tokens, each block placed
    at the positions it has in its own prompt and attending to the shared tokens and to itself only (a 4D
    attention mask), so each block's last position gives that prompt's next-token distribution (equal to
    reading the prompt alone up to float rounding; tests/test_reading.py). Models whose attention takes no
    custom mask are read by ``first_tokens``."""
    model = on_best_device(model).eval()
    out, prob = [0] * len(prompts), [0.0] * len(prompts)
    if getattr(model.config, "_attn_implementation", None) not in _MASKABLE:
        return first_tokens(model, tokenizer, prompts, batch_size, watch, desc)
    groups = _shared_groups(tokenizer, prompts, prefixes)
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
    return out, prob


def not_relevant_token(tokenizer, prompt: str) -> int | None:
    """The first token the tuned model emits for NOT_RELEVANT after `prompt` (how training tokenised it), or
    None when the prompt/answer seam tokenises differently (then every passage is generated in full)."""
    p = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + NOT_RELEVANT)["input_ids"]
    return full[len(p)] if full[:len(p)] == p and len(full) > len(p) else None
