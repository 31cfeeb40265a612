"""What a training run costs and the callbacks that measure it: the disk-space check before any checkpoint,
the optimizer-step clock, peak memory / FLOPs / MFU of a finished run, and the simulated interruption the resume
test uses."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch


class _StopAfter:
    """Callback that simulates an interruption after N optimizer steps (used by the resume test)."""

    def __init__(self, steps):
        from transformers import TrainerCallback

        class _Cb(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step >= steps:
                    control.should_training_stop = True
                    control.should_save = True
                return control
        self.cb = _Cb()


def checkpoint_bytes(model) -> tuple[int, int]:
    """(saved weights, optimizer state) of one checkpoint of `model`, in bytes: the weights are all parameters
    for full training and the adapter alone for LoRA; AdamW keeps two moment tensors per trainable parameter."""
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    weights = trainable if hasattr(model, "peft_config") else sum(p.numel() * p.element_size() for p in model.parameters())
    return weights, 2 * trainable


def check_disk_space(model, out_dir: Path) -> None:
    """Before training writes anything: room for one checkpoint (weights + optimizer state) and the final
    weights — a lower bound — or DiskSpaceError naming the directory, the bytes needed and the bytes free.
    Without it a full disk surfaces as a half-written checkpoint after the training time is spent."""
    import shutil

    from ..errors import DiskSpaceError

    weights, optimizer = checkpoint_bytes(model)
    needed = 2 * weights + optimizer
    probe = Path(out_dir).resolve()
    while not probe.exists():  # out_dir may not exist yet: the free space of the disk it will be created on
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise DiskSpaceError(f"{out_dir}: not enough disk space for checkpoints: needs {needed:,} bytes "
                             f"({needed / 2**30:.2f} GiB), {free:,} bytes free ({free / 2**30:.2f} GiB)")


class _StepClock:
    """Callback: wall time and tokens (Trainer's non-padding count) of each optimizer step, from on_step_begin to
    on_step_end — forward, backward, clipping and the optimizer; not data loading, evaluation or checkpoints."""

    def __init__(self):
        from transformers import TrainerCallback

        clock = self
        self.seconds, self.tokens = [], []

        class _Cb(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                clock._t0, clock._n0 = time.perf_counter(), state.num_input_tokens_seen

            def on_step_end(self, args, state, control, **kw):
                if getattr(clock, "_t0", None) is not None:
                    clock.seconds.append(time.perf_counter() - clock._t0)
                    clock.tokens.append(state.num_input_tokens_seen - clock._n0)
                    clock._t0 = None
        self.cb = _Cb()


def _cost_metrics(trainer, clock: _StepClock, measured, tokens_per_step) -> dict:
    """Peak memory, model FLOPs per token and MFU of a finished training run (cancerllm.measure conventions).
    MFU and `step_seconds` come from the optimizer-step windows: the median step's tokens/s and duration, leaving
    out the first (warm-up) step when there are more."""
    from .. import measure

    args, model, world = trainer.args, trainer.model, max(1, trainer.args.world_size)
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * world  # sequences
    tokens = trainer.state.num_input_tokens_seen or (tokens_per_step or 0) * trainer.state.global_step
    # mean tokens per sequence over the whole run (the Trainer's count survives a resume, so this is deterministic)
    seq_len = tokens / max(1, per_step * trainer.state.global_step)
    fpt = measure.model_flops_per_token(model, seq_len, mode="train")
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    peak = measure.refresh_peak(dtype, "cuda" if torch.cuda.is_available() and not args.use_cpu else "cpu")
    steps = list(zip(clock.seconds, clock.tokens))
    steps = steps[1:] if len(steps) > 1 else steps  # the first step pays one-off allocations
    # medians, not means: on a shared machine one stalled step would otherwise dominate
    step_s = float(np.median([s for s, _ in steps])) if steps else None
    tok_s = float(np.median([t / max(s, 1e-9) for s, t in steps])) if steps else 0.0
    out = {"peak_rss_gb": round(measured.peak_rss_gb, 3), "flops_per_token": round(fpt),
           "peak_gflops": peak, "peak_dtype": str(dtype).removeprefix("torch."),
           "step_seconds": round(step_s, 4) if step_s else None,
           "mfu": round(measure.mfu(fpt, tok_s / world, 1.0, peak), 4) if tok_s else None}
    if measured.peak_gpu_gb is not None:
        out["peak_gpu_gb"] = round(measured.peak_gpu_gb, 3)
    if tokens and not tokens_per_step:  # SFT: real (non-padding) tokens, counted by the Trainer
        out["tokens_seen"] = int(tokens)
        out["tokens_per_second"] = round(tokens / max(measured.seconds, 1e-9), 1)
    return out
