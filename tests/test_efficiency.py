"""Efficiency helpers: FLOPs convention, MFU arithmetic, peak memory, matmul peak, batched == sequential
generation, and the bench JSON (tiny size). Values are asserted; no timing thresholds (timings live in
benchmarks/)."""

import json
import os

import pytest
import torch
from transformers import MistralConfig, MistralForCausalLM

from cancerllm import efficiency, inference, modeling
from cancerllm.cli import main


def _tiny_model(vocab=50, hidden=16, layers=2, inter=32):
    conf = MistralConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                         tie_word_embeddings=False, sliding_window=None)
    torch.manual_seed(0)
    return MistralForCausalLM(conf)


def test_flops_per_token_formula_by_hand():
    # N = 1000 matmul parameters, 2 layers, hidden 16, context 10 tokens
    assert efficiency.flops_per_token(1000, 2, 16, 10, "train") == 6 * 1000 + 6 * 2 * 10 * 16  # 7920
    assert efficiency.flops_per_token(1000, 2, 16, 10, "inference") == 2 * 1000 + 2 * 2 * 10 * 16  # 2640
    # LoRA: forward 2N + input grads 2N + weight grads only for the 100 trainable parameters
    assert efficiency.flops_per_token(1000, 2, 16, 10, "train", n_trainable=100) == 4000 + 200 + 1920
    with pytest.raises(ValueError):
        efficiency.flops_per_token(1000, 2, 16, 10, "decode")


def test_matmul_parameters_count_lm_head_not_input_embeddings():
    model = _tiny_model(vocab=50, hidden=16, layers=2, inter=32)
    # per layer: q 16x16, k and v 16x8 (1 KV head of dim 8), o 16x16, MLP 3 x 16x32, two RMSNorms of 16
    per_layer = 256 + 128 + 128 + 256 + 3 * 512 + 2 * 16
    expected = 2 * per_layer + 16 + 50 * 16  # + final norm + lm_head; the 50x16 input embedding excluded
    assert efficiency.matmul_parameters(model) == expected
    assert sum(p.numel() for p in model.parameters()) == expected + 50 * 16
    fpt = efficiency.model_flops_per_token(model, seq_len=10)
    assert fpt == 6 * expected + 6 * 2 * 10 * 16


def test_mfu_arithmetic():
    # 1e6 FLOPs/token x 5e4 tokens in 2 s = 25 GFLOP/s achieved; against a 100 GFLOP/s peak: 0.25
    assert efficiency.mfu(1e6, 5e4, 2.0, 100.0) == pytest.approx(0.25)
    assert efficiency.mfu(1e6, 5e4, 0.0, 100.0) != efficiency.mfu(1e6, 5e4, 0.0, 100.0)  # nan, not a crash


def test_peak_memory_grows_with_a_large_allocation():
    with efficiency.measure() as small:
        pass
    with efficiency.measure() as big:
        x = torch.ones(64 * 2**20 // 4 * 4)  # 256 MiB of float32, touched
        x += 1
    assert small.peak_rss_gb > 0 and big.seconds >= 0
    assert big.peak_rss_delta_gb > 0.2  # the 0.25 GiB tensor shows up in the peak
    assert big.peak_rss_gb > small.peak_rss_gb
    assert efficiency.process_peak_rss_gb() >= big.peak_rss_gb
    del x


def test_matmul_peak_positive_at_tiny_size():
    g = efficiency.matmul_peak_gflops(torch.float32, "cpu", sizes=(64,), reps=1)
    assert g > 0
    cached = efficiency.peak_gflops(torch.float32, "cpu", budget_s=0.05)
    assert efficiency.refresh_peak(torch.float32, "cpu", budget_s=0.05) >= cached > 0  # the cache keeps the max
    before = torch.get_num_threads()
    try:
        assert efficiency.configure_threads(1) == 1 and torch.get_num_threads() == 1
        assert efficiency.configure_threads() == 1  # an explicit choice is not undone by the policy call
    finally:
        efficiency.configure_threads(before)
    assert 1 <= efficiency.physical_cores() <= (os.cpu_count() or 1)


def test_batched_and_sequential_generation_identical():
    from cancerllm.config import make_config

    texts = ["the tumor size is 2.5 cm", "grade 2 invasive ductal carcinoma", "no lymph node involvement"] * 4
    tok = modeling.train_tokenizer(texts, 120)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok)
    prompts = ["the tumor", "grade 2 invasive ductal", "no", "lymph node involvement and the tumor size is"]
    batched = inference.generate(model, tok, prompts, max_new_tokens=6, batch_size=4)
    seq = inference.generate_sequential(model, tok, prompts, max_new_tokens=6)
    assert batched == seq
    assert tok.padding_side == "right"  # generate restores the caller's padding side


