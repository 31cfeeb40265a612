"""Retrieval augmentation (issue 5): similar TRAINING cases put into the prompt as worked examples.

The design is ours. The paper says only that CancerLLM was combined with "five retrievers"; their names, the
prompt format and the results were not published, and no code for it is public.

- **Index.** One document per (training patient, task): the note body that patient's instructions of that task
  were asked about (all eight phenotype questions share one pathology report, so indexing per instruction row
  would store each report eight times). A hit is mapped back to that patient's instruction row of the query's
  task AND field, so an example always answers the same question as the query.
- **Retrievers** (`RETRIEVERS`): `bm25` (the `bm25s` library; English stop words, NLTK's local Porter stemmer),
  `tfidf` (scikit-learn word 1-2-grams, cosine) and `char_ngram` (character 3-5-grams inside word boundaries,
  cosine; robust to OCR noise and misspellings). Each has `fit(docs)` and a batched `search(queries, k)`.
- **Exclusion.** Only training rows are indexed; on top of that a candidate is dropped when it belongs to the
  query's patient or when its text hash (`note_key`: `data.loaders.text_hash` of the first 160 characters)
  equals that of any held-out (test or dev) note, so a duplicate note filed under another id cannot leak.
  `leakage_report` measures what got through (same patient, held-out id or hash, and near-duplicates by
  character n-gram cosine >= 0.9; the last is reported, not filtered).
- **Prompt.** The same Alpaca template the models were tuned on; inside `### Input:` come k lines
  `Example j: "<evidence>" -> <answer>` (phenotype: the sentence of the retrieved note stating its gold answer,
  at most 25 tokens around it, else its first 25 tokens; diagnosis: the retrieved note's first 40 tokens), then
  the test note and question as in training. The prompt must fit `prompt_budget(cfg)` tokens: the test note is
  cut (its start kept, as in training); example answers are never cut (long evidence is shortened first).
- **kNN.** `knn_answers`: the majority answer of the k retrieved cases, a non-LM reference for what the
  retrieved labels alone are worth.
- **Conditions** (`build_conditions`): no retrieval, each retriever at k, a k-sweep (first retriever), and the
  notes misspelled at 30% (robustness.misspell) without and with each retriever, stacked so every model predicts
  all of them in one batched call. Scores reuse `evaluation.score`; gains are paired bootstraps (`stats`).
- **Cost** (`timings`): index build time and per-query latency of each retriever, for notebooks/50_efficiency.

Used in notebooks/60_retrieval.ipynb.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from tqdm.auto import tqdm

from . import stats
from .data.loaders import text_hash
from .data.schema import NOT_MENTIONED
from .evaluation import HEADLINE, score
from .instructions import QUESTIONS, TASKS, TEMPLATE, cap_examples
from .metrics import reference_prf
from .robustness import misspell, stable_seed

STAGE = "60_retrieval"
MISSPELL_RATE = 0.3  # fraction of words misspelled in the noisy conditions (robustness.misspell)
KEY_CHARS = 160  # a note's identity for exclusion: the hash of its first 160 characters (see note_key)
NEAR_DUPLICATE = 0.9  # character n-gram cosine at which a retrieved note counts as a near-duplicate of the query
SNIPPET_TOKENS = {"phenotype_extraction": 25, "diagnosis_generation": 40}  # evidence per worked example
MIN_BODY_TOKENS = 64  # below this much room for the test note, evidence snippets are shortened first
KNN = "knn"
_PREFIX = "In the text: "
_EXAMPLES_HEAD = "Worked examples from other patients:\n"


# ============================================================================ retrievers
@lru_cache(maxsize=1)
def _porter():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.NLTK_EXTENSIONS)


def _stem(words: list[str]) -> list[str]:
    return [_porter().stem(w) for w in words]


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k columns per row, ties broken by the lower document index (stable)."""
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(scores, idx, axis=1)


