"""Performance benchmarks behind `python -m cancerllm bench [--quick] [--out FILE]` (benchmarks/README.md).

Self-contained: the embedded synthetic cohort, a BPE tokenizer trained on it and seeded random Mistral models,
so the numbers do not depend on a finished run. Every ratio comes with the raw numbers behind it.

- gen_batched_vs_sequential: generated tokens/s of `inference.generate` (left padding, KV cache, one batch of
  `gen_batch` prompts) over the reference's one-prompt-at-a-time loop `inference.generate_sequential`, same
  model and prompts (test-split instruction prompts, the evaluation stage's real workload), up to 50 new tokens
  (the reference's max_new_tokens; the demo profile scores with 24); the outputs are compared string by string.
  A second pair on short prompts (the first 32 tokens) shows the decode-bound case.
- train_mfu_fp32: utilisation of the measured fp32 matmul peak by `training.run_cpt` (TRL SFTTrainer, packed
  LM blocks — the continued-pretraining code path) on a ~30M-parameter Mistral, over its optimizer steps
  after the first (cancerllm.efficiency conventions; lm_head counted, input embeddings not).
- bf16_vs_fp32_train: tokens/s of the same run_cpt steps with `bf16: true` (autocast) over fp32, demo shape.
- extraction_vs_reference: the job users run — note-level extraction of every phenotype field plus the diagnosis
  for N test reports — the reference's way (every passage prompt one at a time, greedy, up to 50 new tokens, no
  reuse: ``efficiency.extraction.reference_extract``) over ours (``inference.predict``: each passage read once for all its questions,
  prompts batched by length, only passages whose first token is not the not-relevant reply generated, stop at
  EOS), same model (a demo-shape model tuned for `read_steps` steps, or a finished run's cancer_cpt with
  `run=`), free decoding and the same vote on both sides; the note-level answers are compared and must match.
- train_vs_bare_loop: tokens/s of a `training.run_cpt` optimizer step (TRL SFTTrainer) over a bare PyTorch loop
  (forward with labels, backward, clipping, AdamW) on the same demo-shape model, batch and block, fp32.
- book_demo_seconds: wall time of `run params/demo.yaml` + `book` into a temporary runs_root (not with --quick).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from . import efficiency, inference, modeling, training
from .config import REPO_ROOT, make_config
from .efficiency.extraction import compare_with_reference
from .instructions import FRAME_TOKENS, frame_texts

#: model and workload sizes; "tiny" is for the unit test (seconds), "quick" must finish in < 5 min on 2 cores
_MFU_SHAPE = dict(hidden_size=512, intermediate_size=1536, num_attention_heads=8, num_key_value_heads=4)
SIZES = {
    "tiny": dict(n_patients=24, vocab=600, read_steps=2, n_reports=2, bare_steps=2, bare_block=32, bare_batch=2, gen=dict(hidden_size=32, intermediate_size=96, num_hidden_layers=1),
                 n_prompts=8, gen_batch=8, n_short=8, new_tokens=4, mfu=dict(hidden_size=32, intermediate_size=96,
                 num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1), mfu_block=64, mfu_batch=2,
                 mfu_steps=2, prec_block=32, prec_batch=2, prec_steps=2),
    "quick": dict(n_patients=120, vocab=8000, read_steps=300, n_reports=8, bare_steps=6, bare_block=256, bare_batch=8, gen={}, n_prompts=32, gen_batch=32, n_short=16, new_tokens=50,
                  mfu=dict(_MFU_SHAPE, num_hidden_layers=6), mfu_block=256, mfu_batch=8, mfu_steps=4,
                  prec_block=128, prec_batch=4, prec_steps=3),
    "full": dict(n_patients=300, vocab=8000, read_steps=600, n_reports=24, bare_steps=8, bare_block=256, bare_batch=8, gen={}, n_prompts=64, gen_batch=64, n_short=64, new_tokens=50,
                 mfu=dict(_MFU_SHAPE, num_hidden_layers=8), mfu_block=256, mfu_batch=8, mfu_steps=4,
                 prec_block=128, prec_batch=4, prec_steps=4),
}


def demo_config(**overrides):
    """The demo profile (params/demo.yaml) with overrides, validated."""
    params = yaml.safe_load((REPO_ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))
    return make_config({**params, **overrides}, source="params/demo.yaml (bench)")


def _world(size: str, root: Path):
    from .data.synthetic import generate_cohort
    from .instructions import build_instructions

    s = SIZES[size]
    cfg = demo_config(runs_root=str(root), run_name="bench", n_patients=s["n_patients"],
                      n_general_notes=s["n_patients"], **s["gen"])
    cohort = generate_cohort(cfg.n_patients, seed=cfg.seed, n_general_notes=cfg.n_general_notes)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    texts = corpora["cancer"]["train"] + corpora["general"]["train"]
    tokenizer = modeling.train_tokenizer(texts, s["vocab"])
    test = build_instructions(cohort, "test", tokenizer, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
    prompts = list(test.sample(frac=1.0, random_state=cfg.seed)["prompt"][: s["n_prompts"]])
    return cfg, tokenizer, texts, prompts, cohort


def _gen_pair(model, tokenizer, prompts, new_tokens, batch, reps: int = 2) -> dict:
    """Batched vs sequential generation of the same prompts, interleaved `reps` times with the fastest of each
    kept (on a shared machine the least disturbed run): tokens/s each way, their ratio, output agreement."""
    tb, ts = [], []
    for _ in range(reps):
        with efficiency.measure() as mb:
            batched = inference.generate(model, tokenizer, prompts, new_tokens, batch, desc="bench: batched")
        with efficiency.measure() as ms:
            seq = inference.generate_sequential(model, tokenizer, prompts, new_tokens)
        tb.append(mb.seconds), ts.append(ms.seconds)
    n_tok = sum(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in seq)
    same = [a == b for a, b in zip(batched, seq)]
    return {"batched_tokens_per_s": round(n_tok / min(tb), 1), "sequential_tokens_per_s": round(n_tok / min(ts), 1),
            "ratio": round(min(ts) / min(tb), 2), "batched_s": [round(t, 3) for t in tb],
            "sequential_s": [round(t, 3) for t in ts], "generated_tokens": n_tok, "prompts": len(prompts),
            "batch_size": batch, "identical": all(same), "match_rate": round(sum(same) / max(len(same), 1), 4),
            "prompt_tokens_mean": round(sum(len(tokenizer(p)["input_ids"]) for p in prompts) / len(prompts), 1)}


def bench_generation(cfg, tokenizer, prompts, new_tokens: int, batch: int, n_short: int) -> dict:
    """Real prompts, then the first `n_short` of them cut to their first 32 tokens, in one batch (decoding, not the
    prompt, dominates)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = modeling.build_small_model(cfg, tokenizer).to(device).eval()
    real = _gen_pair(model, tokenizer, prompts, new_tokens, batch)
    short_prompts = [tokenizer.decode(tokenizer(p, add_special_tokens=False)["input_ids"][:32])
                     for p in prompts[:n_short]]
    short = _gen_pair(model, tokenizer, short_prompts, new_tokens, n_short)
    return {"real": real, "short": short, "params": modeling.count_parameters(model)["total"]}


