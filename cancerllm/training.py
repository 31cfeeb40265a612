"""Continued pretraining (CPT) and LoRA instruction tuning (SFT) with TRL + PEFT — we build their configs,
TRL/transformers own the training loop, checkpointing, resumption and best-checkpoint selection.

The ablation (all three trained in every profile, same tokenizer, seeds, size and steps):
- `no_cpt`      = base model + SFT                      (the paper's "Mistral 7B" row)
- `general_cpt` = base + CPT on general clinical text + SFT (the "BioMistral" row)
- `cancer_cpt`  = base + CPT on cancer notes/reports + SFT  (the "CancerLLM" row)
Both CPT corpora get the same token budget (`cpt_max_steps` x batch x block).
Used in notebooks/10_continued_pretraining.ipynb and notebooks/20_instruction_tuning.ipynb.

Each phase's TRL config is built in one place, `cpt_args` / `sft_args` (and its LoRA by `cpt_lora_config` /
`sft_lora_config`): training and the dry run (cancerllm/dryrun.py) use the same builders.

Constants (fixed parts of the recipe, not params; changing one changes chapter 10's numbers):
- `PERPLEXITY_MAX_BLOCKS`: held-out perplexity reads at most this many `cpt_block_size` blocks per corpus (the
  first ones: a fixed, cheap sample).
- `PERPLEXITY_BATCH`: blocks per forward pass of that perplexity (the result does not depend on it beyond
  floating-point summation order).
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import Dataset

from .data.schema import Cohort
from .modeling import count_parameters, on_best_device
from .safe_weights import check_checkpoint

CPT_CORPORA = {"general_cpt": "general", "cancer_cpt": "cancer"}
PERPLEXITY_MAX_BLOCKS = 64
PERPLEXITY_BATCH = 8


def _device_args(cfg) -> dict:
    cuda = torch.cuda.is_available()
    return dict(use_cpu=not cuda, bf16=bool(cfg.bf16), fp16=False, activation_checkpointing=bool(cfg.gradient_checkpointing),
                report_to="none", seed=cfg.seed, data_seed=cfg.seed, dataloader_num_workers=0, disable_tqdm=False)


def cpt_corpora(cohort: Cohort, seed: int) -> dict[str, dict[str, list[str]]]:
    """Train and held-out texts of the two CPT corpora.

    cancer: train-split notes plus the cohort's unlabelled notes for training; dev+test notes for held-out
    perplexity. general: the general (non-cancer) clinical notes, 90/10 seeded split.
    Synthetic cohorts only: the memorisation check's canary documents (``memorisation.canary_documents``), which
    calibrate that check, are interleaved with the cancer training notes; real cohorts never get them.
    """
    from .memorisation import canary_documents

    notes = cohort.notes
    cancer = {"train": notes.loc[notes["split"] == "train", "text"].tolist() + cohort.unlabelled["text"].tolist(),
              "heldout": notes.loc[notes["split"] != "train", "text"].tolist()}
    if not cohort.is_real:  # at seeded places among the notes: packing would put them side by side in a few blocks
        train, docs = cancer["train"], canary_documents(seed)
        at = np.random.default_rng([seed, 1]).uniform(0, len(train), len(docs))
        order = np.argsort(np.concatenate([np.arange(len(train)), at]), kind="stable")
        every = train + docs
        cancer["train"] = [every[i] for i in order]
    gen = cohort.general["text"].tolist()
    order = np.random.default_rng(seed).permutation(len(gen))
    n_hold = max(1, len(gen) // 10) if gen else 0
    general = {"train": [gen[i] for i in order[n_hold:]], "heldout": [gen[i] for i in order[:n_hold]]}
    return {"cancer": cancer, "general": general}


@torch.no_grad()
def perplexity(model, tokenizer, texts: list[str], block_size: int, max_blocks: int = PERPLEXITY_MAX_BLOCKS,
               batch: int = PERPLEXITY_BATCH) -> float:
    """Perplexity on concatenated texts cut into `block_size` blocks (the same blocking as CPT), over the first
    `max_blocks` blocks, `batch` blocks per forward pass."""
    ids = []
    for t in texts:
        ids.extend(tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
    n = min(len(ids) // block_size, max_blocks)
    if n == 0:
        return float("nan")
    blocks = torch.tensor(ids[: n * block_size]).view(n, block_size)
    model = on_best_device(model).eval()
    device = next(model.parameters()).device
    losses = [model(input_ids=blocks[i:i + batch].to(device), labels=blocks[i:i + batch].to(device)).loss.item()
              for i in range(0, n, batch)]
    weights = [min(batch, n - i) for i in range(0, n, batch)]
    return float(math.exp(np.average(losses, weights=weights)))


def lora_config(r: int, alpha: int, dropout: float, target: str):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, bias="none", task_type="CAUSAL_LM",
                      target_modules=target)


def cpt_lora_config(cfg):
    """The LoRA of continued pretraining (`cpt_use_lora`): cpt_lora_r / cpt_lora_alpha / cpt_lora_dropout."""
    return lora_config(cfg.cpt_lora_r, cfg.cpt_lora_alpha, cfg.cpt_lora_dropout, cfg.lora_target_modules)


def sft_lora_config(cfg):
    """The fresh LoRA of instruction tuning (`sft_adapter: new`, every external arm): sft_lora_r / alpha / dropout."""
    return lora_config(cfg.sft_lora_r, cfg.sft_lora_alpha, cfg.sft_lora_dropout, cfg.lora_target_modules)


def cpt_args(cfg, out_dir):
    """TRL config of continued pretraining (used by `run_cpt` and the dry run): language modelling on texts packed
    into `cpt_block_size` blocks by concatenation (TRL's "wrapped" packing, as the reference's group_texts), the
    cpt_* params, a checkpoint every `save_steps`."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out_dir), packing=True, packing_strategy="wrapped", max_length=cfg.cpt_block_size,
        dataset_text_field="text", learning_rate=cfg.cpt_learning_rate, num_train_epochs=cfg.cpt_num_train_epochs,
        max_steps=cfg.cpt_max_steps, per_device_train_batch_size=cfg.cpt_per_device_train_batch_size,
        gradient_accumulation_steps=cfg.cpt_gradient_accumulation_steps, warmup_steps=cfg.cpt_warmup_steps,
        weight_decay=cfg.cpt_weight_decay, lr_scheduler_type="linear", logging_steps=1, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=1, **_device_args(cfg),
    )