class BM25Retriever:
    """Okapi BM25 (Lucene variant) from `bm25s`, Porter-stemmed words without English stop words."""

    def fit(self, docs: list[str]):
        import bm25s

        self.n_docs = len(docs)
        self.model = bm25s.BM25()
        self.model.index(self._tokens(docs, ids=True), show_progress=False)
        return self

    @staticmethod
    def _tokens(texts, ids=False):
        import bm25s

        return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stem, return_ids=ids, show_progress=False)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n_docs)
        docs, scores = self.model.retrieve(self._tokens(queries), k=k, show_progress=False, n_threads=0)
        # bm25s sorts by score only; re-sort so equal scores always come in document order, as the others do
        order = np.lexsort((docs, -scores), axis=1) if len(docs) else np.zeros((0, k), int)
        return np.take_along_axis(docs, order, 1).astype(int), np.take_along_axis(scores, order, 1)


class _CosineRetriever:
    vectorizer_kwargs: dict = {}

    def fit(self, docs: list[str]):
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, **self.vectorizer_kwargs)
        self.docs = self.vectorizer.fit_transform(list(docs))  # rows are L2-normalised: dot product = cosine
        return self

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = (self.vectorizer.transform(list(queries)) @ self.docs.T).toarray()  # all queries at once
        return _top_k(sims, min(k, self.docs.shape[0]))


class TfidfRetriever(_CosineRetriever):
    """Word unigrams and bigrams, sublinear tf-idf, cosine similarity."""
    vectorizer_kwargs = {"ngram_range": (1, 2)}


class CharNgramRetriever(_CosineRetriever):
    """Character 3-5-grams inside word boundaries, tf-idf, cosine: a misspelt word still shares most n-grams."""
    vectorizer_kwargs = {"analyzer": "char_wb", "ngram_range": (3, 5)}


RETRIEVERS = {"bm25": BM25Retriever, "tfidf": TfidfRetriever, "char_ngram": CharNgramRetriever}


# ============================================================================ the case index
def note_body(context: str, task: str, field: str) -> str:
    """The note inside an instruction context (inverse of build_instructions: "In the text: {body} {question}")."""
    if task != "phenotype_extraction":
        return context
    s = context[len(_PREFIX):] if context.startswith(_PREFIX) else context
    q = " " + QUESTIONS[field]
    return s[: -len(q)] if s.endswith(q) else s


def _bodies(df: pd.DataFrame) -> list[str]:
    return [note_body(c, t, f) for c, t, f in zip(df["context"], df["task"], df["field"])]


def note_key(body: str) -> str:
    """`text_hash` of the note's first KEY_CHARS characters. build_instructions cuts a note at a slightly
    different point for each question (the question's length enters the token budget), so a full-text hash
    would miss the same note asked under another field; two different notes sharing their first 160
    characters are excluded too, which errs on the safe side (9 of 892 TCGA reports share their first 160)."""
    return text_hash(body[:KEY_CHARS])


def held_out_hashes(*frames: pd.DataFrame) -> set[str]:
    """`note_key` of every note body in the given (test, dev) instruction sets."""
    return {note_key(b) for df in frames for b in _bodies(df)}


