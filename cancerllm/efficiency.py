"""Cost measurement: wall time, tokens/s, peak memory, parameters, model FLOPs per token and utilisation (MFU).

FLOPs convention (PaLM, Chowdhery et al. 2022, appendix B; Chinchilla, Hoffmann et al. 2022, appendix F):
  N      = parameters that take part in a matmul = all parameters except the input embedding table (a lookup,
           no FLOPs). The untied output projection (lm_head) IS counted: it is real compute (vocab x hidden
           per token). Norm weights are counted too (negligible).
  training, full fine-tuning   6 N + 6 L T d   per token (forward 2N, backward 4N)
  training, LoRA (frozen base) 4 N + 2 N_t + 6 L T d: forward 2N and input-gradients 2N through every layer,
                               weight gradients 2 N_t only for the N_t trainable parameters
  inference (forward)          2 N + 2 L T d
  The attention term: QK^T and AV cost 4 T d FLOPs per token per layer in the forward pass over a context of
  T tokens; a causal mask needs only half of it (2 L T d forward, x3 for training = 6 L T d). PaLM writes
  12 L H Q T without the causal discount; we take the discounted half, as flash attention computes.
MFU = model FLOPs per token x tokens per second / peak FLOP/s. For a training run the tokens per second are those
of its median optimizer step (forward, backward, optimizer; the first step left out), see training._cost_metrics.
The peak is MEASURED on this machine by a large square matmul (best of a few reps) at the dtype the model trains in
(fp32 or bf16) and torch's thread count — not a datasheet number.
Utilisation therefore reads "fraction of the best matmul throughput this machine showed", and recomputation
(activation checkpointing) or padding does not count as useful work.

Used in cancerllm.training (every training stage records these), cancerllm.bench and
notebooks/50_efficiency.ipynb.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .provenance import read_metrics

STAGE = "50_efficiency"


# ============================================================================ threads and hardware
def physical_cores() -> int:
    """Physical CPU cores this process may use: hyper-threads share one core's FMA units (they add nothing to
    matmul peak), and a container's CPU affinity or cgroup quota caps what the host reports."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:  # pragma: no cover - psutil is a dependency
        n = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        n = min(n, len(os.sched_getaffinity(0)))
    try:  # cgroup v2 quota, e.g. "200000 100000" = 2 CPUs
        quota, period = open("/sys/fs/cgroup/cpu.max", encoding="utf-8").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


_THREADS_SET = [False]  # whether this process's thread count was already chosen (by policy or explicitly)


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads and return the count. `n` given: exactly that. Otherwise, the first call in a
    process applies the policy — `CANCERLLM_THREADS`, else (unless the user set `OMP_NUM_THREADS`, which is
    respected) the physical cores — and later calls leave whatever was chosen alone, so a training stage never
    undoes a caller's explicit choice. The one place for the thread policy: training stages, the efficiency
    chapter and the benchmark call it. (On a CPU shared with other busy processes, fewer threads can be much
    faster: set CANCERLLM_THREADS=1; see benchmarks/README.md.)"""
    if n is None and _THREADS_SET[0]:
        return torch.get_num_threads()
    _THREADS_SET[0] = True
    n = n or int(os.environ.get("CANCERLLM_THREADS", 0) or 0)
    if not n and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    n = n or physical_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_label() -> str:
    """Short label for figure titles: the GPU, or the CPU model with the thread count torch uses."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{cpu_model()}, {torch.get_num_threads()} threads"


# ============================================================================ memory
def _vm_hwm_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**30


def peak_rss_gb() -> float:
    """This process's peak resident memory (GiB) since start or the last `reset_peak_memory` (Linux VmHWM;
    elsewhere `ru_maxrss`, which cannot be reset)."""
    kb = _vm_hwm_kb()
    if kb is None:
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kb = ru / 1024 if platform.system() == "Darwin" else ru  # macOS reports bytes, Linux kilobytes
    return kb / 2**20


_EARLIER_PEAK_GB = [0.0]  # the process peak before the last reset, so the whole-process peak is never lost


def process_peak_rss_gb() -> float:
    """Peak resident memory of the whole process (GiB), across any `reset_peak_memory` calls."""
    return max(_EARLIER_PEAK_GB[0], peak_rss_gb())


