"""Copy-constrained decoding (our design; the paper decodes freely): ``copies`` says whether an answer is a
copy of its passage, ``CopyConstraint`` keeps greedy generation to such copies. Used by ``generation.generate``.
"""

from __future__ import annotations

import functools
import re
import weakref
from typing import NamedTuple

import torch
from transformers import LogitsProcessor

from ..instructions import NOT_RELEVANT


#: where a copied phrase may begin: no letter or digit just before it, and not inside a number ("0 cm" is not a
#: phrase of "6.0 cm": no digit right after a digit and its decimal point or comma)
_START = r"(?<![A-Za-z0-9])(?!(?<=[0-9][.,])[0-9])"
#: where it may end: no letter or digit just after it, and not inside a number ("6" of "6.0 cm"), except that a TNM
#: component may end where the next one of a chain begins ("pT2" in "pT2N1M0")
_END = r"(?!(?<=[0-9])[.,][0-9])(?:(?![A-Za-z0-9])|(?<=[0-4Xsa-d])(?=[NM][0-4Xx]))"


@functools.lru_cache(maxsize=1 << 16)  # a step re-checks the answer's finished pieces for every candidate token
def _whole(piece: str, source: str) -> bool:
    """`piece` occurs in `source` as whole words (``_START`` before it, ``_END`` after it)."""
    return re.search(_START + re.escape(piece) + _END, source) is not None


@functools.lru_cache(maxsize=1 << 16)
def _begins(piece: str, source: str) -> bool:
    """`piece` occurs in `source` from the start of a word (``_START``): a phrase still being copied, which may
    grow into a whole one. A piece begun inside a word ("inoma" of "carcinoma") can never end as a copy."""
    return re.search(_START + re.escape(piece), source) is not None


def _begins_at(piece: str, source: str) -> list[int]:
    """Where in `source` each occurrence of `piece` that begins a word (``_begins``) ends, overlapping ones
    included."""
    return [m.start() + len(piece) for m in re.finditer(_START + f"(?={re.escape(piece)})", source)]


def copies(answer: str, source: str, final: bool = False, stock: tuple[str, ...] = (NOT_RELEVANT,)) -> bool:
    """Whether `answer` (or, unless `final`, the start of one being generated) is a copy of `source`: its
    ", "-separated pieces are phrases of the passage (whitespace collapsed, case kept) made of whole words —
    the last one may still be growing unless the answer is `final` or has ended at a newline (``parse_answer``
    reads only what comes before one), begun at the start of a word — or it is (the start of) a stock reply."""
    text, ended = answer.split("\n", 1)[0].lstrip(), final or "\n" in answer
    if not text:
        return True
    if any(s == text or (not ended and s.startswith(text)) for s in stock):
        return True
    *done, last = text.split(", ")
    return (all(_whole(p, source) for p in done)
            and (_whole(last, source) if ended else (last == "" or _begins(last, source))))


@functools.lru_cache(maxsize=16)
def _prefixes(stock: tuple[str, ...]) -> frozenset[str]:
    """Every non-empty start of a stock reply (the reply itself included)."""
    return frozenset(s[:i] for s in stock for i in range(1, len(s) + 1))


def _extensions(text: str, source: str, stock: tuple[str, ...] = (NOT_RELEVANT,)):
    """``copies(text + piece, source)`` as a function of `piece`, for the many candidate tokens of one decoding
    step: what depends only on `text` (its finished pieces' whole-word check) is done once, and a piece with
    no comma or newline — nearly every token — only extends the last piece, one substring test. Anything else
    goes to ``copies`` itself."""
    if "\n" in text or text.endswith(","):
        return lambda piece: copies(text + piece, source, stock=stock)
    head = text.lstrip()
    *done, last = head.split(", ") if head else [""]
    done_ok = all(_whole(p, source) for p in done)
    started = _prefixes(stock)

    def accept(piece: str) -> bool:
        if "\n" in piece or "," in piece:
            return copies(text + piece, source, stock=stock)
        new = head + piece if head else piece.lstrip()
        if not new or new in started:
            return True
        grown = last + piece if head else new
        return done_ok and (grown == "" or _begins(grown, source))
    return accept


