"""Each phase's TRL config, built in one place (`cpt_args` / `sft_args`, their LoRA by `cpt_lora_config` /
`sft_lora_config`): training and the dry run (cancerllm/dryrun.py) use the same builders."""

from __future__ import annotations

from pathlib import Path

import torch


def _device_args(cfg) -> dict:
    cuda = torch.cuda.is_available()
    return dict(use_cpu=not cuda, bf16=bool(cfg.bf16), fp16=False, activation_checkpointing=bool(cfg.gradient_checkpointing),
                report_to="none", seed=cfg.seed, data_seed=cfg.seed, dataloader_num_workers=0, disable_tqdm=False)


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
