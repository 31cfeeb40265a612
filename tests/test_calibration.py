"""Calibration and abstention, pinned on hand-worked examples (cancerllm/calibration.py) and the confidence the
LMs' answers carry (cancerllm/inference/)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cancerllm import calibration as cal
from cancerllm import inference


def test_ece_by_hand():
    # bins of width 0.5: (0, .5] holds .2 and .4 (mean .3, 1 of 2 right: gap .2); (.5, 1] holds .6, .8, 1.0
    # (mean .8, 3 of 3 right: gap .2) -> ECE = 2/5 * .2 + 3/5 * .2 = .2
    conf, hit = [0.2, 0.4, 0.6, 0.8, 1.0], [1, 0, 1, 1, 1]
    assert cal.ece(conf, hit, n_bins=2) == pytest.approx(0.2)
    # ten bins: each answer alone in its bin: |1-.2|, |0-.4|, |1-.6|, |1-.8|, |1-1| -> (.8+.4+.4+.2+0)/5 = .36
    assert cal.ece(conf, hit, n_bins=10) == pytest.approx(0.36)
    assert cal.ece([0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7], [1] * 7 + [0] * 3) == pytest.approx(0.0)


def test_bins_hold_their_upper_edge_and_zero():
    assert cal.bin_index(np.array([0.0, 0.1, 0.10001, 0.5, 1.0]), 10).tolist() == [0, 0, 1, 4, 9]


def test_reliability_rows_match_the_ece():
    conf, hit = [0.2, 0.4, 0.6, 0.8, 1.0], [1, 0, 1, 1, 1]
    rel = cal.reliability(conf, hit, n_bins=2)
    assert rel["n"].tolist() == [2, 3]
    assert rel["confidence"].tolist() == pytest.approx([0.3, 0.8])
    assert rel["accuracy"].tolist() == pytest.approx([0.5, 1.0])
    assert (rel["n"] * (rel["accuracy"] - rel["confidence"]).abs()).sum() / 5 == pytest.approx(cal.ece(conf, hit, 2))


def test_coverage_risk_by_hand_with_ties():
    conf, hit = [0.9, 0.9, 0.8, 0.5, 0.1], [1, 0, 1, 1, 0]
    curve = cal.coverage_risk(conf, hit)
    assert curve["threshold"].tolist() == [0.9, 0.8, 0.5, 0.1]  # the two 0.9s are kept or deferred together
    assert curve["coverage"].tolist() == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert curve["accuracy"].tolist() == pytest.approx([0.5, 2 / 3, 0.75, 0.6])
    assert curve["n"].tolist() == [2, 3, 4, 5]


def test_threshold_chosen_on_dev_and_applied_to_test():
    dev_conf, dev_hit = [0.95, 0.9, 0.8, 0.7, 0.3], [1, 1, 1, 0, 0]
    assert cal.choose_threshold(dev_conf, dev_hit, 0.75) == 0.7  # keeps 4: 3/4 right
    assert cal.choose_threshold(dev_conf, dev_hit, 0.9) == 0.8  # keeps 3: all right
    assert cal.choose_threshold([0.9, 0.8], [0, 0], 0.5) == math.inf  # never reached: defer everything
    out = cal.apply_threshold([0.85, 0.75, 0.99, 0.2], [1, 0, 1, 0], 0.8)
    assert out == {"n": 4, "deferred": 0.5, "kept_accuracy": 1.0, "accuracy": 0.5}
    assert math.isnan(cal.apply_threshold([0.1], [1], math.inf)["kept_accuracy"])


def test_temperature_softens_an_overconfident_system_and_lowers_its_ece():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.3, 0.9, 4000)
    hit = (rng.uniform(size=true_p.size) < true_p).astype(float)
    over = cal.scale(true_p, 0.4)  # the same ranking, pushed towards 0 and 1
    t = cal.fit_temperature(over, hit)
    assert t == pytest.approx(2.5, rel=0.15)  # undoes the 0.4
    assert cal.ece(cal.scale(over, t), hit) < cal.ece(over, hit) / 3
    assert cal.fit_temperature([0.9, 0.8], [1, 1]) == 1.0  # all right: nothing to fit
    assert cal.scale([0.5], 3.0)[0] == pytest.approx(0.5)


def test_ece_ci_brackets_the_point_and_bad_input_is_refused():
    e, lo, hi = cal.ece_ci([0.9, 0.6, 0.8, 0.3, 0.7, 0.5], [1, 0, 1, 0, 1, 1], 10, 200, seed=1)
    assert 0 <= lo < hi <= 1 and e == cal.ece([0.9, 0.6, 0.8, 0.3, 0.7, 0.5], [1, 0, 1, 0, 1, 1])
    with pytest.raises(ValueError, match="size mismatch"):
        cal.ece([0.5, 0.5], [1])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        cal.ece([1.5], [1])


def test_ece_floor_is_the_noise_of_a_perfectly_calibrated_system():
    conf = np.full(1000, 0.7)
    assert cal.ece_floor(conf, 10, n_sim=100) < 0.03  # one bin, 1000 answers: |mean - .7| is small
    assert cal.ece_floor(conf[:20], 10, n_sim=100) > 0.05  # 20 answers: noise alone gives ~.08
    assert cal.ece_floor(np.ones(5)) == 0.0  # certain and always right


def test_correct_is_whole_answer_exact_match():
    assert cal.correct([["T2"], ["T1"], ["ER positive", "PR negative"]],
                       [["t2"], ["T2"], ["ER positive"]]).tolist() == [1.0, 0.0, 0.0]


def test_note_confidence_by_hand():
    # three passages, p(not relevant) .9, .5, .8: not-mentioned score .36; nothing stated -> the values' mass is
    # still 1 - .36, so the confidence is .36 (not 1)
    assert inference.note_confidence([0.9, 0.5, 0.8], [], None) == pytest.approx(0.36)
    # two passages stated "t2" (phrase probabilities .6, .2), one "t3" (.2): t2 = 1 - .4 * .8 = .68, t3 = .2,
    # not mentioned .36; total 1.24
    stated = [("t2", 0.6), ("t2", 0.2), ("t3", 0.2)]
    assert inference.note_confidence([0.9, 0.5, 0.8], stated, "t2") == pytest.approx(0.68 / 1.24)
    assert inference.note_confidence([0.9, 0.5, 0.8], stated, "t3") == pytest.approx(0.2 / 1.24)
    assert inference.note_confidence([0.9, 0.5, 0.8], stated, None) == pytest.approx(0.36 / 1.24)
    # one passage surely states a value, its phrase has probability .99: the values share at least 1
    assert inference.note_confidence([0.0], [("t2", 0.99)], "t2") == pytest.approx(0.99)


def test_generated_log_probabilities_match_a_teacher_forced_pass():
    """The sum of log-probabilities ``generate`` reports equals a forward pass over prompt + answer, token by
    token, counted up to and including EOS."""
    import torch

    from cancerllm import modeling
    from cancerllm.config import make_config

    texts = ["the tumor measures 2.5 cm", "grade 2 invasive ductal carcinoma", "no lymph node involvement"] * 4
    tok = modeling.train_tokenizer(texts, 120)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok).eval()
    prompts = ["the tumor", "grade 2 invasive ductal", "no lymph node involvement seen here"]
    lp: list = []
    outs = inference.generate(model, tok, prompts, 6, 2, logprobs=lp)
    assert len(lp) == len(prompts) and all(n >= 1 for _, n in lp)
    for prompt, out, (total, n) in zip(prompts, outs, lp):
        ids = tok(prompt, add_special_tokens=True)["input_ids"]
        with torch.no_grad():
            seq = list(ids)
            expected = 0.0
            for _ in range(n):
                logp = model(torch.tensor([seq])).logits[0, -1].float().log_softmax(-1)
                nxt = int(logp.argmax())
                expected += float(logp[nxt])
                seq.append(nxt)
        assert tok.decode(seq[len(ids):], skip_special_tokens=True) == out
        assert total == pytest.approx(expected, abs=1e-4)


def test_copy_constrained_log_probabilities_are_the_models_own():
    """Under CopyConstraint (which leaves one token per step) the reported log-probability is still the
    model's own for the copied tokens, not 0 (the processed scores would give every copy probability 1)."""
    import torch

    from cancerllm import modeling
    from cancerllm.config import make_config

    src = "the tumor measures 2.5 cm"
    tok = modeling.train_tokenizer([src, "not relevant", "grade 2 invasive ductal carcinoma"] * 4, 120)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok).eval()
    lp: list = []
    out = inference.generate(model, tok, ["In the text: " + src + " ### Response:"], 6, 1, sources=[src], logprobs=lp)
    (total, n), = lp
    assert inference.copies(out[0], src) and total < -1e-3
    ids = tok("In the text: " + src + " ### Response:", add_special_tokens=True)["input_ids"]
    new = tok(out[0], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = model(torch.tensor([ids + new])).logits[0].float().log_softmax(-1)
    expected = sum(float(logp[len(ids) - 1 + k, t]) for k, t in enumerate(new))
    if n > len(new):  # EOS counted too
        with torch.no_grad():
            expected += float(model(torch.tensor([ids + new])).logits[0, -1].float().log_softmax(-1)[tok.eos_token_id])
    assert total == pytest.approx(expected, abs=1e-3)


def test_words_use_the_kind_chosen_on_dev_and_name_overconfidence_under_noise():
    import pandas as pd

    rng = np.random.default_rng(3)
    c = rng.uniform(size=200)
    h = (rng.uniform(size=200) < c).astype(float)
    dev = {("phenotype_extraction", "cancer_cpt", "sequence"): (np.clip(c + 0.4, 0, 1), h),  # overconfident
           ("phenotype_extraction", "cancer_cpt", "normalised"): (c, h)}
    table = cal.summary_table(dev, dev, 0.9, 10, 50, 0)
    assert cal.chosen_kind(table).loc[("phenotype_extraction", "cancer_cpt"), "confidence"] == "normalised"
    assert "normalised confidence" in cal.summary_words(table, 0.9)
    noise = pd.DataFrame([
        {"condition": "misspelling", "rate": 0.0, "task": "phenotype_extraction", "system": "cancer_cpt", "n": 40,
         "accuracy %": 76.0, "confidence %": 56.0, "ECE": 30.0},
        {"condition": "misspelling", "rate": 0.5, "task": "phenotype_extraction", "system": "cancer_cpt", "n": 40,
         "accuracy %": 43.0, "confidence %": 58.0, "ECE": 32.0}])
    assert "overconfident under noise" in cal.noise_words(noise)
    noise.loc[1, "confidence %"] = 30.0
    assert "confidence fell with accuracy" in cal.noise_words(noise)


def test_chapter_35_reads_back_chapter_30s_answers_only_when_they_are_the_same_rows(tmp_path):
    """``save_predictions`` with ``predict_systems``' details writes each LM answer's confidences;
    ``saved_confident`` reads back the trained arms' answers and confidences exactly, and refuses (None) files
    without confidences, with other rows or rows in another order, or an arm missing."""
    import pandas as pd

    from cancerllm import evaluation as ev
    from cancerllm.config import arm_names, make_config

    cfg = make_config({})
    test = pd.DataFrame({"id": ["P1:t_stage", "P2:diagnosis"], "task": ["phenotype_extraction", "diagnosis_generation"],
                         "field": ["t_stage", "diagnosis"], "cancer_type": ["breast", "lung"],
                         "answers": [["T2"], ["Malignant neoplasm of lung"]]})
    arms = arm_names(cfg)
    preds = {a: [["T2"], ["Malignant neoplasm of lung"]] for a in arms} | {"rule": [["T2"], ["x"]]}
    details = {a: {"confidence": {"sequence": [0.1 * k + 1 / 3, 0.25], "normalised": [0.5, 2 / 7]}}
               for k, a in enumerate(arms)}
    ev.save_predictions(tmp_path, test, preds, details)
    back = ev.saved_confident(cfg, test, tmp_path / "predictions")
    assert list(back) == arms
    for a in arms:
        assert back[a] == {"answers": preds[a], **details[a]["confidence"]}  # floats exactly as written
    assert ev.saved_confident(cfg, test.iloc[::-1], tmp_path / "predictions") is None
    assert ev.saved_confident(cfg, test.head(1), tmp_path / "predictions") is None
    ev.save_predictions(tmp_path / "old", test, preds)  # no confidences (an older chapter 30)
    assert ev.saved_confident(cfg, test, tmp_path / "old" / "predictions") is None
    (tmp_path / "predictions" / f"{arms[-1]}.jsonl").unlink()
    assert ev.saved_confident(cfg, test, tmp_path / "predictions") is None
