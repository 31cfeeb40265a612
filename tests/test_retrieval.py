"""Tests of cancerllm.retrieval on a small synthetic cohort: retrievers, exclusions, leakage counts, prompt
budget with a real (trained) tokenizer, kNN and scoring — values asserted, no model generation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cancerllm import retrieval as rt
from cancerllm.config import make_config
from cancerllm.data.schema import NOT_MENTIONED
from cancerllm.data.synthetic import generate_cohort
from cancerllm.inference import sentence_prompts
from cancerllm.instructions import QUESTIONS, TEMPLATE, build_instructions
from cancerllm.modeling import train_tokenizer


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(60, seed=7)


@pytest.fixture(scope="module")
def tokenizer(cohort):
    return train_tokenizer(list(cohort.notes["text"]), 500)


@pytest.fixture(scope="module")
def sets(cohort, tokenizer):
    """Instruction sets cut to 320 tokens with room for a 24-token answer, as the demo profile builds them."""
    return {s: build_instructions(cohort, s, tokenizer, 320, 24) for s in ("train", "dev", "test")}


def _docs(sets):
    return list(dict.fromkeys(rt._bodies(sets["train"])))


@pytest.mark.parametrize("name", sorted(rt.RETRIEVERS))
def test_exact_duplicate_ranks_first_and_batched_equals_single(sets, name):
    docs = _docs(sets)
    r = rt.RETRIEVERS[name]().fit(docs)
    queries = [docs[3], docs[10], docs[0], "tumour of the left breast, grade 2"]
    idx, scores = r.search(queries, 5)
    assert idx.shape == scores.shape == (4, 5)
    assert list(idx[:3, 0]) == [3, 10, 0]
    assert np.all(np.diff(scores, axis=1) <= 1e-9)  # best first
    for i, q in enumerate(queries):
        one_idx, one_scores = r.search([q], 5)
        assert list(one_idx[0]) == list(idx[i])
        np.testing.assert_allclose(one_scores[0], scores[i], rtol=1e-5)
    assert r.search(queries, 10_000)[0].shape == (4, len(docs))  # k larger than the index: every document


def test_char_ngram_survives_misspellings_better_than_words(sets):
    from cancerllm.robustness import misspell

    docs = _docs(sets)[:40]
    noisy = [misspell(d, 0.3, i) for i, d in enumerate(docs)]
    hits = {name: int((rt.RETRIEVERS[name]().fit(_docs(sets)).search(noisy, 1)[0][:, 0] == np.arange(40)).sum())
            for name in rt.RETRIEVERS}
    # phenotype notes are whole reports since issue 12 (were cut to the SFT length: then bm25 30, tfidf 33,
    # char_ngram 37 of 40): every retriever now finds almost all; char n-grams must not do worse
    assert hits["char_ngram"] >= 36 and hits["char_ngram"] >= max(hits["tfidf"], hits["bm25"])


def _planted(sets):
    """A test row whose own patient's note (and a copy under another id) sits in the training set."""
    train, test = sets["train"], sets["test"]
    q = test[test["field"] == "t_stage"].iloc[[0]]
    same_patient = test[test["patient_id"] == q["patient_id"].iloc[0]].assign(id=lambda d: "dup-" + d["id"])
    other = test[test["patient_id"] == q["patient_id"].iloc[0]].assign(
        patient_id="OTHER-1", id=lambda d: "OTHER-1:" + d["field"])
    return q, pd.concat([train, same_patient, other], ignore_index=True)


@pytest.mark.parametrize("name", sorted(rt.RETRIEVERS))
def test_same_patient_and_held_out_notes_are_excluded(sets, name, tokenizer):
    q, train = _planted(sets)
    index = rt.CaseIndex(train, name, seed=0)
    body = rt._bodies(q)[0]
    # without exclusions the planted copies are the two nearest documents
    raw = index.tasks["phenotype_extraction"]["model"].search([body], 2)[0][0]
    assert set(index.tasks["phenotype_extraction"]["patients"][raw]) == {q["patient_id"].iloc[0], "OTHER-1"}
    aug = rt.augment(q, train, index, 3, tokenizer, 400, seed=0)  # default exclusions: the query's notes
    got = aug["retrieved_patients"].iloc[0]
    assert len(got) == 3 and q["patient_id"].iloc[0] not in got and "OTHER-1" not in got
    assert all(i.endswith(":t_stage") for i in aug["retrieved_ids"].iloc[0])  # same task and field
    rep = rt.leakage_report(sets["test"], aug, train)
    assert rep["same_patient"] == 0 and rep["held_out"] == 0 and rep["retrieved_cases"] == 3