def _reading_model(cfg, tokenizer, cohort, steps: int, out_dir: Path):
    """A demo-shape model tuned for `steps` SFT steps on the demo's tuning examples (sentence-level QA and
    diagnosis), from random init: a model that reads, so that skipping not-relevant passages is measured
    as it happens in the book (a random model answers every passage)."""
    import dataclasses

    from .instructions import build_instructions
    from .pipeline import sft_examples

    c = dataclasses.replace(cfg, sft_max_steps=steps, eval_steps=max(steps, 1), save_steps=max(steps, 1))
    sets = {s: build_instructions(cohort, s, tokenizer, c.sft_max_length, c.max_new_tokens, c.prompt_style)
            for s in ("train", "dev")}
    train = sft_examples(c, cohort, sets["train"], "train")
    dev = sft_examples(c, cohort, sets["dev"], "dev").sample(n=16, random_state=c.seed)
    model = modeling.build_small_model(c, tokenizer)
    model, _ = training.run_sft(c, model, tokenizer, train, dev, out_dir)
    return model.eval()


def extraction_world(cfg, tokenizer, cohort, s: dict, root: Path, run: str | None = None):
    """(model, tokenizer, rows) for ``efficiency.extraction.compare_with_reference``: the first `n_reports` test
    patients' note-level instances (``efficiency.extraction.report_instances``), with a finished run's cancer_cpt
    (`run` = its directory) or a freshly tuned demo-shape model."""
    from .efficiency.extraction import report_instances

    if run:
        from . import pipeline
        from .evaluation import run_config

        cfg = run_config(run)
        model, tokenizer = pipeline.load_tuned(cfg, cfg.ablation_models[-1])
        cohort = None  # the run's own, loaded by report_instances
    else:
        model = _reading_model(cfg, tokenizer, cohort, s["read_steps"], root / "reading_model")
    return model, tokenizer, report_instances(cfg, tokenizer, s["n_reports"], cohort)


