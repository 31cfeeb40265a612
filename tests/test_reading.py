"""The evaluation chapter's "do the models read?" table and its words, computed from predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from cancerllm import evaluation as ev
from cancerllm import inference


def _test_set(n=30):
    rows = []
    for i in range(n):
        rows.append({"id": f"P{i}:t_stage", "task": "phenotype_extraction", "field": "t_stage", "cancer_type": "x",
                     "answers": [f"T{i % 4 + 1}"]})
        rows.append({"id": f"P{i}:diagnosis", "task": "diagnosis_generation", "field": "diagnosis",
                     "cancer_type": "x", "answers": [f"Malignant neoplasm of site {i % 3}"]})
    return pd.DataFrame(rows)


def test_reading_table_counts_distinct_answers_and_gaps_to_baselines():
    test = _test_set()
    gold = [list(a) for a in test["answers"]]
    const = [["T2"] if t == "phenotype_extraction" else ["Malignant neoplasm of site 0"] for t in test["task"]]
    preds = {"cancer_cpt": gold, "no_cpt": const, "tfidf_logreg": const, "rule": gold}
    tab = ev.reading_table(test, preds)
    assert tab.loc["cancer_cpt", "phenotype: distinct answers"] == 4
    assert tab.loc["no_cpt", "phenotype: distinct answers"] == 1
    assert tab.loc["cancer_cpt", "phenotype: F1"] == 100.0
    assert tab.loc["cancer_cpt", "phenotype: − tfidf_logreg"] == 100.0 - tab.loc["tfidf_logreg", "phenotype: F1"] > 0
    assert tab.loc["no_cpt", "diagnosis: − rule"] < 0
    words = ev.reading_summary(tab, ["no_cpt", "cancer_cpt", "general_cpt"], min_distinct=4)
    assert "**no_cpt** gives a constant answer" in words
    assert "**cancer_cpt** answers vary with the note" in words and "above tfidf_logreg" in words
    assert "general_cpt" not in words  # not in this run: not described


@pytest.mark.parametrize("answer, final, ok", [
    ("Bladder, trigone", True, True),          # two phrases of the passage, joined
    ("Bladder, dder", True, False),            # a piece cut out of a word
    ("thyroidectom", False, True),             # still growing: may become "thyroidectomy"
    ("thyroidectom", True, False),             # but cannot end there
    ("dder", False, False),                    # begun inside a word: can never end as a copy
    ("inoma", False, False), ("hyroid", False, False),
    ("6 cm", True, False), ("6 cm", False, False),  # not inside the number 2.6
    ("2", False, True), ("2", True, False),    # "2" may grow into "2.6 cm", but is not a phrase of it
    ("2.6", True, True), ("2.6 cm", True, True),
    ("pT2", True, True),                       # a TNM component ends where the chain's next begins
    ("T2", True, False),                       # ... but does not start inside "pT2"
    ("pT3", True, False),                      # not in the passage
    ("not rel", False, True), ("not relevant", True, True), ("not rel", True, False),
    ("2.6 cm\nanything after the newline", False, True),
    ("", True, True),                          # an empty answer is read as not relevant
])
def test_copies_accepts_only_whole_phrases_of_the_passage(answer, final, ok):
    source = "SPECIMEN: A. Bladder, trigone, radical cystectomy pT2N1M0; thyroidectomy 2.6 cm"
    assert inference.copies(answer, source, final=final) is ok


def test_copy_constrained_generation_only_writes_phrases_of_the_passage():
    from cancerllm import modeling
    from cancerllm.config import make_config

    texts = ["the tumor measures 2.5 cm", "grade 2 invasive ductal carcinoma", "no lymph node involvement"] * 4
    tok = modeling.train_tokenizer(texts, 120)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok)  # random init: free decoding writes anything
    sources = ["the tumor measures 2.5 cm", "grade 2 invasive ductal carcinoma", "no lymph node involvement"] * 2
    prompts = [f"In the text: {s} What? ### Response:" + " x" * k for k, s in enumerate(sources)]
    free = inference.generate(model, tok, prompts, 8, 4)
    held = inference.generate(model, tok, prompts, 8, 4, sources=sources)
    assert not all(inference.copies(a, s) for a, s in zip(free, sources))  # the constraint has work to do
    assert all(inference.copies(a, s) for a, s in zip(held, sources))
    mixed = inference.generate(model, tok, prompts, 8, 4, sources=[None, *sources[1:]])
    assert mixed[0] == free[0] and mixed[1:] == held[1:]  # None = free; order kept across the two groups


def test_copy_constraint_picks_what_a_scan_of_the_whole_vocabulary_picks():
    """The processor checks only each passage's candidate tokens; an exhaustive scan, best score first, of every
    token (EOS allowed once the answer is a whole copy) must choose the same token."""
    import torch

    from cancerllm import modeling

    src = "FINAL DIAGNOSIS: A. Bladder, trigone, radical cystectomy: urothelial carcinoma, pT2N1M0, 2.6 cm."
    tok = modeling.train_tokenizer([src, "not relevant", "the tumor measures 2.5 cm, grade 2"] * 4, 150)
    gen = torch.Generator().manual_seed(0)
    prompt = tok("x")["input_ids"]
    proc = inference.CopyConstraint(tok, [src], len(prompt))
    special = set(tok.all_special_ids) - {tok.eos_token_id}

    def check(ids, scores, text):
        chosen = int(proc(ids, scores.clone())[0].argmax())
        decoded = tok.decode(ids[0, len(prompt):].tolist(), skip_special_tokens=True)
        ended = inference.copies(decoded, src, final=True)
        scan = [t for t in scores[0].argsort(descending=True).tolist() if t not in special and (
            ended if t == tok.eos_token_id else inference.copies(decoded + tok.decode([t]), src))]
        assert chosen == (scan[0] if scan else tok.eos_token_id), (text, decoded, chosen, scan[:3])
        return chosen

    states = ["", " Bla", " Bladder", " Bladder, trig", " pT2", " not rel", " 2.6", " urothelial carcinoma",
              " carcinoma", " A", " trigone,"]
    for text in states:
        ids = torch.tensor([prompt + tok(text, add_special_tokens=False)["input_ids"]])
        for _ in range(20):
            check(ids, torch.randn(1, len(tok), generator=gen), text)
    # and every state greedy decoding reaches: walks of random scores, each step checked against the scan
    for walk in range(40):
        ids = torch.tensor([prompt])
        for _ in range(12):
            t = check(ids, torch.randn(1, len(tok), generator=gen) * (1 + walk % 4), f"walk {walk}")
            ids = torch.cat([ids, torch.tensor([[t]])], dim=1)
            if t == tok.eos_token_id or "\n" in tok.decode(ids[0, len(prompt):]):
                break  # ended (``parse_answer`` reads up to the newline; after it the constraint keeps to candidates)


def test_copy_constraint_token_table_belongs_to_its_tokenizer():
    """The token-text table is kept per live tokenizer object and goes with it: it was keyed by ``id()``, and a
    tokenizer allocated at a freed one's address got that one's table — token ids beyond its own vocabulary (an
    IndexError in a full test run, scoring an external arm after another tokenizer had gone)."""
    import gc

    from cancerllm import modeling
    from cancerllm.inference import copying

    small = modeling.train_tokenizer(["grade 2 invasive ductal carcinoma"] * 4, 80)
    big = modeling.train_tokenizer(["the tumor measures 2.5 cm, grade 2 invasive ductal carcinoma"] * 4, 140)
    for tok in (small, big):
        by_text, marks = copying._token_texts(tok)
        assert all(i < len(tok) for i in marks)
        assert max(i for ids in by_text.values() for i in ids) < len(tok)
    assert copying._token_texts(small) is copying._token_texts(small)  # computed once
    n = len(copying._TOKEN_TEXTS)
    del big, tok
    gc.collect()
    assert len(copying._TOKEN_TEXTS) == n - 1  # no entry left for a later tokenizer to inherit


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_shared_prefix_reading_equals_reading_each_prompt_whole(attn):
    """``first_tokens_shared`` (each passage once, every question's block masked to see the passage and itself)
    gives every prompt the next-token distribution that reading the prompt alone gives: the same greedy token
    and the same probability of the watched token, for both attention implementations that take a 4D mask;
    and ``predict`` answers the same either way."""
    import torch

    from cancerllm import modeling
    from cancerllm.config import make_config
    from cancerllm.instructions import QUESTIONS, join_input, render

    passages = ["The tumor measures 2.5 cm.", "Grade 2 invasive ductal carcinoma, pT2N1M0.", "No lymph nodes."]
    tok = modeling.train_tokenizer(passages * 4 + list(QUESTIONS.values()) * 4 + ["not relevant"] * 4, 200)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    torch.manual_seed(0)
    model = modeling.build_small_model(cfg, tok)
    model.config._attn_implementation = attn
    prompts, prefixes = [], []
    for p in passages:
        for q in list(QUESTIONS.values())[:5]:
            prompt = render("", join_input(p, q), "short")
            prompts.append(prompt)
            prefixes.append(prompt[:prompt.rindex(p) + len(p)])
    watch = tok("not relevant", add_special_tokens=False)["input_ids"][0]
    whole, p_whole = inference.first_tokens(model, tok, prompts, 4, watch)
    shared, p_shared = inference.first_tokens_shared(model, tok, prompts, prefixes, 4, watch)
    assert shared == whole
    assert max(abs(a - b) for a, b in zip(p_whole, p_shared)) < 1e-5
    # a prefix that does not end where the prompt's tokens split (mid-word) is read whole, not mis-split
    cut = [p[:-3] for p in prefixes]
    assert inference.first_tokens_shared(model, tok, prompts, cut, 4, watch)[0] == whole


def test_predict_answers_the_same_with_and_without_the_shared_prefix():
    from cancerllm import modeling
    from cancerllm.config import make_config
    from cancerllm.data.synthetic import generate_cohort
    from cancerllm.instructions import build_instructions, frame_texts

    cohort = generate_cohort(12, seed=3, n_general_notes=0)
    tok = modeling.train_tokenizer(list(cohort.notes["text"]) + frame_texts(5), 400)
    df = build_instructions(cohort, "train", tok, 320, 8, "short").head(20)
    assert (df["task"] == "phenotype_extraction").sum() > 5
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok)
    a = inference.predict(model, tok, df, 6, 16, return_details=True)
    b = inference.predict(model, tok, df, 6, 16, return_details=True, shared_prefix=False)
    assert a[1] == b[1] and a[2]["generated"] == b[2]["generated"]
    assert max(abs(x - y) for x, y in zip(a[2]["confidence"]["sequence"], b[2]["confidence"]["sequence"])) < 1e-5


def test_one_steps_check_of_every_candidate_is_copies_itself():
    """``copying._extensions`` (the per-step shortcut the constraint uses) must say what ``copies`` says for every
    answer so far and every candidate piece: prefixes of copies, of non-copies, of the stock reply, with commas,
    newlines and leading spaces."""
    import random

    from cancerllm.inference.copying import _extensions

    src = "FINAL DIAGNOSIS: A. Bladder, trigone, radical cystectomy: urothelial carcinoma, pT2N1M0, 2.6 cm."
    answers = ["Bladder, trigone", " urothelial carcinoma, pT2", "not relevant", "pT2N1M0", "Bladder,trig",
               "2.6 cm\nmore", " carcinoma, , x", "Bladder, dder", "  ", "A. Bladder"]
    pieces = ["", " ", ",", ", ", " x", "one", "r", " c", "\n", "a\n", "T2", "N1", ", t", " rel", "evant", ".", "2.6"]
    rng = random.Random(0)
    pieces += ["".join(rng.choice(src + " ,\n") for _ in range(rng.randint(1, 4))) for _ in range(300)]
    for answer in answers:
        for k in range(len(answer) + 1):
            text = answer[:k]
            accept = _extensions(text, src)
            for piece in pieces:
                assert accept(piece) == inference.copies(text + piece, src), (text, piece)


def test_staged_decoding_drops_ended_rows_and_answers_as_one_call():
    """``_generate`` decodes a batch in stages (``_budgets``), dropping the rows that ended between
    ``model.generate`` calls: the same answers, token counts and log-probabilities (to float rounding) as one call
    per batch, free and copy-constrained, with rows ending inside every stage."""
    from collections import Counter

    import torch

    from cancerllm import modeling
    from cancerllm.config import make_config
    from cancerllm.inference import generation

    assert generation._budgets(50, (8, 24)) == [8, 16, 26] and generation._budgets(6, (8, 24)) == [6]
    texts = ["the tumor measures 2.5 cm", "grade 2 invasive ductal carcinoma", "no lymph node involvement"] * 4
    tok = modeling.train_tokenizer(texts, 120)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    torch.manual_seed(0)
    model = modeling.build_small_model(cfg, tok)
    sources = texts[:3] * 3
    prompts = [f"In the text: {s} What? ### Response:" + " x" * k for k, s in enumerate(sources)]
    free = generation._generate(prompts, [None] * 9, model, tok, 12, 9, "x", True, stages=())
    common = Counter(t for g in free for t in tok(g, add_special_tokens=False)["input_ids"]).most_common(1)[0][0]
    with torch.no_grad():  # EOS wherever the untuned model's most frequent token would win: rows end at many steps
        model.lm_head.weight[tok.eos_token_id] = model.lm_head.weight[common] * 1.05
    for src in ([None] * 9, sources):
        one_lp, staged_lp = [], []
        one = generation._generate(prompts, src, model, tok, 12, 4, "x", True, one_lp, stages=())
        staged = generation._generate(prompts, src, model, tok, 12, 4, "x", True, staged_lp, stages=(2, 8))
        lengths = [n for _, n in one_lp]
        assert min(lengths) <= 2 and any(2 < n <= 8 for n in lengths) and max(lengths) == 12  # every stage ends rows
        assert staged == one and [n for _, n in staged_lp] == lengths
        assert max(abs(a - b) for (a, _), (b, _) in zip(one_lp, staged_lp)) < 1e-4
