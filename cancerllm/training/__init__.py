"""Continued pretraining (CPT) and LoRA instruction tuning (SFT) with TRL + PEFT — we build their configs,
TRL/transformers own the training loop, checkpointing, resumption and best-checkpoint selection.

The ablation (all three trained in every profile, same tokenizer, seeds, size and steps):
- `no_cpt`      = base model + SFT                      (the paper's "Mistral 7B" row)
- `general_cpt` = base + CPT on general clinical text + SFT (the "BioMistral" row)
- `cancer_cpt`  = base + CPT on cancer notes/reports + SFT  (the "CancerLLM" row)
Both CPT corpora get the same token budget (`cpt_max_steps` x batch x block).
Used in notebooks/10_continued_pretraining.ipynb and notebooks/20_instruction_tuning.ipynb.

Where the code lives:
- here: `run_cpt`, `run_sft` and the training loop they share (`_train`: resume, best checkpoint, progress, the
  attention kernel `use_attention`);
- `lm_head`: the LM head's cost on a CPU — `compact_lm_head` (SFT: TRL's fused head scores labelled positions only)
  and `own_loss_trainer` (CPT: the model's own loss);
- `args`: each phase's TRL config, built in one place (`cpt_args` / `sft_args`, its LoRA by `cpt_lora_config` /
  `sft_lora_config`): training and the dry run (cancerllm/dryrun.py) use the same builders;
- `corpora`: the CPT corpora and held-out perplexity (and the constants `PERPLEXITY_MAX_BLOCKS`,
  `PERPLEXITY_BATCH`);
- `costs`: the disk-space check, the optimizer-step clock and the cost metrics every training run records.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset

from ..modeling import count_parameters
from ..safe_weights import check_checkpoint
from .args import _last_checkpoint, cpt_args, cpt_lora_config, lora_config, sft_args, sft_lora_config
from .corpora import CPT_CORPORA, PERPLEXITY_BATCH, PERPLEXITY_MAX_BLOCKS, cpt_corpora, perplexity
from .costs import _cost_metrics, _StepClock, _StopAfter, check_disk_space, checkpoint_bytes
from .lm_head import compact_lm_head, own_loss_trainer

__all__ = ["CPT_CORPORA", "PERPLEXITY_BATCH", "PERPLEXITY_MAX_BLOCKS", "bar_only_progress", "check_disk_space",
           "checkpoint_bytes", "compact_lm_head", "console_progress", "cpt_args", "cpt_corpora", "cpt_lora_config",
           "lora_config", "own_loss_trainer", "perplexity", "run_cpt", "run_sft", "sft_args", "sft_lora_config",
           "use_attention"]


def run_cpt(cfg, model, tokenizer, texts: list[str], out_dir: Path, stop_after_steps: int | None = None):
    """Continued pretraining on `texts` (language-modelling format, packed into `cpt_block_size` blocks by
    concatenation — TRL's "wrapped" packing, as the reference's group_texts). Full or LoRA per `cpt_use_lora`.
    Returns (trained model, metrics dict). Saved to out_dir/final: full weights, or the LoRA adapter alone."""
    from trl import SFTTrainer

    args = cpt_args(cfg, out_dir)
    peft_config = cpt_lora_config(cfg) if cfg.cpt_use_lora else None
    # every position is labelled: on a CPU the model's own loss is cheaper than TRL's fused head (training.lm_head)
    trainer_cls = SFTTrainer if torch.cuda.is_available() else own_loss_trainer(SFTTrainer)
    trainer = trainer_cls(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts}),
                         processing_class=tokenizer, peft_config=peft_config)
    return _train(trainer, out_dir, stop_after_steps, cfg.attn_implementation, tokens_per_step=(
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
    return _train(trainer, out_dir, stop_after_steps, cfg.attn_implementation, tokens_per_step=None)


def use_attention(model, implementation: str) -> None:
    """Train with the attention kernel `attn_implementation` names: eager on the CPU profiles (its backward is
    faster at their size: 0.124 -> 0.106-0.118 s per demo SFT step, same losses), sdpa in the paper profile."""
    from peft import PeftModel

    base = model.get_base_model() if isinstance(model, PeftModel) else model
    if getattr(base.config, "_attn_implementation", None) != implementation:
        base.set_attn_implementation(implementation)


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


def _train(trainer, out_dir: Path, stop_after_steps, attention: str, tokens_per_step):
    from .. import measure

    measure.configure_threads()
    use_attention(trainer.model, attention)
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
    with measure.measure() as measured, compact_lm_head():  # SFT; CPT on a CPU never reaches TRL's head
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