class CaseIndex:
    """Training cases indexed by one retriever, one index per task (documents in a seeded order, so score ties
    are broken at random but reproducibly). `fit_seconds` and `query_seconds` record the cost."""

    def __init__(self, train_df: pd.DataFrame, retriever: str, seed: int = 0):
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}; choose from {sorted(RETRIEVERS)}")
        self.name, self.train = retriever, train_df.reset_index(drop=True)
        bodies = _bodies(self.train)
        self.row = {(p, f): i for i, (p, f) in enumerate(zip(self.train["patient_id"], self.train["field"]))}
        self.tasks, self.query_seconds, self.n_queries = {}, 0.0, 0
        t0 = time.perf_counter()
        for task, grp in self.train.groupby("task", sort=True):
            lengths = pd.Series([len(bodies[i]) for i in grp.index], index=grp.index)
            first = grp.loc[lengths.sort_values(ascending=False, kind="stable").index]
            first = first.drop_duplicates("patient_id").sort_index()  # the least-cut version of each note
            first = first.iloc[np.random.default_rng(seed).permutation(len(first))]
            docs = [bodies[i] for i in first.index]
            self.tasks[task] = {"patients": first["patient_id"].to_numpy(), "docs": docs,
                                "hashes": [note_key(d) for d in docs], "model": RETRIEVERS[retriever]().fit(docs)}
        self.fit_seconds = time.perf_counter() - t0

    def neighbours(self, queries: list[str], task: str, fields: list[str], patients: list[str], k: int,
                   exclude_hashes: set[str] = frozenset()) -> list[list[int]]:
        """For each query: up to k training row positions of the same task and field, most similar first,
        never of the query's patient and never a note whose hash is in `exclude_hashes`."""
        ix = self.tasks.get(task)
        if ix is None or k <= 0 or not queries:
            return [[] for _ in queries]
        uniq = list(dict.fromkeys(queries))  # the 8 phenotype questions of a patient share one note: search once
        n_docs = len(ix["docs"])
        out: list[list[int] | None] = [None] * len(queries)
        fetch = min(n_docs, 4 * k + 16)  # retrieve more than k, then filter
        while True:
            t0 = time.perf_counter()
            idx, _ = ix["model"].search(uniq, fetch)
            self.query_seconds += time.perf_counter() - t0
            self.n_queries += len(uniq)
            hits = dict(zip(uniq, idx))
            for i, (q, fld, pid) in enumerate(zip(queries, fields, patients)):
                if out[i] is None:
                    rows = [self.row[(ix["patients"][d], fld)] for d in hits[q]
                            if ix["patients"][d] != pid and ix["hashes"][d] not in exclude_hashes
                            and (ix["patients"][d], fld) in self.row]
                    out[i] = rows[:k] if len(rows) >= k or fetch == n_docs else None
            if all(o is not None for o in out):
                return out
            fetch = n_docs  # a few queries lost too many candidates: search everything once more


# ============================================================================ prompts
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
    return head + (f"{_PREFIX}{body} {QUESTIONS[field]}" if task == "phenotype_extraction" else body)


def _n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text)["input_ids"])  # with BOS, as generation sees it


def build_prompt(row, body: str, cases: pd.DataFrame, tokenizer, max_prompt_tokens: int) -> tuple[str, str, int, int]:
    """(context, prompt, prompt tokens, examples used) of one test row with `cases` (training rows) as worked examples.
    The test note is cut to fit; evidence snippets are halved while the note would get < MIN_BODY_TOKENS; as a
    last resort examples are dropped from the end (never their answers cut)."""
    size = SNIPPET_TOKENS[row.task]
    while True:
        examples = [f'Example {j}: "{evidence_snippet(b, list(a), size, tokenizer)}" -> {r}' for j, (b, a, r) in
                    enumerate(zip(_bodies(cases), cases["answers"], cases["response"]), 1)]
        if tokenizer is None:
            ctx = _context(row.task, row.field, examples, body)
            return ctx, TEMPLATE.format(instruction=row.instruction, context=ctx), -1, len(cases)
        frame = _n_tokens(tokenizer, TEMPLATE.format(instruction=row.instruction,
                                                       context=_context(row.task, row.field, examples, "")))
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
        prompt = TEMPLATE.format(instruction=row.instruction, context=ctx)
        n = _n_tokens(tokenizer, prompt)
        if n <= max_prompt_tokens or cut == 0:
            return ctx, prompt, n, len(cases)
        cut = max(0, cut - (n - max_prompt_tokens))  # re-tokenising at the seam can add a token or two


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
        out["prompt_tokens"] = [_n_tokens(tokenizer, p) for p in out["prompt"]] if tokenizer is not None else -1
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
    """Test rows whose note is misspelled at `rate` (robustness.misspell, seeded per row exactly as
    notebooks/40_robustness.ipynb seeds it), prompts rebuilt within `max_prompt_tokens`. Misspelt words cost
    more tokens, so with the retrieval budget the same (already cut) note is kept whole: only the noise differs."""
    out = test_df.reset_index(drop=True).copy()
    ctxs, prompts = [], []
    for row, body in zip(out.itertuples(), _bodies(out)):
        noisy = misspell(body, rate, stable_seed(seed, row.id, "misspelling"))
        ctx, prompt, _, _ = build_prompt(row, noisy, out.iloc[[]], tokenizer, max_prompt_tokens)
        ctxs.append(ctx), prompts.append(prompt)
    out["context"], out["prompt"] = ctxs, prompts
    return out


