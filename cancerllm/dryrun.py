"""Dry run for GPU users: build the paper profile's model shape on the meta device (no weights, no memory), put
the configured LoRA on it, build the TRL configs for both phases, and estimate memory — so params can be
checked before GPU hours are spent. `python -m cancerllm run params/paper.yaml --set dry_run=true`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .model_check import check_model_dir
from .modeling import model_shape_config


def dry_run_report(cfg) -> dict:
    """Parameter counts (total / LoRA-trainable), TRL configs' key fields and a rough memory estimate."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    from .training import lora_config

    if not cfg.uses_small_model:  # a local directory, never a hub id (transformers would resolve one from its cache)
        check_model_dir(Path(cfg.base_model))
    shape = model_shape_config(cfg)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(shape)
    total = sum(p.numel() for p in model.parameters())
    cpt_lora = get_peft_model(model, lora_config(cfg.cpt_lora_r, cfg.cpt_lora_alpha, cfg.cpt_lora_dropout, cfg.lora_target_modules))
    cpt_trainable = sum(p.numel() for p in cpt_lora.parameters() if p.requires_grad)
    common = dict(output_dir="/tmp/cancerllm-dry-run", report_to="none", bf16=cfg.bf16 and torch.cuda.is_available(),
                  use_cpu=not torch.cuda.is_available(), activation_checkpointing=cfg.gradient_checkpointing)
    cpt_args = SFTConfig(packing=True, packing_strategy="wrapped", max_length=cfg.cpt_block_size,
                         learning_rate=cfg.cpt_learning_rate, num_train_epochs=cfg.cpt_num_train_epochs,
                         per_device_train_batch_size=cfg.cpt_per_device_train_batch_size,
                         warmup_steps=cfg.cpt_warmup_steps, weight_decay=cfg.cpt_weight_decay, **common)
    sft_args = SFTConfig(max_length=cfg.sft_max_length, completion_only_loss=cfg.sft_completion_only_loss,
                         learning_rate=cfg.sft_learning_rate, num_train_epochs=cfg.sft_num_train_epochs,
                         per_device_train_batch_size=cfg.sft_per_device_train_batch_size,
                         gradient_accumulation_steps=cfg.sft_gradient_accumulation_steps,
                         max_grad_norm=cfg.sft_max_grad_norm, warmup_steps=cfg.sft_warmup_steps, **common)
    weight_bytes = 0.5 if cfg.load_in_4bit else (2 if cfg.bf16 else 4)
    gib = 2**30
    return {
        "architecture": type(model).__name__, "hidden_size": shape.hidden_size, "layers": shape.num_hidden_layers,
        "parameters_total": int(total), "cpt_lora_trainable": int(cpt_trainable),
        "cpt_lora_trainable_pct": round(100 * cpt_trainable / total, 3),
        "cpt": {"max_length": cpt_args.max_length, "packing": cpt_args.packing, "lr": cpt_args.learning_rate,
                "epochs": cpt_args.num_train_epochs, "per_device_batch": cpt_args.per_device_train_batch_size},
        "sft": {"max_length": sft_args.max_length, "completion_only_loss": sft_args.completion_only_loss,
                "lr": sft_args.learning_rate, "epochs": sft_args.num_train_epochs,
                "effective_batch": sft_args.per_device_train_batch_size * sft_args.gradient_accumulation_steps,
                "max_grad_norm": sft_args.max_grad_norm, "adapter": cfg.sft_adapter},
        # weights + LoRA params, grads and AdamW moments in fp32; activations not included (checkpointing-dependent)
        "est_weights_gib": round(total * weight_bytes / gib, 2),
        "est_lora_train_state_gib": round(cpt_trainable * 16 / gib, 3),
    }