@pytest.mark.slow  # the whole tiny benchmark: trains and times
def test_bench_tiny_json_keys(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--tiny", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON object
    saved = json.loads(out.read_text())
    assert printed == saved
    for key in ("gen_batched_vs_sequential", "gen_outputs_identical", "train_mfu_fp32", "bf16_vs_fp32_train",
                "book_demo_seconds", "peak_rss_gb", "matmul_peak_gflops", "threads", "torch", "cpu"):
        assert key in saved, key
    assert saved["book_demo_seconds"] is None and saved["size"] == "tiny"
    assert saved["gen_outputs_identical"] is True and saved["gen_match_rate"] == 1.0
    # note-level extraction: the reference's one-prompt-at-a-time loop and ours give the same answers
    ext = saved["extraction"]
    assert saved["extraction_answers_identical"] is True and ext["match_rate"] == 1.0 and ext["reports"] == 2
    # generated = the passages not screened out by the reading pass + one diagnosis prompt per report
    assert ext["reference_prompts"] >= ext["passage_prompts_read"] > 0
    assert ext["passage_prompts_read"] + ext["reports"] >= ext["prompts_generated"] > 0
    assert saved["extraction_vs_reference"] > 0 and saved["train_vs_bare_loop"] > 0
    assert saved["training_vs_bare"]["trl_tokens_per_s"] > 0 and saved["training_vs_bare"]["bare_tokens_per_s"] > 0
    assert saved["matmul_peak_gflops"]["float32"] > 0 and saved["peak_rss_gb"] > 0
    # the headline MFU is the configured thread count's entry (no upper bound: it is a ratio of two timings)
    assert saved["train_mfu_fp32"] == saved["training_mfu"][str(saved["threads"])]["mfu_vs_best_peak"] > 0
    if efficiency.physical_cores() > 1:  # the 1-thread variant really ran on one thread
        assert saved["training_mfu"]["1"]["threads"] == 1 and set(saved["train_mfu_fp32_by_threads"]) == {"1", str(saved["threads"])}
    t = saved["training_mfu"][str(saved["threads"])]
    assert t["flops_per_token"] == efficiency.flops_per_token(t["params_matmul"], 1, 32, t["block"], "train")


@pytest.mark.slow  # chapter 50's extraction experiments: generation at several sizes
def test_extraction_costs_cover_every_experiment_and_match_the_reference(tmp_path):
    """The chapter-50 extraction table on a tiny synthetic run: each experiment is there, seconds per report is
    seconds over reports, and the reference's one-prompt loop answers as ours on every instance."""
    from cancerllm.config import make_config
    from cancerllm.efficiency import extraction
    from cancerllm.instructions import frame_texts

    cfg = make_config({"n_patients": 30, "n_general_notes": 0, "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                       "initializer_range": 0.2, "max_new_tokens": 4, "runs_root": str(tmp_path)})
    from cancerllm.data.loaders import load_cohort

    tok = modeling.train_tokenizer(list(load_cohort(cfg).notes["text"]) + frame_texts(5), 400)
    model = modeling.build_small_model(cfg, tok)
    rows = extraction.report_instances(cfg, tok, 2)
    assert rows["patient_id"].nunique() == 2 and set(rows["task"]) == {"phenotype_extraction", "diagnosis_generation"}
    costs = extraction.extraction_costs(cfg, model, tok, rows, report_counts=(1, 2), batch_sizes=(4,),
                                        reference_reports=1, hidden_sizes=(16,), reps=1)
    assert set(costs["experiment"]) == {"reports", "batch size", "one report at a time", "reference loop",
                                        "ours, free decoding", "model size (reading pass)"}
    ref = costs[costs["experiment"] == "reference loop"].iloc[0]
    n = (rows["patient_id"] == rows["patient_id"].iloc[0]).sum()
    assert ref["answers as ours"] == f"{n}/{n}"
    assert (costs["seconds per report"] - costs["seconds"] / costs["reports"]).abs().max() < 2e-3
    assert "s per report" in extraction.extraction_summary(costs, "test CPU")


def test_year_of_reports_projects_the_measured_rates(tmp_path):
    import json

    import pandas as pd

    from cancerllm.efficiency import year_of_reports

    costs = pd.DataFrame([{"experiment": "reports", "setting": 1, "reports": 1, "seconds per report": 9.0},
                          {"experiment": "reports", "setting": 4, "reports": 4, "seconds per report": 1.8},
                          {"experiment": "batch size", "setting": 8, "reports": 4, "seconds per report": 0.5}])
    gpu = tmp_path / "gpu.json"
    gpu.write_text(json.dumps({"device": "GPU-X", "model_parameters": 145_679_360, "phases": {"extraction": {
        "a": {"seconds_per_report": 0.12, "reports": 30}, "b": {"seconds_per_report": 0.18, "reports": 30}}}}))
    out = year_of_reports(costs, "2-core CPU", 100_000, workers=8, gpu_file=gpu)
    assert list(out.index) == ["2-core CPU", "GPU-X (lent GPU)"]
    assert out["seconds per report"].tolist() == [1.8, 0.18]  # the most reports together; the slowest GPU model
    assert out["hours for 100,000 reports, 1 worker"].tolist() == [50.0, 5.0]
    assert out["hours, 8 workers (projected)"].tolist() == [6.25, 0.62]
    assert "145.7M" in out.loc["GPU-X (lent GPU)", "model"]
    alone = year_of_reports(costs, "2-core CPU", 100_000, gpu_file=tmp_path / "missing.json")
    assert list(alone.index) == ["2-core CPU"]  # no GPU file: this machine's row only
