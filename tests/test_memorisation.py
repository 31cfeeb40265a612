"""The memorisation check (cancerllm/memorisation.py) and its gate (cancerllm/gate/ `check_memorisation`).

A tiny Mistral (hidden 64, two layers) trained for 300 full fine-tuning steps at a high learning rate on
four texts must continue them verbatim, and neither it on unseen texts nor the untrained model on its texts may.
"""

from __future__ import annotations

import json

import pytest
import torch
from test_gate import _fake_run, _manifest, _params, notes_csv, real_cfg, write_memorisation  # noqa: F401

from cancerllm import memorisation, modeling, training
from cancerllm.cli import main
from cancerllm.config import make_config
from cancerllm.data import load_cohort
from cancerllm.data.synthetic import generate_cohort
from cancerllm.errors import LeakError
from cancerllm.gate import PATTERNS, _BARE_NUMBER, check_memorisation, normalise

TINY = {"vocab_size": 300, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2,
        "num_key_value_heads": 1, "num_hidden_layers": 2}


@pytest.fixture(scope="module")
def canary_texts():
    """(tokenizer, training texts, unseen texts): four canaries to train on, four never seen."""
    train = [c["text"] for c in memorisation.canaries(7, n=4, repeats=(1,))]
    unseen = [c["text"] for c in memorisation.canaries(8, n=4, repeats=(1,))]
    return modeling.train_tokenizer(train + unseen, TINY["vocab_size"]), train, unseen


@pytest.fixture(scope="module")
def memorised(canary_texts):
    """(untrained model, trained model, tokenizer, training texts, unseen texts). Trained as packed CPT sees
    text: random 112-token crops of the texts' concatenation, so any window of them is a context it has read."""
    tok, train, unseen = canary_texts
    cfg = make_config(TINY)
    base = modeling.build_small_model(cfg, tok).eval()
    model = modeling.build_small_model(cfg, tok)
    stream = torch.tensor([i for t in train for i in tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]])
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few seconds for 300 steps; more threads on a shared CPU are ten times slower
    try:
        model.train()
        for _ in range(300):
            batch = torch.stack([stream[a:a + 112] for a in torch.randint(0, len(stream) - 112, (8,), generator=gen)])
            opt.zero_grad()
            model(input_ids=batch, labels=batch).loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return base, model.eval(), tok, train, unseen


@pytest.mark.slow  # trains a model to memorise (300 steps)
def test_trained_model_reproduces_its_texts_and_untrained_does_not(memorised):
    base, model, tok, train, unseen = memorised
    kw = dict(n_prefix_tokens=8, n_suffix_tokens=8, max_samples=32, seed=0, batch_size=16)
    seen = memorisation.extraction_rate(model, tok, train, **kw)
    assert seen["n"] == 32 and seen["notes"] == 4
    assert seen["rate"] >= 0.5 and seen["ci_low"] <= seen["rate"] <= seen["ci_high"]
    assert memorisation.extraction_rate(model, tok, unseen, **kw)["rate"] <= 0.1
    assert memorisation.extraction_rate(base, tok, train, **kw)["verbatim"] == 0


@pytest.mark.slow  # trains a model to memorise (300 steps)
def test_canary_exposure_sees_trained_canaries_only(memorised):
    base, model, tok, train, unseen = memorised
    canaries = [{"canary": i, "repeats": 1, "text": t} for i, t in enumerate(train + unseen)]
    got = memorisation.canary_exposure(model, tok, canaries, batch_size=4)
    seen, new = [c["matched"] for c in got[:4]], [c["matched"] for c in got[4:]]
    assert sum(seen) >= 8 > sum(new) and not any(c["reproduced"] for c in got[4:])
    assert all(c["tokens"] >= memorisation.CANARY_WORDS for c in got)
    assert not any(c["reproduced"] for c in memorisation.canary_exposure(base, tok, canaries))


def test_windows_are_seeded_and_cycle_when_notes_are_few(canary_texts):
    tok, train, _ = canary_texts
    a = memorisation.windows(tok, train, 8, 8, 10, seed=3)
    assert a == memorisation.windows(tok, train, 8, 8, 10, seed=3) != memorisation.windows(tok, train, 8, 8, 10, 4)
    prefixes, suffixes, n_notes = a
    assert len(prefixes) == 10 and n_notes == 4 and {len(p) for p in prefixes} == {8} == {len(s) for s in suffixes}
    assert memorisation.windows(tok, ["too short"], 8, 8, 10, seed=3) == ([], [], 0)


def test_wilson_interval():
    lo, hi = memorisation.wilson(3, 10)
    assert lo == pytest.approx(0.1078, abs=1e-3) and hi == pytest.approx(0.6032, abs=1e-3)