def prompt_budget(cfg) -> int:
    """Prompt tokens allowed with retrieval: room for the answer inside the position limit, and at most 1.25x
    the longest sequence the model was tuned on (sft_max_length) minus the answer, so retrieved prompts are
    longer than training prompts by a bounded amount (demo: min(512 - 24, 400 - 24) = 376 vs 296 in training)."""
    return min(cfg.max_position_embeddings - cfg.max_new_tokens, int(1.25 * cfg.sft_max_length) - cfg.max_new_tokens)


# ============================================================================ kNN and leakage
def knn_answers(retrieved_answers) -> list[list[str]]:
    """Per row, the most common answer among its retrieved cases (ties: the higher-ranked case); [] if none."""
    out = []
    for cases in retrieved_answers:
        keys = [", ".join(a) for a in cases]
        if not keys:
            out.append([])
            continue
        counts = Counter(keys)
        best = max(counts.values())
        out.append(list(cases[next(i for i, key in enumerate(keys) if counts[key] == best)]))
    return out


def leakage_report(test_df: pd.DataFrame, retrieved: pd.DataFrame, train_df: pd.DataFrame, vectorizer=None) -> dict:
    """Counts over the retrieved cases of `retrieved` (an `augment` output): same_patient (a case of the query's
    own patient), held_out (a case whose id or note hash is in `test_df`, the held-out rows), near_duplicate
    (character n-gram cosine >= NEAR_DUPLICATE between the query note and the case's note; reported only).
    `vectorizer`: a fitted `_near_duplicate_vectorizer` to reuse across calls."""
    bodies = dict(zip(train_df["id"], _bodies(train_df)))
    bodies.update(zip(test_df["id"], _bodies(test_df)))
    held_ids, held_hashes = set(test_df["id"]), held_out_hashes(test_df)
    pairs = [(q, bodies[c]) for q, ids in zip(_bodies(retrieved), retrieved["retrieved_ids"]) for c in ids]
    same = sum(sum(x == p for x in pats) for p, pats in zip(retrieved["patient_id"], retrieved["retrieved_patients"]))
    held = sum((c in held_ids) or (note_key(bodies[c]) in held_hashes)
               for ids in retrieved["retrieved_ids"] for c in ids)
    near = 0
    if pairs:
        vec = vectorizer or _near_duplicate_vectorizer(test_df, train_df)
        a, b = vec.transform([p[0] for p in pairs]), vec.transform([p[1] for p in pairs])
        near = int((np.asarray(a.multiply(b).sum(axis=1)).ravel() >= NEAR_DUPLICATE).sum())
    return {"queries": int(len(retrieved)), "retrieved_cases": len(pairs), "same_patient": int(same),
            "held_out": int(held), "near_duplicate": near}


def _near_duplicate_vectorizer(test_df: pd.DataFrame, train_df: pd.DataFrame) -> TfidfVectorizer:
    """Character 3-5-gram tf-idf fitted on every note once, so near-duplicate counts are comparable across calls."""
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    return vec.fit(list(dict.fromkeys(_bodies(train_df) + _bodies(test_df))))


def leakage_table(stacked: pd.DataFrame, held_out, train_df: pd.DataFrame) -> pd.DataFrame:
    """One leakage_report row per retrieval condition of a `build_conditions` frame; `held_out`: a frame or a
    list of frames (test, dev)."""
    held_out = held_out if isinstance(held_out, pd.DataFrame) else pd.concat(list(held_out), ignore_index=True)
    vec = _near_duplicate_vectorizer(held_out, train_df)
    rows = {c: leakage_report(held_out, g, train_df, vec)
            for c, g in stacked[stacked["k"] > 0].groupby("condition", sort=False)}
    return pd.DataFrame(rows).T.rename_axis("condition")