class _Tables(NamedTuple):
    """A tokenizer's tables for copy-constrained decoding (``_tables``)."""

    token_texts: tuple[dict[str, list[int]], list[int]]  # ``_token_texts``: text -> ids, ids with no letter or digit
    texts: dict[int, str]  # token id -> text
    candidates: dict  # each passage's candidates, filled by ``CopyConstraint`` (a passage asked again reuses them)
    odd: frozenset[int]  # ids ``CopyConstraint._allowed`` leaves to ``copies``: a comma or a newline, or no text
    longest: int  # the longest token text


#: per live tokenizer object, its ``_Tables``: keyed weakly, so an entry goes with its tokenizer (an ``id()`` key
#: was reused by the next tokenizer allocated at the freed address, which then got another vocabulary's ids)
_TOKEN_TEXTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tables(tokenizer) -> _Tables:
    """A tokenizer's ``_Tables``, computed once."""
    if tokenizer not in _TOKEN_TEXTS:
        special = set(tokenizer.all_special_ids)
        by_text: dict[str, list[int]] = {}
        for i in range(len(tokenizer)):
            if i not in special:
                by_text.setdefault(tokenizer.decode([i]), []).append(i)
        marks = [i for t, ids in by_text.items() if not any(c.isalnum() for c in t) for i in ids]
        odd = frozenset(i for t, ids in by_text.items() if not t or "," in t or "\n" in t for i in ids)
        _TOKEN_TEXTS[tokenizer] = _Tables((by_text, marks), {i: t for t, ids in by_text.items() for i in ids}, {}, odd,
                                          max(map(len, by_text), default=1))
    return _TOKEN_TEXTS[tokenizer]


def _token_texts(tokenizer) -> tuple[dict[str, list[int]], list[int]]:
    """(token text -> ids, ids of tokens with no letter or digit) of a tokenizer, special tokens left out;
    computed once per tokenizer."""
    return _tables(tokenizer).token_texts


