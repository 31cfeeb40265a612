"""The efficiency chapter's experiments: training-cost runs (`train_run`, used by the benchmark too), stage costs
from a run's metrics, the scaling sweep, LoRA vs full fine-tuning, fp32 vs bf16, the inference sweep and the
retrieval cost. Each returns a table of measured numbers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..measure.flops import matmul_parameters
from ..measure.memory import measure
from ..provenance import read_metrics


def train_run(cfg, tokenizer, texts: list[str], out_dir, steps: int, block: int, batch: int, bf16: bool = False,
              lora: bool = False, **shape) -> dict:
    """`training.run_cpt` (TRL SFTTrainer on packed LM blocks, full or LoRA fine-tuning) for `steps` optimizer
    steps on a seeded small Mistral of `shape` (config fields, e.g. hidden_size); returns its cost metrics.
    LoRA uses the SFT adapter size (sft_lora_r / sft_lora_alpha). Used by the benchmark and the precision and
    LoRA-vs-full comparisons of notebooks/50_efficiency.ipynb."""
    from .. import modeling, training

    c = dataclasses.replace(cfg, cpt_max_steps=steps, cpt_block_size=block, cpt_per_device_train_batch_size=batch,
                            cpt_gradient_accumulation_steps=1, cpt_use_lora=lora, cpt_lora_r=cfg.sft_lora_r,
                            cpt_lora_alpha=cfg.sft_lora_alpha, save_steps=10_000, bf16=bf16, **shape)
    model = modeling.build_small_model(c, tokenizer)
    n_matmul = matmul_parameters(model)
    _, m = training.run_cpt(c, model, tokenizer, texts, Path(out_dir))
    final = Path(out_dir) / "final"
    keep = ("steps", "seconds", "tokens_per_second", "step_seconds", "flops_per_token", "mfu", "peak_gflops",
            "peak_rss_gb", "peak_dtype")
    return {**{k: m.get(k) for k in keep}, "params_total": m["parameters"]["total"],
            "params_trainable": m["parameters"]["trainable"], "params_matmul": n_matmul, "block": block,
            "batch": batch, "step_tokens_per_second": round(block * batch / m["step_seconds"], 1) if m.get("step_seconds") else None,
            "checkpoint_mb": round(sum(f.stat().st_size for f in final.glob("*.safetensors")) / 2**20, 2)}


#: The paper's efficiency claims (npj Digit. Med. 2026 summary; paper notes §9). No numbers were published.


def stage_costs(cfg):
    """One row per training run of stages 10 (CPT) and 20 (SFT), from their metrics.json: steps, seconds,
    s/100 steps, tokens/s, peak RSS, MFU, parameters. Columns a run predating these metrics lacks are NaN."""
    rows = []
    for stage, key in (("10_continued_pretraining", "cpt"), ("20_instruction_tuning", "sft")):
        d = cfg.run_dir / stage  # metrics.json + timings.json (wall times are kept apart: provenance.write_metrics)
        for name, m in (read_metrics(d) if (d / "metrics.json").is_file() else {}).get(key, {}).items():
            if "steps" not in m:
                continue
            rows.append({"stage": key.upper(), "model": name, "steps": m["steps"], "seconds": m["seconds"],
                         "s per 100 steps": round(100 * m["seconds"] / max(m["steps"], 1), 1),
                         "tokens/s": m.get("tokens_per_second"), "peak RSS (GiB)": m.get("peak_rss_gb"),
                         "MFU": m.get("mfu"), "trainable params": m["parameters"]["trainable"],
                         "total params": m["parameters"]["total"]})
    return pd.DataFrame(rows)


def scaling_sweep(cfg, sets: dict, tokenizer, out_dir, dev_examples: int = 32):
    """For each width in `efficiency_hidden_sizes` (intermediate 3x, layers/heads from cfg): a seeded random
    model, instruction tuning as the run does it (LoRA, or every weight with `sft_adapter: full`) with the
    project's `training.run_sft` for `efficiency_steps` steps on the
    run's train set, dev loss (first `dev_examples` dev instructions) at the end. Returns cost and the dev loss
    reached, one row per width."""
    from .. import modeling, training

    rows, steps = [], cfg.efficiency_steps
    dev = sets["sft_dev"].head(dev_examples)  # one fixed dev subset for every width: a cheap, comparable dev loss
    for h in tqdm(cfg.efficiency_hidden_sizes, desc="scaling sweep"):
        c = dataclasses.replace(cfg, hidden_size=h, intermediate_size=3 * h, sft_max_steps=steps, eval_steps=steps,
                                save_steps=steps, sft_warmup_steps=0.0)
        model = modeling.build_small_model(c, tokenizer)
        n_matmul = matmul_parameters(model)
        train = sets["sft_train"].head(2 * steps * c.sft_per_device_train_batch_size * c.sft_gradient_accumulation_steps)
        _, m = training.run_sft(c, model, tokenizer, train, dev, Path(out_dir) / f"hidden_{h}")
        evals = [x["eval_loss"] for x in m["log_history"] if "eval_loss" in x]
        rows.append({"hidden": h, "params": m["parameters"]["total"], "matmul params": n_matmul,
                     "method": "full" if c.sft_adapter == "full" else "LoRA", "trainable": m["parameters"]["trainable"], "steps": m["steps"], "seconds": m["seconds"],
                     "s per 100 steps": round(100 * m["seconds"] / max(m["steps"], 1), 1),
                     "tokens/s": m.get("tokens_per_second"), "peak RSS (GiB)": m["peak_rss_gb"], "MFU": m["mfu"],
                     "dev loss": round(min(evals), 3) if evals else None})
    return pd.DataFrame(rows).set_index("hidden")


def sft_texts(sets: dict, n: int | None = None) -> list[str]:
    """The first `n` instruction-tuning examples as plain LM text (prompt + completion + EOS), for the run_cpt-based
    comparisons (the sets are already in a seeded random order)."""
    train = sets["sft_train"].head(n) if n else sets["sft_train"]
    return [p + c + "</s>" for p, c in zip(train["prompt"], train["completion"])]


def comparison_shape(cfg) -> dict:
    """Model shape of the LoRA-vs-full and precision comparisons: the run's own small model, or, for a run whose
    shape is large (the paper profile's 7B), the widest model of the scaling sweep."""
    if cfg.uses_small_model and cfg.hidden_size <= 1024:
        return {}
    h = max(cfg.efficiency_hidden_sizes)
    return {"hidden_size": h, "intermediate_size": 3 * h}


def lora_vs_full(cfg, sets: dict, tokenizer, out_dir, steps: int | None = None):
    """Full fine-tuning vs LoRA (sft_lora_r) at the run's model size, same data, batch and steps (default: half
    of `efficiency_steps`, at least 3), through `training.run_cpt` (the one code path that trains both ways).
    Returns one row per method."""
    steps = steps or max(3, cfg.efficiency_steps // 2)
    batch = cfg.sft_per_device_train_batch_size
    texts = sft_texts(sets, 2 * steps * batch)  # enough text for `steps` packed batches
    rows = {}
    for method, lora in (("full", False), ("LoRA", True)):
        rows[method] = train_run(cfg, tokenizer, texts, Path(out_dir) / method, steps, cfg.sft_max_length, batch,
                                 lora=lora, **comparison_shape(cfg))
    return pd.DataFrame(rows).T


def precision_compare(cfg, sets: dict, tokenizer, out_dir, steps: int = 3, block: int = 128, batch: int = 4):
    """fp32 vs bf16 (autocast) training steps at the run's model size, small blocks: bf16 can be tens of times
    slower on a CPU without bf16 instructions, so the comparison is kept cheap. One row per precision."""
    texts = sft_texts(sets, 4 * steps * batch)
    rows = {name: train_run(cfg, tokenizer, texts, Path(out_dir) / name, steps, block, batch, bf16=name == "bf16",
                            **comparison_shape(cfg)) for name in ("fp32", "bf16")}
    return pd.DataFrame(rows).T


def _prefix(tokenizer, prompt: str, n_tokens: int) -> str:
    return tokenizer.decode(tokenizer(prompt, add_special_tokens=False)["input_ids"][:n_tokens])


def generation_prompts(test, n: int = 256, seed: int = 0) -> list[str]:
    """What the models actually generate from, in a seeded order: the passage prompts of phenotype questions
    (``inference.sentence_prompts``) and the diagnosis prompts — at most `n`."""
    from .. import inference

    prompts = [p for r in test.to_dict("records")
               for p in (inference.sentence_prompts(r) if r["task"] == "phenotype_extraction" else [r["prompt"]])]
    order = np.random.default_rng(seed).permutation(len(prompts))[:n]
    return [prompts[i] for i in order]


def inference_sweep(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_sizes=(1, 4, 16, 64),
                    prompt_lengths=(32, 128), cache_prompts: int = 4, min_prompts: int = 4, reps: int = 2):
    """Generation cost of `inference.generate` on the given prompts:
    - batch size: each size runs max(size, min_prompts) prompts (as many as available);
    - the reference's one-prompt loop (`generate_sequential`) on `min_prompts` prompts, compared with batched;
    - KV cache off vs on: `cache_prompts` prompts at batch `cache_prompts`;
    - prompt length: prompts cut to `prompt_lengths` tokens (plus the full prompts) at batch 16.
    Each setting is timed `reps` times and the fastest kept. Returns a long table: experiment, setting, prompts, seconds, new tokens, tokens/s, latency per batch (s)."""
    from .. import inference

    def run(kind, setting, ps, bs, use_cache=True, seq=False):
        best = None
        for _ in range(reps):  # best of `reps`: on a shared machine the least disturbed run
            with measure() as m:
                outs = (inference.generate_sequential(model, tokenizer, ps, max_new_tokens) if seq else
                        inference.generate(model, tokenizer, ps, max_new_tokens, bs, desc=kind, use_cache=use_cache))
            best = m if best is None or m.seconds < best.seconds else best
        n = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outs)
        rows.append({"experiment": kind, "setting": setting, "prompts": len(ps), "seconds": round(best.seconds, 3),
                     "new tokens": n, "tokens/s": round(n / best.seconds, 1),
                     "latency per batch (s)": round(best.seconds / -(-len(ps) // bs), 3),
                     "peak RSS (GiB)": round(best.peak_rss_gb, 3)})
        return outs

    rows = []
    inference.generate(model, tokenizer, prompts[:2], 2, 2, desc="warm-up")  # one-off allocations, not timed
    jobs = [("batch size", bs) for bs in batch_sizes] + [("reference loop", 1), ("KV cache", "off"),
                                                          ("KV cache", "on")] + [("prompt length", L) for L in prompt_lengths]
    for kind, setting in tqdm(jobs, desc="inference sweep"):
        if kind == "batch size":
            run(kind, setting, prompts[: max(setting, min_prompts)], setting)
        elif kind == "reference loop":
            seq = run(kind, "sequential, batch 1", prompts[:min_prompts], 1, seq=True)
            batched = inference.generate(model, tokenizer, prompts[:min_prompts], max_new_tokens, min_prompts,
                                         desc="check")
            rows[-1]["identical to batched"] = f"{sum(a == b for a, b in zip(seq, batched))}/{len(seq)}"
        elif kind == "KV cache":
            run(kind, setting, prompts[:cache_prompts], cache_prompts, use_cache=setting == "on")
        else:
            run(kind, f"{setting} tokens", [_prefix(tokenizer, p, setting) for p in prompts[:16]], 16)
    return pd.DataFrame(rows)


def retrieval_cost(cfg, sets: dict):
    """Index build time and query latency of each configured retriever (``cases.index.timings``), one row per
    retriever (`retrievers` is never empty). The retrieval stage runs after this one, so it is measured here."""
    from ..cases.index import timings

    return timings(sets["train"], sets["test"], cfg.retrievers, cfg.seed, repeats=1)