def bare_loop_step_seconds(cfg, tokenizer, texts, steps: int, block: int, batch: int) -> float:
    """Median optimizer-step time (after the first) of a bare PyTorch loop on the model ``efficiency.train_run``
    builds for `cfg`: the same packed blocks' shape, forward with labels (the model's own loss), backward,
    gradient clipping at TRL's default norm (1.0), AdamW with the run's learning rate and weight decay."""
    model = modeling.build_small_model(cfg, tokenizer).train()
    ids = tokenizer("\n\n".join(texts))["input_ids"]
    need = (steps + 1) * batch * block
    ids = (ids * (need // max(len(ids), 1) + 1))[:need]
    data = torch.tensor(ids, dtype=torch.long).view(-1, block)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.cpt_learning_rate, weight_decay=cfg.cpt_weight_decay)
    times = []
    for k in range(steps):
        x = data[k * batch:(k + 1) * batch]
        t0 = time.perf_counter()
        model(input_ids=x, labels=x).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    times = sorted(times[1:] or times)
    return times[len(times) // 2]


def bench_train_vs_bare(cfg, tokenizer, texts, root: Path, steps: int, block: int = 256, batch: int = 8,
                        reps: int = 2) -> dict:
    """TRL (``efficiency.train_run``, i.e. ``training.run_cpt``) against ``bare_loop_step_seconds``, same model,
    block, batch and steps, interleaved `reps` times (fastest of each kept)."""
    trl, bare = [], []
    for k in range(reps):
        m = efficiency.train_run(cfg, tokenizer, texts, root / f"trl_{k}", steps + 1, block, batch)
        trl.append(m["step_seconds"])
        bare.append(bare_loop_step_seconds(cfg, tokenizer, texts, steps + 1, block, batch))
    tokens = block * batch
    return {"ratio": round(min(bare) / min(trl), 3), "trl_tokens_per_s": round(tokens / min(trl), 1),
            "bare_tokens_per_s": round(tokens / min(bare), 1), "trl_step_s": [round(t, 4) for t in trl],
            "bare_step_s": [round(t, 4) for t in bare], "block": block, "batch": batch, "steps": steps,
            "hidden_size": cfg.hidden_size, "layers": cfg.num_hidden_layers, "vocab": len(tokenizer)}


def _mfu_run(cfg, tokenizer, texts, out_dir: Path, s: dict, remeasure: bool = True) -> dict:
    """The MFU training run (its `mfu` as the training stage recorded it), its achieved GFLOP/s, and one more peak
    measured right after it with the full budget: on a shared machine the peak drifts, and a low peak would
    inflate MFU, so `run_bench` divides by the best peak it saw."""
    m = efficiency.train_run(cfg, tokenizer, texts, out_dir, s["mfu_steps"], s["mfu_block"], s["mfu_batch"], **s["mfu"])
    after = efficiency.matmul_peak_gflops(torch.float32, budget_s=3.0) if remeasure else m["peak_gflops"]
    m.update(peak_gflops_after=after, threads=torch.get_num_threads(),
             achieved_gflops=round(m["flops_per_token"] * s["mfu_block"] * s["mfu_batch"] / m["step_seconds"] / 1e9, 2))
    return m


def book_demo_seconds(root: Path) -> float:
    """Wall time of the demo pipeline and the book build, in a fresh runs_root (subprocesses, as a user runs it)."""
    t0 = time.perf_counter()
    for cmd in (["run", "params/demo.yaml"], ["book", "params/demo.yaml"]):
        proc = subprocess.run([sys.executable, "-m", "cancerllm", *cmd, "--set", f"runs_root={root}"], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench: `{' '.join(cmd)}` failed:\n{proc.stderr[-2000:]}")
    return round(time.perf_counter() - t0, 1)


def run_bench(quick: bool = True, tiny: bool = False, run: str | None = None) -> dict:
    """All benchmarks; returns one JSON-ready dict (the `bench` command prints it). `run`: a finished run
    directory whose cancer_cpt and test reports the extraction benchmark uses instead of a freshly tuned model."""
    size = "tiny" if tiny else "quick" if quick else "full"
    s = SIZES[size]
    threads = efficiency.configure_threads()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cancerllm-bench-") as tmp:
        root = Path(tmp)
        cfg, tokenizer, texts, prompts, cohort = _world(size, root)
        budget = 0.2 if tiny else 3.0  # seconds per peak measurement (tiny: the unit test)
        peak32 = efficiency.peak_gflops(torch.float32, budget_s=budget)
        peak16 = efficiency.peak_gflops(torch.bfloat16, budget_s=budget)
        gen = bench_generation(cfg, tokenizer, prompts, s["new_tokens"], s["gen_batch"], s["n_short"])
        by_threads = {}
        # the configured thread count first (the headline), then 1 thread: on a busy CPU fewer threads can win
        for th in [threads] if torch.cuda.is_available() else sorted({1, threads}, reverse=True):
            efficiency.configure_threads(th)
            efficiency.peak_gflops(torch.float32, budget_s=budget)
            by_threads[th] = _mfu_run(cfg, tokenizer, texts, root / f"mfu_{th}", s, remeasure=not tiny)
        efficiency.configure_threads(threads)
        mfu = by_threads[threads]
        prec = {name: efficiency.train_run(cfg, tokenizer, texts, root / name, s["prec_steps"], s["prec_block"],
                                           s["prec_batch"], bf16=name == "bf16") for name in ("fp32", "bf16")}
        # the demo's tokenizer size (and its prompt frame) for the demo-shape reading model and the bare loop
        demo_tok = modeling.train_tokenizer(texts + frame_texts(), min(cfg.vocab_size, s["vocab"]),
                                           phrases=FRAME_TOKENS)
        bare = bench_train_vs_bare(cfg, demo_tok, texts, root / "bare", s["bare_steps"], s["bare_block"],
                                   s["bare_batch"])
        model, ext_tok, rows = extraction_world(cfg, demo_tok, cohort, s, root, run)
        ext = compare_with_reference(model, ext_tok, rows, cfg.eval_batch_size)
        book, book_error = None, None
        if not (quick or tiny):
            try:
                book = book_demo_seconds(root / "book_runs")
            except RuntimeError as exc:  # a failing stage is reported, the other numbers still come back
                book_error = str(exc)[-2000:]
    # the headline MFU is against the best fp32 peak this process measured at that thread count (conservative:
    # a peak measured while other processes held the cores would flatter it)
    peak32 = max(peak32, efficiency.peak_gflops(torch.float32), mfu["peak_gflops_after"])
    for th, m in by_threads.items():
        best = max(m["peak_gflops"], m["peak_gflops_after"], peak32 if th == threads else 0.0)
        m["mfu_vs_best_peak"] = round(m["achieved_gflops"] / best, 4) if best else None
    return {
        "size": size,
        "extraction_vs_reference": ext["ratio"],
        "extraction_answers_identical": ext["identical"],
        "train_vs_bare_loop": bare["ratio"],
        "gen_batched_vs_sequential": gen["real"]["ratio"],
        "gen_outputs_identical": gen["real"]["identical"],
        "gen_match_rate": gen["real"]["match_rate"],
        "gen_batched_vs_sequential_short_prompts": gen["short"]["ratio"],
        "train_mfu_fp32": mfu["mfu_vs_best_peak"],
        "bf16_vs_fp32_train": round(prec["bf16"]["step_tokens_per_second"] / prec["fp32"]["step_tokens_per_second"], 4)
        if prec["bf16"]["step_tokens_per_second"] and prec["fp32"]["step_tokens_per_second"] else None,
        "book_demo_seconds": book, "book_demo_error": book_error,
        "peak_rss_gb": round(efficiency.process_peak_rss_gb(), 3),
        "matmul_peak_gflops": {"float32": peak32, "bfloat16": max(peak16, efficiency.peak_gflops(torch.bfloat16))},
        "train_mfu_fp32_by_threads": {str(k): v["mfu_vs_best_peak"] for k, v in by_threads.items()},
        "extraction": ext, "training_vs_bare": bare, "generation": gen, "training_mfu": by_threads, "training_precision": prec,
        "threads": threads, "physical_cores": efficiency.physical_cores(), "torch": torch.__version__,
        "cpu": efficiency.cpu_model(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(), "bench_seconds": round(time.perf_counter() - t_start, 1),
    }


def write(result: dict, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