def reset_peak_memory() -> bool:
    """Restart peak tracking: the GPU allocator's peak, and on Linux the process's VmHWM (writing 5 to
    /proc/self/clear_refs). Returns False when the RSS peak could not be reset."""
    _EARLIER_PEAK_GB[0] = process_peak_rss_gb()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Measurement:
    """What `measure()` recorded: wall seconds, peak RSS (GiB; and its rise over the RSS at entry), GPU peak."""
    seconds: float = 0.0
    peak_rss_gb: float = 0.0
    rss_start_gb: float = 0.0
    peak_gpu_gb: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def peak_rss_delta_gb(self) -> float:
        return max(0.0, self.peak_rss_gb - self.rss_start_gb)


@contextmanager
def measure(sample_interval: float = 0.05):
    """Time a block and record its peak memory:

        with measure() as m:
            ...
        m.seconds, m.peak_rss_gb, m.peak_rss_delta_gb, m.peak_gpu_gb

    The RSS peak comes from the kernel's high-water mark reset at entry; where it cannot be reset a
    background thread samples RSS every `sample_interval` s instead."""
    m = Measurement(rss_start_gb=current_rss_gb())
    exact = reset_peak_memory()
    stop, samples = threading.Event(), [m.rss_start_gb]
    sampler = None
    if not exact:
        def _sample():
            while not stop.wait(sample_interval):
                samples.append(current_rss_gb())
        sampler = threading.Thread(target=_sample, daemon=True)
        sampler.start()
    t0 = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - t0
        if sampler is not None:
            stop.set()
            sampler.join()
        m.peak_rss_gb = peak_rss_gb() if exact else max(samples + [current_rss_gb()])
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            m.peak_gpu_gb = torch.cuda.max_memory_allocated() / 2**30


# ============================================================================ peak FLOP/s
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak_gflops(dtype=torch.float32, device=None, sizes=None, reps: int = 3, budget_s: float = 1.5) -> float:
    """Best GFLOP/s of an n x n @ n x n matmul (2 n^3 FLOPs) over `sizes` and `reps`, at torch's current
    thread count. A size is skipped once its predicted time (the last size's, scaled by n^3) would overrun
    `budget_s`, so slow dtypes (bf16 on a CPU without bf16 instructions) stop early at a small size."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = sizes or ((2048, 4096, 8192) if device.type == "cuda" else (256, 512, 1024, 2048))
    best, spent, last = 0.0, 0.0, None
    for n in sizes:
        if last is not None and spent + last[1] * (n / last[0]) ** 3 * (reps + 1) > budget_s:
            break
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        times = []
        for _ in range(reps + 1):  # the first is a warm-up (allocation, kernel selection)
            _sync(device)
            t = time.perf_counter()
            a @ b
            _sync(device)
            times.append(time.perf_counter() - t)
        spent += sum(times)
        last = (n, min(times[1:]))
        best = max(best, 2 * n**3 / max(last[1], 1e-12) / 1e9)
    return round(best, 2)


_PEAKS: dict = {}  # (dtype, device, threads) -> GFLOP/s, measured once per process


def peak_gflops(dtype=torch.float32, device=None, budget_s: float = 3.0) -> float:
    """`matmul_peak_gflops`, measured once per process, dtype, device and thread count (the first caller's
    `budget_s` decides how large the matmuls may get; later calls return the cached value)."""
    device = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    key = (str(dtype), device, torch.get_num_threads())
    if key not in _PEAKS:
        _PEAKS[key] = matmul_peak_gflops(dtype, device, budget_s=budget_s)
    return _PEAKS[key]


def refresh_peak(dtype=torch.float32, device=None, budget_s: float = 1.0) -> float:
    """Measure the peak again and keep the larger of the cached and the new value: on a shared machine a single
    measurement can come out low (another process had the cores), which would inflate MFU. Training stages call
    this after training, so a run's MFU is relative to the best the machine showed before or after it."""
    old = peak_gflops(dtype, device)
    device = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    key = (str(dtype), device, torch.get_num_threads())
    _PEAKS[key] = max(old, matmul_peak_gflops(dtype, device, budget_s=budget_s))
    return _PEAKS[key]