# ============================================================================ conditions
def condition_name(retriever: str, k: int, noise: float) -> str:
    base = "no retrieval" if k == 0 else f"{retriever} k={k}"
    return f"misspelled {noise:g}: {base}" if noise else base


def build_conditions(test_df: pd.DataFrame, train_df: pd.DataFrame, cfg, tokenizer, held_out=(),
                     sweep_retrievers=None) -> pd.DataFrame:
    """Every condition of the chapter stacked into one frame (so each model predicts all of them in one call):
    no retrieval; each of cfg.retrievers at cfg.retrieval_k; the k-sweep cfg.retrieval_k_sweep for
    `sweep_retrievers` (default: the first retriever only — every condition costs a full generation pass per
    model, and the demo chapter must stay near 90 s on two CPU cores); notes misspelled at MISSPELL_RATE
    without and with each retriever.
    Test rows are capped at cfg.retrieval_max_instances. Ids are "<condition>|<id>", the original in source_id;
    added columns: condition, noise (and augment's). `held_out`: extra frames (dev) whose notes never come back."""
    test = cap_examples(test_df, cfg.retrieval_max_instances, cfg.seed)
    budget = prompt_budget(cfg)
    exclude = held_out_hashes(test_df, *held_out)
    index = {name: CaseIndex(train_df, name, cfg.seed) for name in cfg.retrievers}
    ks = sorted({cfg.retrieval_k, *cfg.retrieval_k_sweep} - {0})
    sweep = cfg.retrievers[:1] if sweep_retrievers is None else sweep_retrievers
    plan = [("none", 0, 0.0)] + [(r, k, 0.0) for r in cfg.retrievers for k in ks
                                 if k == cfg.retrieval_k or r in sweep]
    plan += [("none", 0, MISSPELL_RATE)] + [(r, cfg.retrieval_k, MISSPELL_RATE) for r in cfg.retrievers]
    noisy = perturb(test, MISSPELL_RATE, cfg.seed, tokenizer, budget)
    frames = []
    for name, k, noise in tqdm(plan, desc="building prompts", leave=False):
        base = noisy if noise else test
        aug = augment(base, train_df, index[name] if k else name, k, tokenizer, budget, cfg.seed, exclude)
        cond = condition_name(name, k, noise)
        frames.append(aug.assign(condition=cond, noise=noise, source_id=aug["id"], id=cond + "|" + aug["id"]))
    return pd.concat(frames, ignore_index=True)


def load_tokenizer(cfg):
    """The run's tokenizer without the model weights (prompt budgets are counted in its tokens)."""
    import json

    from transformers import AutoTokenizer

    from .pipeline import base_dir

    pointer = base_dir(cfg) / "pointer.json"
    path = json.loads(pointer.read_text(encoding="utf-8"))["base_model"] if pointer.is_file() else base_dir(cfg)
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)


def predict_conditions(cfg, stacked: pd.DataFrame) -> dict[str, list[list[str]]]:
    """Parsed answers of every trained model (cfg.ablation_models) on all stacked conditions, each model loaded
    once (pipeline.load_tuned merges each LoRA adapter into its base: about 3x faster on CPU). The
    untuned base (zero_shot, F1 0 in 30_evaluation) is left out to save a quarter of the chapter's CPU time."""
    from . import inference, pipeline

    preds = {}
    for name in cfg.ablation_models:
        model, tokenizer = pipeline.load_tuned(cfg, name)  # LoRA merged into the base: faster generation
        _, preds[name] = inference.predict(model, tokenizer, stacked, cfg.max_new_tokens, cfg.eval_batch_size,
                                           desc=name)
        del model
    return preds