def test_canaries_deterministic_unique_and_never_identifiers():
    docs = memorisation.canary_documents(42)
    assert docs == memorisation.canary_documents(42) != memorisation.canary_documents(43)
    cans = memorisation.canaries(42)
    assert len({c["text"] for c in cans}) == len(cans) == memorisation.CANARY_N * len(memorisation.CANARY_REPEATS)
    assert sorted(docs.count(c["text"]) for c in cans) == sorted(c["repeats"] for c in cans)
    for seed in range(20):  # the gate's identifier rules (dates, MRNs, phones, ...) never match a canary
        for c in memorisation.canaries(seed):
            text = normalise(c["text"])
            assert len(text.split()) == memorisation.CANARY_WORDS and not any(ch.isdigit() for ch in text)
            assert not [kind for kind, pat in PATTERNS if pat.search(text)] and not _BARE_NUMBER.search(text)


def test_canaries_planted_for_synthetic_cohorts_only(real_cfg):
    synthetic = training.cpt_corpora(generate_cohort(12, seed=5, n_general_notes=4), 5)
    docs = memorisation.canary_documents(5)
    assert sum(t in set(docs) for t in synthetic["cancer"]["train"]) == len(docs)
    assert not set(docs) & set(synthetic["cancer"]["heldout"] + synthetic["general"]["train"])
    real = training.cpt_corpora(load_cohort(real_cfg), 5)
    cohort = load_cohort(real_cfg)
    assert cohort.is_real and not set(docs) & set(real["cancer"]["train"])
    assert len(real["cancer"]["train"]) == (cohort.notes["split"] == "train").sum() + len(cohort.unlabelled)


# ----------------------------------------------------------------------------- the gate
def test_gate_refuses_real_run_over_threshold(real_cfg, capsys):
    run_dir = _fake_run(real_cfg)
    check_memorisation(run_dir, _manifest(real_cfg))  # the fake run's record passes: excess 0
    over = memorisation.MAX_EXCESS_RATE + 0.01
    write_memorisation(run_dir, {"no_cpt": 0.0, "general_cpt": 0.02, "cancer_cpt": over})
    with pytest.raises(LeakError, match=r"model cancer_cpt continues its training notes verbatim at 16\.0% vs "
                                        r"10\.0% held-out \(excess 6\.0 points > 5\)"):
        check_memorisation(run_dir, _manifest(real_cfg))
    assert main(["gate", str(_params(real_cfg))]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cancer_cpt" in err
    assert check_memorisation(run_dir, _manifest(real_cfg, is_real=False)) is None  # synthetic runs pass


def test_gate_passes_real_run_below_threshold(real_cfg, capsys):
    run_dir = _fake_run(real_cfg)
    write_memorisation(run_dir, {m: memorisation.MAX_EXCESS_RATE - 0.01 for m in real_cfg.ablation_models})
    assert main(["gate", str(_params(real_cfg))]) == 0
    assert "gate passed" in capsys.readouterr().out


@pytest.mark.parametrize("record", ["missing file", "no key", "a model missing", "NaN excess"])
def test_gate_refuses_real_run_without_record(real_cfg, record, capsys):
    run_dir = _fake_run(real_cfg)
    path = run_dir / "20_instruction_tuning" / "metrics.json"
    if record == "missing file":
        path.unlink()
    elif record == "no key":
        path.write_text(json.dumps({"sft": {}}))
    elif record == "a model missing":
        write_memorisation(run_dir, {"no_cpt": 0.0, "cancer_cpt": 0.0})
    else:
        write_memorisation(run_dir, {m: float("nan") for m in real_cfg.ablation_models})
    expected = ("no memorisation check recorded" if record in ("missing file", "no key")
                else "no memorisation result for model " + ("general_cpt" if record == "a model missing" else "no_cpt"))
    with pytest.raises(LeakError, match=expected):
        check_memorisation(run_dir, _manifest(real_cfg))
    assert main(["gate", str(_params(real_cfg))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and "--force 20_instruction_tuning" in err


def _record(reproduced_16x: bool) -> dict:
    canaries = [{"canary": i, "repeats": r, "reproduced": reproduced_16x and r == 16, "matched": 0, "tokens": 80,
                 "continued": 40} for i, r in enumerate((1, 4, 16))]
    side = {"rate": 0.0, "n": 64}
    return {"models": {"cancer_cpt": {"train": side, "heldout": side, "excess": 0.0, "canaries": canaries}},
            "max_excess_rate": 0.05, "n_prefix_tokens": 32, "n_suffix_tokens": 8, "canaries_planted": True}


def test_summary_says_when_the_canaries_show_the_check_is_blind():
    """A 0% rate means little when not even the most repeated canary comes back: the sentence must say so, and must
    not when the check did see a canary."""
    blind = memorisation.summary(_record(False))
    assert "0/1 of the 16x" in blind and "has **not shown that it can detect** memorisation" in blind
    seeing = memorisation.summary(_record(True))
    assert "1/1 of the 16x" in seeing and "not shown" not in seeing