# ============================================================================ FLOPs and utilisation
def _unwrap(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def matmul_parameters(model) -> int:
    """N of the FLOPs convention: all parameters except the input embedding table."""
    total = sum(p.numel() for p in model.parameters())
    emb = _unwrap(model).get_input_embeddings()
    return int(total - (emb.weight.numel() if emb is not None else 0))


def trainable_parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def flops_per_token(n_params: int, n_layers: int, hidden: int, seq_len: float, mode: str = "train",
                    n_trainable: int | None = None) -> float:
    """Model FLOPs per token (module docstring): mode "train" (full when n_trainable is None or equal to
    n_params, LoRA otherwise) or "inference"."""
    attn_fwd = 2 * n_layers * seq_len * hidden
    if mode == "inference":
        return float(2 * n_params + attn_fwd)
    if mode != "train":
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    n_t = n_params if n_trainable is None else min(n_trainable, n_params)
    return float(4 * n_params + 2 * n_t + 3 * attn_fwd)


def model_flops_per_token(model, seq_len: float, mode: str = "train") -> float:
    """`flops_per_token` for a (possibly PEFT-wrapped) Hugging Face causal LM."""
    conf = _unwrap(model).config
    n = matmul_parameters(model)
    return flops_per_token(n, conf.num_hidden_layers, conf.hidden_size, seq_len, mode,
                           n_trainable=min(trainable_parameters(model), n) if mode == "train" else None)


def mfu(flops_per_tok: float, tokens: float, seconds: float, peak_gflops_: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the measured peak FLOP/s."""
    if seconds <= 0 or peak_gflops_ <= 0:
        return float("nan")
    return flops_per_tok * tokens / seconds / (peak_gflops_ * 1e9)


# ============================================================================ training-cost runs
def train_run(cfg, tokenizer, texts: list[str], out_dir, steps: int, block: int, batch: int, bf16: bool = False,
              lora: bool = False, **shape) -> dict:
    """`training.run_cpt` (TRL SFTTrainer on packed LM blocks, full or LoRA fine-tuning) for `steps` optimizer
    steps on a seeded small Mistral of `shape` (config fields, e.g. hidden_size); returns its cost metrics.
    LoRA uses the SFT adapter size (sft_lora_r / sft_lora_alpha). Used by the benchmark and the precision and
    LoRA-vs-full comparisons of notebooks/50_efficiency.ipynb."""
    from . import modeling, training

    c = dataclasses.replace(cfg, cpt_max_steps=steps, cpt_block_size=block, cpt_per_device_train_batch_size=batch,
                            cpt_gradient_accumulation_steps=1, cpt_use_lora=lora, lora_r=cfg.sft_lora_r,
                            lora_alpha=cfg.sft_lora_alpha, save_steps=10_000, bf16=bf16, **shape)
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


# ============================================================================ the chapter's experiments
#: The paper's efficiency claims (npj Digit. Med. 2026 summary; paper notes §9). No numbers were published.
REPORTED = [
    {"claim": "CancerLLM (7B) needs far less training/inference time than 70B models (e.g. ClinicalCamel-70B)",
     "value": "no number published", "source": "npj summary"},
    {"claim": "CancerLLM (7B) needs far less GPU memory than 70B models", "value": "no number published",
     "source": "npj summary"},
    {"claim": "accuracy competitive with 70B models (ClinicalCamel-70B best on phenotype extraction)",
     "value": "no efficiency table published", "source": "npj summary"},
]


def reported_table():
    """The paper's efficiency claims, labelled 'reported by the paper' (nothing here was measured)."""
    return pd.DataFrame(REPORTED).set_index("claim").rename(columns={"value": "reported by the paper"})


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
    model, LoRA instruction tuning with the project's `training.run_sft` for `efficiency_steps` steps on the
    run's train set, dev loss (first `dev_examples` dev instructions) at the end. Returns cost and the dev loss
    reached, one row per width."""
    from . import modeling, training

    rows, steps = [], cfg.efficiency_steps
    dev = sets["dev"].head(dev_examples)  # one fixed dev subset for every width: a cheap, comparable dev loss
    for h in tqdm(cfg.efficiency_hidden_sizes, desc="scaling sweep"):
        c = dataclasses.replace(cfg, hidden_size=h, intermediate_size=3 * h, sft_max_steps=steps, eval_steps=steps,
                                save_steps=steps, sft_warmup_ratio=0.0)
        model = modeling.build_small_model(c, tokenizer)
        n_matmul = matmul_parameters(model)
        train = sets["train"].head(2 * steps * c.sft_per_device_train_batch_size * c.sft_gradient_accumulation_steps)
        _, m = training.run_sft(c, model, tokenizer, train, dev, Path(out_dir) / f"hidden_{h}")
        evals = [x["eval_loss"] for x in m["log_history"] if "eval_loss" in x]
        rows.append({"hidden": h, "params": m["parameters"]["total"], "matmul params": n_matmul,
                     "trainable (LoRA)": m["parameters"]["trainable"], "steps": m["steps"], "seconds": m["seconds"],
                     "s per 100 steps": round(100 * m["seconds"] / max(m["steps"], 1), 1),
                     "tokens/s": m.get("tokens_per_second"), "peak RSS (GiB)": m["peak_rss_gb"], "MFU": m["mfu"],
                     "dev loss": round(min(evals), 3) if evals else None})
    return pd.DataFrame(rows).set_index("hidden")


def sft_texts(sets: dict, n: int | None = None) -> list[str]:
    """The first `n` training instructions as plain LM text (prompt + completion + EOS), for the run_cpt-based
    comparisons (the sets are already in a seeded random order)."""
    train = sets["train"].head(n) if n else sets["train"]
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


def inference_sweep(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_sizes=(1, 4, 16, 64),
                    prompt_lengths=(32, 128), cache_prompts: int = 4, min_prompts: int = 4, reps: int = 2):
    """Generation cost of `inference.generate` on the given prompts:
    - batch size: each size runs max(size, min_prompts) prompts (as many as available);
    - the reference's one-prompt loop (`generate_sequential`) on `min_prompts` prompts, compared with batched;
    - KV cache off vs on: `cache_prompts` prompts at batch `cache_prompts`;
    - prompt length: prompts cut to `prompt_lengths` tokens (plus the full prompts) at batch 16.
    Each setting is timed `reps` times and the fastest kept. Returns a long table: experiment, setting, prompts, seconds, new tokens, tokens/s, latency per batch (s)."""
    from . import inference

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
    """Index build time and query latency of each configured retriever (cancerllm.retrieval.timings), or None
    when that module is not available. The retrieval stage runs after this one, so it is measured here."""
    try:
        from . import retrieval
    except ImportError:
        return None
    if not hasattr(retrieval, "timings"):
        return None
    return retrieval.timings(sets["train"], sets["test"], cfg.retrievers, cfg.seed, repeats=1)


# ============================================================================ tables, captions and metrics.json
def hardware_info() -> dict:
    """What this machine offers: CPU/GPU, threads, and the matmul peak measured now (fp32 and bf16)."""
    return {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu_model(),
            "torch_threads": torch.get_num_threads(), "physical_cores": physical_cores(), "torch": torch.__version__,
            "peak_fp32_gflops": peak_gflops(torch.float32), "peak_bf16_gflops": peak_gflops(torch.bfloat16)}


_HARDWARE_LABELS = {"torch_threads": "torch threads", "physical_cores": "physical cores",
                    "peak_fp32_gflops": "peak fp32 matmul (GFLOP/s, measured)",
                    "peak_bf16_gflops": "peak bf16 matmul (GFLOP/s, measured)"}


def hardware_table(info: dict):
    return pd.DataFrame({"measured here": {_HARDWARE_LABELS.get(k, k): v for k, v in info.items()}})


def table_or_notice(df, notice: str):
    """The table, or a Markdown notice when there is nothing to show (e.g. a module that is not installed)."""
    return _md(f"*{notice}*") if df is None or len(df) == 0 else df


def _md(text: str):
    from IPython.display import Markdown

    return Markdown(text)


def scaling_summary(scaling, hardware: str):
    """One sentence per width, numbers from the sweep: "a model of X parameters trains in Y s per 100 steps"."""
    parts = [f"a model of **{r['params'] / 1e6:.2f}M** parameters (hidden {h}) trains in **{r['s per 100 steps']:.0f} s "
             f"per 100 LoRA SFT steps** and reaches dev loss {r['dev loss']:.2f} after {int(r['steps'])} steps"
             for h, r in scaling.iterrows() if pd.notna(r["dev loss"])]
    return _md(f"On a machine like this ({hardware}), " + "; ".join(parts) + ".")


def lora_summary(lora):
    """Sentence from the LoRA-vs-full table: trainable share, step time, memory and checkpoint size, as measured."""
    f, q = lora.loc["full"], lora.loc["LoRA"]
    return _md(f"LoRA trained **{100 * q['params_trainable'] / q['params_total']:.0f}%** of the parameters; its "
               f"optimizer step took **{q['step_seconds'] / f['step_seconds']:.2f}x** the time of a full fine-tuning "
               f"step ({q['step_seconds']:.2f} s vs {f['step_seconds']:.2f} s), its peak memory was "
               f"{q['peak_rss_gb']:.2f} GiB vs {f['peak_rss_gb']:.2f} GiB, and it saved {q['checkpoint_mb']:.1f} MiB of "
               f"weights vs {f['checkpoint_mb']:.1f} MiB.")


def precision_summary(precision):
    """Sentence from the precision table: bf16 speed relative to fp32 and the matmul peaks behind it."""
    b, f = precision.loc["bf16"], precision.loc["fp32"]
    return _md(f"Here bf16 trained at **{b['step_tokens_per_second'] / f['step_tokens_per_second']:.2f}x** the speed of fp32 "
               f"({b['step_tokens_per_second']:.0f} vs {f['step_tokens_per_second']:.0f} tokens/s per step); the matmul peaks "
               f"measured at the two precisions are {b['peak_gflops']:.1f} and {f['peak_gflops']:.1f} GFLOP/s.")


def inference_summary(sweep, max_new_tokens: int):
    """Sentence from the inference sweep: best batch size, its speed-up over the reference loop, KV cache."""
    bs = sweep[sweep["experiment"] == "batch size"]
    best = bs.loc[bs["tokens/s"].idxmax()]
    ref = sweep[sweep["experiment"] == "reference loop"]
    kv = sweep[sweep["experiment"] == "KV cache"].set_index("setting")["tokens/s"]
    text = (f"Batched greedy generation peaks at batch **{best['setting']}** with **{best['tokens/s']:.0f} tokens/s** "
            f"({best['latency per batch (s)']:.2f} s per batch of up to {max_new_tokens} new tokens)")
    if len(ref):
        r = ref.iloc[0]
        text += (f", {best['tokens/s'] / r['tokens/s']:.1f}x the reference's one-prompt loop "
                 f"({r['tokens/s']:.0f} tokens/s; outputs identical on {r.get('identical to batched', '?')} prompts)")
    if {"on", "off"} <= set(kv.index):
        text += f"; the KV cache makes generation {kv['on'] / kv['off']:.1f}x faster"
    return _md(text + ".")


_KEYS = {"tokens/s": "tokens_per_second", "s per 100 steps": "seconds_per_100_steps",
         "latency per batch (s)": "latency_per_batch_seconds", "peak RSS (GiB)": "peak_rss_gb",
         "index_build_s": "index_build_seconds"}


def _snake(col) -> str:
    col = _KEYS.get(str(col), str(col))
    return "_".join("".join(ch if ch.isalnum() else " " for ch in col.lower()).split())


def _table(df, key=None) -> dict | None:
    """{row: {snake_case column: value}}: nested dicts, so provenance.write_metrics can move timing-like keys
    (seconds, tokens_per_second, peak_*, mfu, latency ...) to timings.json and keep metrics.json reproducible."""
    if df is None:
        return None
    rows = df.set_index(key) if key is not None else df
    return {_snake(i): {_snake(c): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                        for c, v in r.items()} for i, r in rows.iterrows()}


def chapter_metrics(hardware: dict, costs, scaling, lora, precision, sweep, retrieval=None) -> dict:
    """The stage's metrics (write with provenance.write_metrics): every measured table, the hardware peak the
    MFU figures are relative to, and the paper's claims."""
    bf, fp = precision.loc["bf16", "step_tokens_per_second"], precision.loc["fp32", "step_tokens_per_second"]
    return {"hardware": hardware,
            "stage_costs": _table(costs.assign(run=costs["stage"] + " " + costs["model"]), "run"),
            "scaling": _table(scaling.rename(index=lambda h: f"hidden {h}")), "lora_vs_full": _table(lora),
            "precision": _table(precision),
            "bf16_vs_fp32_tokens_per_second_ratio": round(float(bf / fp), 4) if bf and fp else None,
            "inference": _table(sweep.assign(run=sweep["experiment"] + " " + sweep["setting"].astype(str)), "run"),
            "retrieval": _table(retrieval), "reported_by_paper": {r["claim"]: r["value"] for r in REPORTED}}
