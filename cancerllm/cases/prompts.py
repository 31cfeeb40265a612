"""Retrieval-augmented prompts (`augment`): the same Alpaca template the models were tuned on; inside
`### Input:` come k lines `Example j: "<evidence>" -> <answer>` (phenotype: the sentence of the retrieved note
stating its gold answer, at most 25 tokens around it, else its first 25 tokens; diagnosis: the retrieved note's
first 40 tokens), then the test note and question as in training (`instructions.join_input`). The prompt must
fit `prompt_budget(cfg)` tokens: the test note is cut (its start kept, as in training); example answers are
never cut (long evidence is shortened first). `perturb` rebuilds the prompts of misspelt notes within the same
budget. Used in notebooks/60_retrieval.ipynb.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ..data.schema import NOT_MENTIONED
from ..instructions import QUESTIONS, TASKS, join_input, render
from ..perturb import perturb_bodies
from .index import CaseIndex, _bodies, held_out_hashes

SNIPPET_TOKENS = {"phenotype_extraction": 25, "diagnosis_generation": 40}  # evidence per worked example
MIN_BODY_TOKENS = 64  # below this much room for the test note, evidence snippets are shortened first
_EXAMPLES_HEAD = "Worked examples from other patients:\n"


def evidence_snippet(body: str, answers: list[str], max_tokens: int, tokenizer=None) -> str:
    """The sentence or line of `body` that states the case's answer, cut to at most `max_tokens` tokens around
    it (words when `tokenizer` is None); else the first `max_tokens` tokens. The answer is looked for as
    written, then by its numbers ("2.5" of "2.5 cm"), then by its longest word of 5+ letters."""
    return _snippet(body, tuple(answers), max_tokens, tokenizer)


@lru_cache(maxsize=65536)
def _snippet(body: str, answers: tuple, max_tokens: int, tokenizer) -> str:
    def count(text: str) -> int:
        return len(text.split()) if tokenizer is None else len(tokenizer(text, add_special_tokens=False)["input_ids"])

    segments = [s for s in re.split(r"\n+|(?<=[.;])\s+", body) if s.strip()]
    for ans in answers:
        if ans.lower() == NOT_MENTIONED:
            continue
        longest = max(re.findall(r"[A-Za-z]{5,}", ans), key=len, default="")
        needles = [re.escape(ans.lower())]
        numbers = re.findall(r"\d+(?:\.\d+)?", ans)
        needles += [rf"(?<![\w.]){re.escape(n)}(?![\w]|\.\d)" for n in numbers]  # "2.5" alone, not in "12.5"
        needles += [re.escape(longest.lower())] if longest else []
        for needle in dict.fromkeys(needles):
            for seg in segments:
                hit = re.search(needle, seg.lower())
                if hit is None:
                    continue
                words, at = seg.split(), len(seg[:hit.start()].split())
                width = min(len(words), max_tokens)
                while True:  # the widest window of words around the answer that fits max_tokens
                    start = max(0, min(at - width // 2, len(words) - width))
                    text = " ".join(words[start:start + width])
                    if width <= 1 or count(text) <= max_tokens:
                        return _clean(text)
                    width -= 1
    if tokenizer is None:
        return _clean(" ".join(body.split()[:max_tokens]))
    ids = tokenizer(body, add_special_tokens=False)["input_ids"][:max_tokens]
    return _clean(" ".join(tokenizer.decode(ids).split()))


def _clean(s: str) -> str:
    return s.replace('"', "'")


def _context(task: str, field: str, examples: list[str], body: str) -> str:
    head = _EXAMPLES_HEAD + "\n".join(examples) + "\n\n" if examples else ""
    return head + join_input(body, QUESTIONS[field] if task == "phenotype_extraction" else "")


def _n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text)["input_ids"])  # with BOS, as generation sees it


def read_tokens(row, tokenizer) -> int:
    """Tokens of the longest prompt a model reads for one row (a dict or Series with task, prompt, context,
    field, instruction): the prompt itself for diagnosis, the longest passage prompt for phenotype extraction
    (read passage by passage, ``inference.sentence_prompts``)."""
    if row["task"] != "phenotype_extraction":
        return _n_tokens(tokenizer, row["prompt"])
    from ..inference import sentence_prompts

    return max([_n_tokens(tokenizer, q) for q in sentence_prompts(row)] or [_n_tokens(tokenizer, row["prompt"])])


def build_prompt(row, body: str, cases: pd.DataFrame, tokenizer, max_prompt_tokens: int) -> tuple[str, str, int, int]:
    """(context, prompt, prompt tokens, examples used) of one test row with `cases` (training rows) as worked examples.

    Diagnosis: the test note is cut to fit; evidence snippets are halved while the note would get < MIN_BODY_TOKENS;
    as a last resort examples are dropped from the end (never their answers cut). Phenotype: the report is read
    passage by passage (``inference.sentence_prompts``) and never cut; its size is that of its longest passage
    prompt, which must fit with the examples in front — snippets are halved, then examples dropped, until it does
    (a passage that does not fit even alone is left whole: its prompt without retrieval is as long)."""
    size = SNIPPET_TOKENS[row.task]
    style = getattr(row, "style", "alpaca")
    if row.task == "phenotype_extraction" and tokenizer is not None:
        return _phenotype_prompt(row, body, cases, tokenizer, max_prompt_tokens, style)
    while True:
        examples = _examples(cases, size, tokenizer)
        if tokenizer is None:
            ctx = _context(row.task, row.field, examples, body)
            return ctx, render(row.instruction, ctx, style), -1, len(cases)
        frame = _n_tokens(tokenizer, render(row.instruction, _context(row.task, row.field, examples, ""), style))
        room = max_prompt_tokens - frame
        if room >= MIN_BODY_TOKENS or size <= 4:
            if room >= 1 or not len(cases):
                break
            cases = cases.iloc[:-1]  # cannot fit even with short evidence: fewer examples
            continue
        size //= 2
    ids = tokenizer(body, add_special_tokens=False)["input_ids"]
    cut = min(len(ids), max(room, 0))
    while True:
        text = body if cut == len(ids) else tokenizer.decode(ids[:cut])
        ctx = _context(row.task, row.field, examples, text)
        prompt = render(row.instruction, ctx, style)
        n = _n_tokens(tokenizer, prompt)
        if n <= max_prompt_tokens or cut == 0:
            return ctx, prompt, n, len(cases)
        cut = max(0, cut - (n - max_prompt_tokens))  # re-tokenising at the seam can add a token or two


def _examples(cases: pd.DataFrame, size: int, tokenizer) -> list[str]:
    return [f'Example {j}: "{evidence_snippet(b, list(a), size, tokenizer)}" -> {r}' for j, (b, a, r) in
            enumerate(zip(_bodies(cases), cases["answers"], cases["response"]), 1)]


def _phenotype_prompt(row, body: str, cases: pd.DataFrame, tokenizer, max_prompt_tokens: int, style: str):
    from ..inference import sentence_prompts

    def passage_prompts(ctx: str) -> list[str]:
        return sentence_prompts({"context": ctx, "field": row.field, "instruction": row.instruction, "style": style})

    # the examples are a prefix shared by every passage prompt and byte-level BPE does not merge across the
    # whitespace before "In the text:", so the longest passage prompt is the same passage with or without them
    alone = [_n_tokens(tokenizer, q) for q in passage_prompts(_context(row.task, row.field, [], body))]
    longest = int(np.argmax(alone)) if alone else None
    size = SNIPPET_TOKENS[row.task]
    while True:
        ctx = _context(row.task, row.field, _examples(cases, size, tokenizer), body)
        prompt = render(row.instruction, ctx, style)
        n = _n_tokens(tokenizer, prompt if longest is None else passage_prompts(ctx)[longest])
        if n <= max_prompt_tokens or not len(cases):
            return ctx, prompt, n, len(cases)
        if size > 4:
            size //= 2  # shorter evidence first
        else:
            cases = cases.iloc[:-1]  # then fewer examples


def augment(test_df: pd.DataFrame, train_df: pd.DataFrame, retriever, k: int, tokenizer, max_prompt_tokens: int,
            seed: int, exclude_hashes: set[str] | None = None) -> pd.DataFrame:
    """Test rows with k retrieved training cases of the same task and field as worked examples in the prompt.

    `retriever`: a name in RETRIEVERS or a fitted `CaseIndex`. `exclude_hashes`: held-out note hashes never
    to retrieve (default: the test rows' own notes). Keeps every column, rewrites context and prompt, and adds
    retriever, k, retrieved_ids, retrieved_patients, retrieved_answers and prompt_tokens. k = 0 returns the
    original prompts. `seed` orders the index documents (the tie-break)."""
    out = test_df.reset_index(drop=True).copy()
    name = retriever if isinstance(retriever, str) else retriever.name
    out["retriever"], out["k"] = (name if k > 0 else "none"), int(k)
    for col in ("retrieved_ids", "retrieved_patients", "retrieved_answers"):
        out[col] = [[] for _ in range(len(out))]
    if k <= 0:
        out["prompt_tokens"] = [read_tokens(r, tokenizer) for _, r in out.iterrows()] if tokenizer is not None else -1
        return out
    index = CaseIndex(train_df, retriever, seed) if isinstance(retriever, str) else retriever
    bodies = _bodies(out)
    exclude = held_out_hashes(out) if exclude_hashes is None else set(exclude_hashes)
    picked: list[list[int]] = [[] for _ in range(len(out))]
    for task in TASKS:
        pos = np.flatnonzero((out["task"] == task).to_numpy())
        found = index.neighbours([bodies[i] for i in pos], task, list(out["field"].iloc[pos]),
                                 list(out["patient_id"].iloc[pos]), k, exclude)
        for i, rows in zip(pos, found):
            picked[i] = rows
    ctxs, prompts, ntok, ids, pats, answers = [], [], [], [], [], []
    for row, body, rows in zip(out.itertuples(), bodies, picked):
        ctx, prompt, n, used = build_prompt(row, body, index.train.iloc[rows], tokenizer, max_prompt_tokens)
        used = index.train.iloc[rows[:used]]
        ctxs.append(ctx), prompts.append(prompt), ntok.append(n)
        ids.append(list(used["id"])), pats.append(list(used["patient_id"]))
        answers.append([list(a) for a in used["answers"]])
    out["context"], out["prompt"], out["prompt_tokens"] = ctxs, prompts, ntok
    out["retrieved_ids"], out["retrieved_patients"], out["retrieved_answers"] = ids, pats, answers
    return out


def perturb(test_df: pd.DataFrame, rate: float, seed: int, tokenizer, max_prompt_tokens: int) -> pd.DataFrame:
    """Test rows whose note is misspelled at `rate` (`robustness.perturb_bodies`, the step and per-row seeds of
    notebooks/40_robustness.ipynb's misspelling condition), prompts rebuilt within `max_prompt_tokens`. Misspelt
    words cost more tokens, so with the retrieval budget the same (already cut) note is kept whole: only the
    noise differs."""
    out = test_df.reset_index(drop=True).copy()
    noisy, _ = perturb_bodies(out, "misspelling", rate, seed)
    ctxs, prompts = [], []
    for row, body in zip(out.itertuples(), noisy):
        ctx, prompt, _, _ = build_prompt(row, body, out.iloc[[]], tokenizer, max_prompt_tokens)
        ctxs.append(ctx), prompts.append(prompt)
    out["context"], out["prompt"] = ctxs, prompts
    return out


def prompt_budget(cfg) -> int:
    """Prompt tokens allowed with retrieval: room for the answer inside the position limit, and at most 1.25x
    the longest sequence the model was tuned on (sft_max_length) minus the answer, so retrieved prompts are
    longer than training prompts by a bounded amount (demo: min(512 - 24, 400 - 24) = 376 vs 296 in training)."""
    return min(cfg.max_position_embeddings - cfg.max_new_tokens, int(1.25 * cfg.sft_max_length) - cfg.max_new_tokens)