def timings(train_df: pd.DataFrame, test_df: pd.DataFrame, names, seed: int, repeats: int = 3) -> pd.DataFrame:
    """Per retriever: index build time (s, both tasks) and retrieval latency (ms per query, batched search of
    the distinct test notes), medians over `repeats` (time.perf_counter)."""
    bodies = _bodies(test_df)
    rows = {}
    for name in names:
        fit, per_query = [], []
        for _ in range(repeats):
            ix = CaseIndex(train_df, name, seed)
            for task in TASKS:
                pos = np.flatnonzero((test_df["task"] == task).to_numpy())
                ix.neighbours([bodies[i] for i in pos], task, list(test_df["field"].iloc[pos]),
                              list(test_df["patient_id"].iloc[pos]), 1)
            fit.append(ix.fit_seconds), per_query.append(ix.query_seconds / max(ix.n_queries, 1))
        rows[name] = {"documents": sum(len(t["docs"]) for t in ix.tasks.values()),
                      "index_build_seconds": round(float(np.median(fit)), 4),
                      "latency_ms_per_query": round(1000 * float(np.median(per_query)), 3)}
    return pd.DataFrame(rows).T.astype({"documents": int}).rename_axis("retriever")


# ============================================================================ scoring
def score_conditions(stacked: pd.DataFrame, preds: dict, n_boot: int, seed: int,
                     metric_names=(HEADLINE, "exact_match")) -> pd.DataFrame:
    """Tidy scores per condition and system (the LM systems in `preds`, aligned with `stacked`'s rows, plus
    `knn` for every retrieval condition): condition, retriever, k, noise, task, system, metric, precision,
    recall, f1, f1_ci_low, f1_ci_high, n (x100, evaluation.score)."""
    knn = knn_answers(stacked["retrieved_answers"])
    frames = []
    for cond, grp in stacked.groupby("condition", sort=False):
        pos = grp.index.to_numpy()
        sub = {s: [p[i] for i in pos] for s, p in preds.items()}
        if grp["k"].iloc[0] > 0:
            sub[KNN] = [knn[i] for i in pos]
        tab = score(grp.reset_index(drop=True), sub, n_boot, seed, list(metric_names))
        frames.append(tab.assign(condition=cond, retriever=grp["retriever"].iloc[0], k=int(grp["k"].iloc[0]),
                                 noise=float(grp["noise"].iloc[0])))
    cols = ["condition", "retriever", "k", "noise", "task", "system", "metric", "precision", "recall", "f1",
            "f1_ci_low", "f1_ci_high", "n"]
    return pd.concat(frames, ignore_index=True)[cols]


def _instance_f1(stacked: pd.DataFrame, pred: list, metric: str) -> pd.Series:
    return pd.Series([100 * reference_prf(list(g), p, metric)[2] for g, p in zip(stacked["answers"], pred)],
                     index=stacked.index)


def gain_table(stacked: pd.DataFrame, preds: dict, k: int, n_boot: int, seed: int,
               metric: str = HEADLINE) -> pd.DataFrame:
    """Per LM system, task and retriever at `k` (clean and misspelled notes): F1 with retrieval minus F1 without,
    paired over the same test rows (stats.paired_bootstrap on per-instance F1 x100)."""
    rows = []
    for system, pred in preds.items():
        f1 = _instance_f1(stacked, pred, metric)
        for noise in sorted(stacked["noise"].unique()):
            at = stacked["noise"] == noise
            base = stacked[at & (stacked["k"] == 0)]
            for (name, task), grp in stacked[at & (stacked["k"] == k)].groupby(["retriever", "task"], sort=False):
                ref = base[base["task"] == task]
                ref = pd.Series(ref.index, index=ref["source_id"])  # the same test row without retrieval
                with_r = f1[grp.index].to_numpy()
                without = f1[ref.loc[grp["source_id"]].to_numpy()].to_numpy()
                res = stats.paired_bootstrap(with_r, without, n_boot, seed)
                rows.append({"system": system, "task": task, "retriever": name, "k": k, "noise": noise,
                             "f1_without": float(without.mean()), "f1_with": float(with_r.mean()),
                             **{key: (int(v) if key == "n" else float(v)) for key, v in res.items()}})
    return pd.DataFrame(rows)


