"""Tables, one-sentence summaries and the metrics.json of the efficiency chapter, and the paper's own (unmeasured)
efficiency claims in their labelled table."""

from __future__ import annotations

import pandas as pd
import torch

from ..measure.hardware import cpu_model, peak_gflops, physical_cores

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


def _md(text: str):
    from IPython.display import Markdown

    return Markdown(text)


def scaling_summary(scaling, hardware: str):
    """One sentence per width, numbers from the sweep: "a model of X parameters trains in Y s per 100 steps"."""
    parts = [f"a model of **{r['params'] / 1e6:.2f}M** parameters (hidden {h}) trains in **{r['s per 100 steps']:.0f} s "
             f"per 100 {r['method']} SFT steps** and reaches dev loss {r['dev loss']:.2f} after {int(r['steps'])} steps"
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


def chapter_metrics(hardware: dict, costs, scaling, lora, precision, sweep, retrieval=None, extraction=None,
                    per_arm=None) -> dict:
    """The stage's metrics (write with provenance.write_metrics): every measured table, the hardware peak the
    MFU figures are relative to, and the paper's claims."""
    bf, fp = precision.loc["bf16", "step_tokens_per_second"], precision.loc["fp32", "step_tokens_per_second"]
    return {"hardware": hardware,
            "stage_costs": _table(costs.assign(run=costs["stage"] + " " + costs["model"]), "run"),
            "scaling": _table(scaling.rename(index=lambda h: f"hidden {h}")), "lora_vs_full": _table(lora),
            "precision": _table(precision),
            "bf16_vs_fp32_tokens_per_second_ratio": round(float(bf / fp), 4) if bf and fp else None,
            "inference": _table(sweep.assign(run=sweep["experiment"] + " " + sweep["setting"].astype(str)), "run"),
            "retrieval": _table(retrieval),
            "extraction": None if extraction is None else _table(
                extraction.assign(run=extraction["experiment"] + " " + extraction["setting"].astype(str)), "run"),
            "extraction_per_model": _table(per_arm),
            "reported_by_paper": {r["claim"]: r["value"] for r in REPORTED}}