def sft_args(cfg, out_dir):
    """TRL config of instruction tuning (used by `run_sft` and the dry run): prompt/completion pairs, the sft_*
    params, dev loss every `eval_steps`, a checkpoint every `save_steps`, the best checkpoint by dev loss kept."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out_dir), max_length=cfg.sft_max_length, completion_only_loss=cfg.sft_completion_only_loss,
        learning_rate=cfg.sft_learning_rate, num_train_epochs=cfg.sft_num_train_epochs, max_steps=cfg.sft_max_steps,
        per_device_train_batch_size=cfg.sft_per_device_train_batch_size,
        per_device_eval_batch_size=cfg.sft_per_device_train_batch_size,
        gradient_accumulation_steps=cfg.sft_gradient_accumulation_steps, warmup_steps=cfg.sft_warmup_steps,
        max_grad_norm=cfg.sft_max_grad_norm, lr_scheduler_type="linear", logging_steps=1,
        eval_strategy="steps", eval_steps=cfg.eval_steps, save_strategy="steps", save_steps=cfg.save_steps,
        save_total_limit=2, load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
        # batches of similar length: short passage QA and long diagnosis examples mixed would pad most of every
        # batch (measured: 5.7k tokens/s at batch 64 mixed)
        train_sampling_strategy="group_by_length", **_device_args(cfg),
    )


def _last_checkpoint(out_dir: Path):
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out_dir)) if Path(out_dir).is_dir() else None


def run_cpt(cfg, model, tokenizer, texts: list[str], out_dir: Path, stop_after_steps: int | None = None):
    """Continued pretraining on `texts` (language-modelling format, packed into `cpt_block_size` blocks by
    concatenation — TRL's "wrapped" packing, as the reference's group_texts). Full or LoRA per `cpt_use_lora`.
    Returns (trained model, metrics dict). Saved to out_dir/final: full weights, or the LoRA adapter alone."""
    from trl import SFTTrainer

    args = cpt_args(cfg, out_dir)
    peft_config = cpt_lora_config(cfg) if cfg.cpt_use_lora else None
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts}),
                         processing_class=tokenizer, peft_config=peft_config)
    return _train(trainer, out_dir, stop_after_steps, tokens_per_step=(
        cfg.cpt_block_size * cfg.cpt_per_device_train_batch_size * cfg.cpt_gradient_accumulation_steps))


def run_sft(cfg, model, tokenizer, train_df: pd.DataFrame, dev_df: pd.DataFrame, out_dir: Path,
            stop_after_steps: int | None = None):
    """Instruction tuning (LoRA, or every weight with `sft_adapter: full`) on prompt/completion pairs. Loss on the completion only unless
    `sft_completion_only_loss` is false (the reference's whole-sequence loss). Keeps the best checkpoint by
    dev loss, saves every `save_steps`, resumes from the last checkpoint in out_dir if one exists.
    `sft_adapter: continue` keeps training an adapter already on `model` (the reference's TRL-0.7 quirk);
    `new` puts a fresh LoRA (`sft_lora_config`) on it; `full` trains every weight (no adapter: the CPU
    demo's choice, where a LoRA on a ~2M-parameter model learns too slowly for the time budget)."""
    from peft import PeftModel
    from trl import SFTTrainer

    args = sft_args(cfg, out_dir)
    keep = isinstance(model, PeftModel) and cfg.sft_adapter == "continue"
    full = cfg.sft_adapter == "full"
    peft_config = None if keep or full else sft_lora_config(cfg)
    if keep:
        for name, p in model.named_parameters():
            p.requires_grad = "lora_" in name
    cols = ["prompt", "completion"]
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_pandas(train_df[cols], preserve_index=False),
                         eval_dataset=Dataset.from_pandas(dev_df[cols], preserve_index=False),
                         processing_class=tokenizer, peft_config=peft_config)
    return _train(trainer, out_dir, stop_after_steps, tokens_per_step=None)


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

    from .errors import DiskSpaceError

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
    from . import measure

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


def console_progress(trainer) -> None:
    """In a notebook the Trainer reports progress with an HTML table of per-step losses that stays in the
    executed notebook and so in the book; swap it for the console tqdm bar (stderr), which the analyst still
    sees while a cell runs and the book drops (``nb_output_stderr: remove``). The bar alone: transformers'
    console callback also prints every step's log dict to *stdout*, which the book keeps (a TCGA book once
    carried ~12,000 such lines, and their learning rates' digits tripped the publishing gate's MRN-like-number
    rule). The losses are plotted instead."""
    try:
        from transformers.utils.notebook import NotebookProgressCallback
    except ImportError:  # no IPython (a headless GPU box): the Trainer cannot be using the notebook table
        return
    if trainer.pop_callback(NotebookProgressCallback) is not None:
        trainer.add_callback(bar_only_progress())


@functools.cache
def bar_only_progress() -> type:
    """transformers' console progress bar without its per-step log lines on stdout (``console_progress``). A
    class made on first use: importing transformers' callbacks costs ~2.6 s, which every notebook kernel that
    imports this module would otherwise pay."""
    from transformers.trainer_callback import ProgressCallback

    class BarOnlyProgress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            return None

    return BarOnlyProgress


def _train(trainer, out_dir: Path, stop_after_steps, tokens_per_step):
    from . import measure

    measure.configure_threads()
    check_disk_space(trainer.model, out_dir)  # before any checkpoint is written
    if stop_after_steps:
        trainer.add_callback(_StopAfter(stop_after_steps).cb)
    clock = _StepClock()
    trainer.add_callback(clock.cb)
    console_progress(trainer)
    trainer.args.include_num_input_tokens_seen = "non_padding"  # token count for tokens/s and MFU
    resume = _last_checkpoint(out_dir)
    if resume:  # the runner checks .staging/ before any stage; a notebook run on its own is checked here
        check_checkpoint(Path(resume))
    with measure.measure() as measured:
        result = trainer.train(resume_from_checkpoint=resume)
    seconds = measured.seconds
    model = trainer.model
    history = [h for h in trainer.state.log_history if "loss" in h or "eval_loss" in h]
    steps = trainer.state.global_step
    metrics = {
        "steps": int(steps), "seconds": round(seconds, 2), "resumed_from": Path(resume).name if resume else None,
        "train_loss": float(result.training_loss), "parameters": count_parameters(model),
        "best_checkpoint": Path(trainer.state.best_model_checkpoint).name if trainer.state.best_model_checkpoint else None,
        "log_history": [{k: (float(v) if isinstance(v, (int, float)) else v) for k, v in h.items()
                         if k in ("step", "loss", "eval_loss", "learning_rate", "epoch")} for h in history],
    }
    if tokens_per_step:
        metrics["tokens_seen"] = int(tokens_per_step * steps)
        metrics["tokens_per_second"] = round(tokens_per_step * steps / max(seconds, 1e-9), 1)
    metrics.update(_cost_metrics(trainer, clock, measured, tokens_per_step))
    final = Path(out_dir) / "final"
    model.save_pretrained(final, safe_serialization=True)
    trainer.processing_class.save_pretrained(final)
    return model, metrics