def f1_table(scores: pd.DataFrame, task: str, metric: str = HEADLINE, noise: float | None = None) -> pd.DataFrame:
    """Rows: conditions (in run order); columns: systems; cells 'F1 [CI low, CI high]' (x100)."""
    sub = scores[(scores["task"] == task) & (scores["metric"] == metric)]
    if noise is not None:
        sub = sub[sub["noise"] == noise]
    cell = sub.assign(cell=[f"{r.f1:.1f} [{r.f1_ci_low:.1f}, {r.f1_ci_high:.1f}]" for r in sub.itertuples()])
    tab = cell.pivot(index="condition", columns="system", values="cell")
    rows, cols = list(dict.fromkeys(sub["condition"])), list(dict.fromkeys(sub["system"]))
    return tab.reindex(index=rows, columns=cols).fillna("—")


def gain_display(gains: pd.DataFrame) -> pd.DataFrame:
    """The gain table as the chapter shows it: rows task x notes (clean / misspelled) x model, one column per
    retriever, cells 'gain [95% CI]' in F1 points."""
    g = gains.assign(cell=[f"{r.diff:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]" for r in gains.itertuples()],
                     notes=np.where(gains["noise"] > 0, "misspelled " + gains["noise"].map("{:g}".format), "clean"))
    tab = g.pivot(index=["task", "notes", "system"], columns="retriever", values="cell")
    order = pd.MultiIndex.from_frame(g[["task", "notes", "system"]].drop_duplicates().sort_values(
        ["task", "notes"], key=lambda c: c.map({t: i for i, t in enumerate(TASKS)}) if c.name == "task" else c,
        kind="stable"))
    return tab.reindex(index=order, columns=list(dict.fromkeys(g["retriever"])))


def condition_overview(stacked: pd.DataFrame, budget: int) -> pd.DataFrame:
    """Per condition: test rows, retrieved cases, and prompt length in tokens (mean / max, against the budget)."""
    g = stacked.groupby("condition", sort=False)
    return pd.DataFrame({"rows": g.size(), "retrieved cases": g["retrieved_ids"].apply(lambda s: int(s.map(len).sum())),
                         "mean prompt tokens": g["prompt_tokens"].mean().round(0).astype(int),
                         "max prompt tokens": g["prompt_tokens"].max(), "budget": budget})


def noise_table(scores: pd.DataFrame, k: int, metric: str = HEADLINE) -> pd.DataFrame:
    """F1 (x100) per task and system (rows) for clean and misspelled notes, without and with each retriever at k."""
    sub = scores[(scores["metric"] == metric) & scores["k"].isin([0, k])]
    tab = sub.pivot_table(index=["task", "system"], columns="condition", values="f1", sort=False).round(1)
    return tab.reindex(columns=list(dict.fromkeys(sub["condition"])))