class CopyConstraint(LogitsProcessor):
    """Copy-constrained greedy decoding (our design; the paper decodes freely): at every step each row takes its
    highest-scoring token that keeps the answer a copy of the row's passage (``copies``) — or EOS, allowed once
    the answer is a whole copy — so a phenotype answer can only be a phrase the passage states, or "not
    relevant". Which phrase, and whether to answer at all, is still the model's choice. `sources[b]` is batch
    row b's passage; `start` the prompts' padded length.

    Cheap: a row's candidate tokens are fixed once (every token whose text, or its text without leading spaces,
    occurs in the passage or the stock reply, and punctuation/space tokens, kept per tokenizer and passage).
    In the middle of a phrase (``_allowed``) the tokens that can follow are looked up from where the phrase
    occurs in the passage, a handful of dictionary lookups; otherwise each step checks the candidates, best
    score first, and stops at the first that ``copies`` accepts (``_extensions``: what depends only on the answer
    so far is checked once per step). Both choose the same token (tests/test_reading.py)."""

    MAX_TOKEN_CHARS = 24

    def __init__(self, tokenizer, sources: list[str], start: int):
        self.tokenizer, self.start = tokenizer, start
        self.sources = [" ".join(s.split()) for s in sources]
        self.eos = tokenizer.eos_token_id
        self.tables = _tables(tokenizer)
        (by_text, marks), made, odd = self.tables.token_texts, self.tables.candidates, self.tables.odd
        if len(made) > 8192:  # at most ~8k passages kept per tokenizer
            made.clear()
        self.candidates = []
        for src in self.sources:
            if src not in made:
                ids = set(marks)
                for text in (src, NOT_RELEVANT):
                    for j in range(len(text)):
                        for k in range(j + 1, min(j + self.MAX_TOKEN_CHARS, len(text)) + 1):
                            for piece in (text[j:k], " " + text[j:k]):
                                ids.update(by_text.get(piece, ()))
                made[src] = (torch.tensor(sorted(ids), dtype=torch.long), frozenset(ids),
                             torch.tensor(sorted(ids & odd), dtype=torch.long))
            self.candidates.append(made[src])

    def _allowed(self, text: str, source: str, cand: frozenset[int]) -> list[int] | None:
        """The candidates (`cand`) with neither comma nor newline that ``_extensions(text, source)`` accepts, when
        `text` is in the middle of a phrase (a non-empty last piece, no newline): the passage's text after each
        place the last piece occurs from the start of a word, and the rest of a stock reply `text` begins. None
        otherwise (then ``__call__`` scans the candidates)."""
        if "\n" in text or text.endswith(","):
            return None
        head = text.lstrip()
        *done, last = head.split(", ") if head else [""]
        if not last:
            return None
        ok: set[int] = set()
        by_text = self.tables.token_texts[0]
        if all(_whole(p, source) for p in done):
            for end in _begins_at(last, source):
                for k in range(end + 1, min(end + self.tables.longest, len(source)) + 1):
                    ok.update(by_text.get(source[end:k], ()))
        if NOT_RELEVANT.startswith(head):  # the answer so far is the start of the stock reply
            for k in range(len(head) + 1, len(NOT_RELEVANT) + 1):
                ok.update(by_text.get(NOT_RELEVANT[len(head):k], ()))
        return sorted(t for t in ok if t in cand and t not in self.tables.odd)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = torch.full_like(scores, float("-inf"))
        rows = scores.detach().float().cpu()  # one copy: no device sync per candidate on a GPU
        done, picked = [], []
        for b, ids in enumerate(input_ids[:, self.start:].tolist()):
            if self.eos in ids:  # finished row: padding follows
                done.append(b)
            else:
                picked.append((b, self._choose(self.tokenizer.decode(ids, skip_special_tokens=True), b, rows[b])))
        if done:
            out[done] = scores[done]
        if picked:
            at, best = (torch.tensor(x, device=scores.device) for x in zip(*picked))
            out[at, best] = scores[at, best]
        return out

    def _choose(self, text: str, b: int, row: torch.Tensor) -> int:
        """Row `b`'s token after the answer so far, `text`, given its scores `row`."""
        src, (cand, cand_set, odd) = self.sources[b], self.candidates[b]
        eos_score, accept = float(row[self.eos]), _extensions(text, src)
        allowed = self._allowed(text, src, cand_set)
        if allowed is not None:  # the best allowed token: looked-up ones, then commas/newlines that beat it
            best, value = None, float("-inf")
            if allowed:
                vals = row[allowed]
                j = int(vals.argmax())
                best, value = allowed[j], float(vals[j])
            vals = row[odd]
            above = (vals > value).nonzero().flatten()
            if len(above):
                ranked = vals[above].sort(descending=True)
                for t in odd[above[ranked.indices]].tolist():
                    if accept(self.tables.texts[t]):
                        best, value = t, float(row[t])
                        break
            if best is None or value < eos_score:  # EOS scores higher than every allowed token
                best = self.eos if best is None or copies(text, src, final=True) else best
            return best
        ranked = row[cand].sort(descending=True)
        order, values = cand[ranked.indices].tolist(), ranked.values.tolist()
        for t, v in zip(order, values):  # plain floats: indexing a tensor per candidate cost ~1 us each
            if v < eos_score:
                break  # EOS scores higher than every candidate left
            if accept(self.tables.texts[t]):
                return t
        # EOS; or, while the answer is not yet a whole copy, the best allowed candidate
        return self.eos if copies(text, src, final=True) else next(
            (t for t in order if accept(self.tables.texts[t])), self.eos)