def test_leakage_report_counts_planted_leaks(sets):
    q, train = _planted(sets)
    q = q.reset_index(drop=True)
    pid = q["patient_id"].iloc[0]
    fake = q.assign(retrieved_ids=[[f"dup-{q['id'].iloc[0]}", "OTHER-1:t_stage", sets["train"]["id"].iloc[0]]],
                    retrieved_patients=[[pid, "OTHER-1", sets["train"]["patient_id"].iloc[0]]])
    rep = rt.leakage_report(sets["test"], fake, train)
    # one same-patient case; two held-out by hash (the same note under a dup id and under another patient);
    # both copies are also near-duplicates of the query (identical text: cosine 1)
    assert rep == {"queries": 1, "retrieved_cases": 3, "same_patient": 1, "held_out": 2, "near_duplicate": 2}


def test_augmented_prompts_fit_budget_and_carry_k_examples(sets, tokenizer):
    test = sets["test"].groupby("field").head(3).reset_index(drop=True)
    for budget in (400, 300):
        aug = rt.augment(test, sets["train"], "bm25", 2, tokenizer, budget, seed=1)
        assert len(aug) == len(test)
        for row in aug.itertuples():
            if row.task == "phenotype_extraction":  # read passage by passage: the longest passage prompt counts
                n = max(len(tokenizer(q)["input_ids"]) for q in sentence_prompts(row._asdict()))
            else:
                n = len(tokenizer(row.prompt)["input_ids"])
            assert n == row.prompt_tokens <= budget
            assert row.prompt.startswith(TEMPLATE.split("{instruction}")[0])
            assert row.prompt.endswith("### Response:\n")
            # at 300 a 230-250-token passage prompt leaves room for one example (about 42 tokens) or two
            assert len(row.retrieved_ids) == 2 or (budget == 300 and row.task == "phenotype_extraction"
                                                   and len(row.retrieved_ids) == 1)
            for j, ans in enumerate(row.retrieved_answers, 1):
                assert f"Example {j}: " in row.context and f'" -> {", ".join(ans)}\n' in row.context + "\n"
            if row.task == "phenotype_extraction":
                assert row.context.rstrip().endswith(QUESTIONS[row.field])
    # the training answers the examples quote are the retrieved rows' gold responses
    train = sets["train"].set_index("id")
    assert [list(train.loc[i, "answers"]) for i in aug["retrieved_ids"].iloc[0]] == aug["retrieved_answers"].iloc[0]


def test_too_tight_budget_drops_examples_but_still_fits(sets, tokenizer):
    test = sets["test"][sets["test"]["field"] == "grade"].head(4)
    for _, row in test.iterrows():
        # the report is read passage by passage: the budget is its longest passage prompt without examples plus
        # room for one or two short examples, not four
        alone = max(len(tokenizer(q)["input_ids"]) for q in sentence_prompts(row))
        budget = alone + 60  # one example costs about 42 tokens with this 500-token vocabulary
        aug = rt.augment(test[test["id"] == row["id"]], sets["train"], "tfidf", 4, tokenizer, budget, seed=0)
        got = aug.iloc[0]
        assert got.prompt_tokens <= budget
        assert got.prompt_tokens == max(len(tokenizer(q)["input_ids"]) for q in sentence_prompts(got))
        assert 1 <= len(got.retrieved_ids) < 4
        assert f"Example {len(got.retrieved_ids) + 1}:" not in got.context
        assert f"Example {len(got.retrieved_ids)}:" in got.context


def test_k0_returns_original_prompts(sets, tokenizer):
    aug = rt.augment(sets["test"], sets["train"], "tfidf", 0, tokenizer, 400, seed=0)
    assert list(aug["prompt"]) == list(sets["test"]["prompt"])
    assert (aug["k"] == 0).all() and (aug["retriever"] == "none").all()
    assert aug["retrieved_ids"].map(len).sum() == 0


def test_evidence_snippet_is_the_line_with_the_answer():
    note = "GROSS: tan mass.\nDIAGNOSIS: invasive carcinoma, grade 2.\nSYNOPTIC: pT2 pN1a M0; size 2.5 cm."
    assert rt.evidence_snippet(note, ["T2"], 25) == "SYNOPTIC: pT2 pN1a M0;"
    assert rt.evidence_snippet(note, ["2.5 cm"], 25) == "size 2.5 cm."
    assert rt.evidence_snippet(note, [NOT_MENTIONED], 3) == "GROSS: tan mass."
    assert rt.evidence_snippet(note, ["Invasive ductal carcinoma"], 25) == "DIAGNOSIS: invasive carcinoma, grade 2."


def test_perturb_misspells_bodies_as_the_robustness_testbed(sets, tokenizer):
    from cancerllm.robustness import perturb_bodies

    test = sets["test"].head(16)
    noisy = rt.perturb(test, 0.3, 5, tokenizer, 376)
    assert rt._bodies(noisy) == perturb_bodies(test, "misspelling", 0.3, 5)[0]  # the same note kept whole
    assert all(a != b for a, b in zip(rt._bodies(noisy), rt._bodies(test)))
    assert list(noisy["prompt"]) == [TEMPLATE.format(instruction=i, context=c)
                                     for i, c in zip(noisy["instruction"], noisy["context"])]


