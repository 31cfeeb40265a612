"""The paper profile's code path on a GPU, at a mid-size: one prepared script for a lent H100/H200.

What it runs (the same library calls the notebooks make, nothing GPU-specific re-implemented):
  params/paper.yaml (LoRA CPT r=8 on 3000-token blocks, bf16, gradient checkpointing, SFT continuing the CPT
  adapter, 4000-token SFT length, whole-sequence loss) with a Mistral built from a config at ~0.9B parameters
  instead of 7B, the synthetic cohort instead of private notes, a few optimizer steps, only the cancer_cpt arm,
  no 4-bit (bitsandbytes is not installed on the lent machine) ->
  cohort -> tokenizer + base model -> CPT -> instruction sets -> SFT -> batched vs sequential greedy generation.
Records wall time, tokens/s, peak GPU memory per phase, the measured bf16 matmul peak and a training MFU estimate.

    python benchmarks/gpu_paper_path.py --out gpu.json          # on the GPU machine
    python benchmarks/gpu_paper_path.py --tiny --out /tmp/g.json # CPU smoke check of the same path (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from cancerllm import inference, pipeline, training  # noqa: E402
from cancerllm.config import load_params  # noqa: E402
from cancerllm.data import load_cohort  # noqa: E402

MID = ["hidden_size=2048", "num_hidden_layers=16", "num_attention_heads=16", "num_key_value_heads=8",
       "intermediate_size=5632", "max_position_embeddings=4096", "vocab_size=8000", "n_patients=160",
       "n_general_notes=160", "cpt_max_steps=6", "sft_max_steps=6", "save_steps=3", "eval_steps=3",
       "max_sft_examples=96", "max_eval_instances=48", "eval_batch_size=16"]
TINY = ["hidden_size=64", "num_hidden_layers=2", "num_attention_heads=4", "num_key_value_heads=2",
        "intermediate_size=128", "max_position_embeddings=1024", "vocab_size=600", "n_patients=30",
        "n_general_notes=20", "cpt_max_steps=2", "sft_max_steps=2", "save_steps=1", "eval_steps=1",
        "max_sft_examples=8", "max_eval_instances=8", "eval_batch_size=4", "cpt_block_size=256",
        "sft_max_length=512", "bf16=false", "gradient_checkpointing=false", "max_new_tokens=8"]


def _peak_gb() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if torch.cuda.is_available() else None


def _reset():
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def matmul_peak_tflops(n: int = 8192, reps: int = 10) -> float | None:
    """bf16 n×n×n matmul throughput on the GPU (mean of `reps` after warm-up)."""
    if not torch.cuda.is_available():
        return None
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return round(2 * n**3 * reps / (time.perf_counter() - t0) / 1e12, 1)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    root = tempfile.mkdtemp(prefix="gpu_paper_")
    overrides = ["data_source=synthetic", "load_in_4bit=false", "ablation_models=[cancer_cpt]", "run_name=gpu",
                 f"runs_root={root}", "initializer_range=0.02", *(TINY if args.tiny else MID), *args.extra]
    cfg = load_params(Path(__file__).resolve().parent.parent / "params" / "paper.yaml", overrides)
    res: dict = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
                 "torch": torch.__version__, "params_overrides": overrides, "phases": {}}
    res["bf16_matmul_peak_tflops"] = matmul_peak_tflops()
    t_all = time.perf_counter()

    cohort = load_cohort(cfg)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    t0 = time.perf_counter()
    model, tok = pipeline.prepare_base(cfg, corpora)
    n_params = sum(p.numel() for p in model.parameters())
    res["model_parameters"] = n_params
    res["phases"]["tokenizer_and_base"] = {"seconds": round(time.perf_counter() - t0, 1)}

    _reset()
    t0 = time.perf_counter()
    cpt = pipeline.continued_pretraining(cfg, model, tok, corpora)
    m = cpt["cancer_cpt"]
    res["phases"]["cpt"] = {"seconds_incl_ppl": round(time.perf_counter() - t0, 1), "train_seconds": m["seconds"],
                            "steps": m["steps"], "tokens_per_second": m.get("tokens_per_second"),
                            "trainable": m["parameters"]["trainable"], "peak_gpu_gb": _peak_gb(),
                            "ppl_base": cpt["base"]["ppl"], "ppl_after": m["ppl"], "train_loss": m["train_loss"]}
    if m.get("tokens_per_second") and res["bf16_matmul_peak_tflops"]:
        # LoRA + gradient checkpointing: forward 2N, recompute 2N, input-gradient backward 2N (frozen weights need
        # no weight gradient) -> ~6N per token, the same count as full training; attention FLOPs left out.
        res["phases"]["cpt"]["mfu_estimate"] = round(
            6 * n_params * m["tokens_per_second"] / (res["bf16_matmul_peak_tflops"] * 1e12), 4)
    del model

    _reset()
    t0 = time.perf_counter()
    sets = pipeline.instruction_sets(cfg, cohort, tok)
    sft = pipeline.instruction_tuning(cfg, sets)["cancer_cpt"]
    res["phases"]["sft"] = {"seconds": round(time.perf_counter() - t0, 1), "train_seconds": sft["seconds"],
                            "steps": sft["steps"], "trainable": sft["parameters"]["trainable"],
                            "peak_gpu_gb": _peak_gb(), "train_loss": sft["train_loss"],
                            "n_train": len(sets["train"]), "best_checkpoint": sft.get("best_checkpoint")}

    _reset()
    model, tok = pipeline.load_tuned(cfg, "cancer_cpt")
    model = model.to(torch.bfloat16) if cfg.bf16 and torch.cuda.is_available() else model
    prompts = list(sets["test"]["prompt"])
    inference.generate(model, tok, prompts[:4], cfg.max_new_tokens, cfg.eval_batch_size)  # warm-up
    t0 = time.perf_counter()
    batched = inference.generate(model, tok, prompts, cfg.max_new_tokens, cfg.eval_batch_size)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    seq = inference.generate_sequential(model, tok, prompts, cfg.max_new_tokens)
    ts = time.perf_counter() - t0
    res["phases"]["generation"] = {
        "prompts": len(prompts), "batch_size": cfg.eval_batch_size, "batched_seconds": round(tb, 2),
        "sequential_seconds": round(ts, 2), "speedup": round(ts / tb, 2),
        "identical_outputs": sum(a == b for a, b in zip(batched, seq)), "peak_gpu_gb": _peak_gb()}
    res["total_seconds"] = round(time.perf_counter() - t_all, 1)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return res


if __name__ == "__main__":
    main()