def retrieval_summary(scores: pd.DataFrame, gains: pd.DataFrame, metric: str = HEADLINE) -> str:
    """What a clinical reader should take away, per task, with this run's numbers (Markdown)."""
    lines = []
    sub = scores[scores["metric"] == metric]
    for task in [t for t in TASKS if t in set(gains["task"])]:
        g = gains[(gains["task"] == task) & (gains["noise"] == 0)]
        k = int(g["k"].iloc[0])
        s = sub[sub["task"] == task]
        plain = s[(s["k"] == 0) & (s["noise"] == 0)].set_index("system")["f1"]
        knn = s[(s["system"] == KNN) & (s["noise"] == 0) & (s["k"] == k)].set_index("retriever")["f1"]
        up, down = g[g["ci_low"] > 0], g[g["ci_high"] < 0]
        text = f"- **{task.replace('_', ' ')}** (n = {int(g['n'].iloc[0])} test questions, k = {k}): "
        if (g["diff"].abs() < 0.05).all():
            text += f"retrieval left every model's F1 unchanged ({len(g)} model × retriever pairs)"
        else:
            best = g.loc[g["diff"].idxmax()]
            text += (f"retrieval changed F1 by {g['diff'].min():+.1f} to {g['diff'].max():+.1f} points over {len(g)} "
                     f"model × retriever pairs; {len(up)} gains have a 95% CI above 0 and {len(down)} below 0 "
                     f"(largest: {best.system} + {best.retriever}, {best.f1_without:.1f} → {best.f1_with:.1f})")
        if len(knn) and len(plain):
            text += (f". The retrieved labels alone (kNN majority vote) score {knn.min():.1f}–{knn.max():.1f}, "
                     f"against {plain.max():.1f} for the best model without retrieval ({plain.idxmax()})")
            best_with = s[(s["k"] == k) & (s["noise"] == 0) & (s["system"] != KNN)]["f1"].max()
            if knn.max() > best_with:
                text += ": the models make less of the retrieved cases than a plain vote over their answers does"
        noisy = gains[(gains["task"] == task) & (gains["noise"] > 0)]
        if len(noisy):
            hurt = (s[(s["k"] == 0) & (s["noise"] > 0)].set_index("system")["f1"] - plain).dropna()
            text += (f". With {noisy['noise'].iloc[0]:.0%} of words misspelled, F1 without retrieval moved by "
                     f"{hurt.drop(KNN, errors='ignore').mean():+.1f} points (mean over models), and adding retrieved "
                     f"examples changed it by {noisy['diff'].mean():+.1f} (range {noisy['diff'].min():+.1f} to "
                     f"{noisy['diff'].max():+.1f}; {int((noisy['ci_low'] > 0).sum())} of {len(noisy)} CIs above 0)")
        lines.append(text + ".")
    any_up = bool((gains["ci_low"] > 0).any())
    verdict = ("**Reading.** " + ("Retrieval helps where a gain's CI sits above 0 (see the table); elsewhere this "
                                  "test set cannot tell it from no retrieval." if any_up else
                                  "In this run retrieval does not measurably help any model on either task, clean "
                                  "or misspelled; ") +
               "a gain that is not above 0 with its CI is not evidence that retrieved examples make extraction safer.")
    return "\n".join(lines) + "\n\n" + verdict


def metrics_json(scores: pd.DataFrame, gains: pd.DataFrame, leakage: pd.DataFrame, timing: pd.DataFrame,
                 budget: int) -> dict:
    """What the stage hands on: scores per condition/task/system/metric, gains, leakage counts and the
    retrievers' timings. Write it with provenance.write_metrics: the timing values (keys with "seconds" and
    "latency") go to timings.json, so metrics.json stays identical between identical runs."""
    plain = scores[(scores["k"] == 0) & (scores["noise"] == 0)]
    out: dict = {"n_instances": {t: int(n) for t, n in plain.groupby("task")["n"].first().items()},
                 "prompt_budget_tokens": budget, "conditions": {},
                 "gains": gains.round(6).to_dict(orient="records"),
                 "leakage": {c: {k: int(v) for k, v in r.items()} for c, r in leakage.to_dict(orient="index").items()},
                 "timing": timing.to_dict(orient="index")}
    for r in scores.itertuples():
        out["conditions"].setdefault(r.condition, {"retriever": r.retriever, "k": r.k, "noise": r.noise}) \
            .setdefault(r.task, {}).setdefault(r.system, {})[r.metric] = {
                "precision": round(float(r.precision), 6), "recall": round(float(r.recall), 6),
                "f1": round(float(r.f1), 6), "ci_low": round(float(r.f1_ci_low), 6),
                "ci_high": round(float(r.f1_ci_high), 6)}
    return out


def example_prompt(stacked: pd.DataFrame, is_real: bool, show: bool, k: int | None = None) -> str:
    """One augmented phenotype prompt (at `k` examples when given) and its gold answer, for synthetic data with
    show_examples only: real note text and retrieved snippets are never shown."""
    if is_real or not show:
        return "(not shown: real data, or show_examples is off)"
    rows = stacked[(stacked["k"] > 0) & (stacked["noise"] == 0) & (stacked["task"] == "phenotype_extraction")]
    rows = rows[rows["k"] == k] if k is not None else rows
    return rows["prompt"].iloc[0] + rows["response"].iloc[0] if len(rows) else "(no retrieval condition)"