def test_knn_majority():
    assert rt.knn_answers([[["T2"], ["T3"], ["T2"]], [["N1"], ["N0"]], [], [["a", "b"], ["c"], ["a", "b"]]]) == \
        [["T2"], ["N1"], [], ["a", "b"]]


def test_build_conditions_score_and_gain(sets, tokenizer, tmp_path):
    cfg = make_config({"runs_root": str(tmp_path), "retrieval_max_instances": 12, "retrieval_k": 2,
                       "retrieval_k_sweep": [1, 2], "bootstrap_samples": 50, "sft_max_length": 320,
                       "max_position_embeddings": 512, "max_new_tokens": 24})
    assert rt.prompt_budget(cfg) == 376  # 1.25 x 320 - 24, inside 512 - 24
    stacked = rt.build_conditions(sets["test"], sets["train"], cfg, tokenizer, held_out=(sets["dev"],))
    again = rt.build_conditions(sets["test"], sets["train"], cfg, tokenizer, held_out=(sets["dev"],))
    pd.testing.assert_frame_equal(stacked, again)  # deterministic
    conds = list(dict.fromkeys(stacked["condition"]))
    assert conds == ["no retrieval", "bm25 k=1", "bm25 k=2", "tfidf k=2", "char_ngram k=2",
                     "misspelled 0.3: no retrieval", "misspelled 0.3: bm25 k=2", "misspelled 0.3: tfidf k=2",
                     "misspelled 0.3: char_ngram k=2"]
    assert stacked["id"].is_unique and (stacked.groupby("condition").size() == 12).all()
    assert (stacked["prompt_tokens"] <= rt.prompt_budget(cfg)).all()
    plain = stacked[(stacked["condition"] == "no retrieval") & (stacked["task"] == "phenotype_extraction")]
    assert len(plain) and all(n == max(len(tokenizer(q)["input_ids"]) for q in sentence_prompts(r))
                              for n, (_, r) in zip(plain["prompt_tokens"], plain.iterrows()))  # passage, not report
    noisy = stacked[stacked["condition"] == "misspelled 0.3: no retrieval"]
    assert (noisy["prompt"].to_numpy() != stacked[stacked["condition"] == "no retrieval"]["prompt"].to_numpy()).all()
    held = pd.concat([sets["test"], sets["dev"]])
    leak = rt.leakage_table(stacked, held, sets["train"])
    assert (leak["same_patient"] == 0).all() and (leak["held_out"] == 0).all()
    # a "model" that copies the first retrieved answer equals kNN at k=1 and answers nothing without retrieval
    copy = {"copy": [list(a[0]) if len(a) else [] for a in stacked["retrieved_answers"]]}
    scores = rt.score_conditions(stacked, copy, 50, 0)
    k1 = scores[(scores["condition"] == "bm25 k=1")].pivot(index=["task", "metric"], columns="system", values="f1")
    np.testing.assert_allclose(k1["copy"], k1["knn"])
    assert not ((scores["system"] == "knn") & (scores["k"] == 0)).any()
    gains = rt.gain_table(stacked, copy, 2, 50, 0)
    assert len(gains) == 2 * 3 * 2  # tasks x retrievers x noise levels
    none = scores[(scores["condition"] == "no retrieval") & (scores["metric"] == "rouge_l_reference")].set_index("task")
    for r in gains[gains["noise"] == 0].itertuples():
        assert r.f1_without == pytest.approx(none.loc[r.task, "f1"])
        assert r.diff == pytest.approx(r.f1_with - r.f1_without)
    assert "phenotype extraction" in rt.retrieval_summary(scores, gains)
    tab = rt.f1_table(scores, "phenotype_extraction")
    n_ph = int(none.loc[["phenotype_extraction"], "n"].iloc[0])
    assert tab.columns[0] == "n" and (tab["n"] == n_ph).all()
    assert rt.noise_table(scores, 2).loc[("phenotype_extraction", "copy"), "n"] == n_ph
    full = sets["test"].groupby("task").size()
    assert f"phenotype extraction n = {n_ph} of {full['phenotype_extraction']}" in rt.sample_note(stacked, sets["test"])
    tim = rt.timings(sets["train"], sets["test"], cfg.retrievers, cfg.seed, repeats=1)
    assert list(tim.index) == cfg.retrievers and (tim["latency_ms_per_query"] > 0).all()
    m = rt.metrics_json(scores, gains, leak, tim, rt.prompt_budget(cfg))
    assert json.loads(json.dumps(m))["n_instances"] == {t: int(n) for t, n in
                                                       none.groupby("task")["n"].first().items()}
    assert set(m["timing"]) == set(cfg.retrievers) and m["prompt_budget_tokens"] == 376
    assert m["conditions"]["bm25 k=1"]["phenotype_extraction"]["knn"]["rouge_l_reference"]["f1"] == pytest.approx(
        k1.loc[("phenotype_extraction", "rouge_l_reference"), "knn"], abs=1e-6)
