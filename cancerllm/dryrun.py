"""Dry run for GPU users: build the paper profile's model shape on the meta device (no weights, no memory), put
the configured LoRA on it, build the TRL configs for both phases, and estimate memory — so params can be
checked before GPU hours are spent. `python -m cancerllm run params/paper.yaml --set dry_run=true`.

The TRL configs and the LoRA come from the builders training uses (`training.cpt_args` / `sft_args`,
`training.cpt_lora_config`): what the dry run checks is what a run would train with.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .model_check import check_model_dir
from .modeling import model_shape_config

#: output_dir of the dry run's TRL configs (nothing is written there)
DRY_RUN_DIR = Path("/tmp/cancerllm-dry-run")


def dry_run_args(cfg, out_dir: Path = DRY_RUN_DIR) -> dict:
    """The two phases' TRL configs exactly as a run builds them: {"cpt": SFTConfig, "sft": SFTConfig}."""
    from .training import cpt_args, sft_args

    return {"cpt": cpt_args(cfg, out_dir / "cpt"), "sft": sft_args(cfg, out_dir / "sft")}


def dry_run_report(cfg) -> dict:
    """Parameter counts (total / LoRA-trainable), TRL configs' key fields and a rough memory estimate."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from .training import cpt_lora_config

    if not cfg.uses_small_model:  # a local directory, never a hub id (transformers would resolve one from its cache)
        check_model_dir(Path(cfg.base_model))
    shape = model_shape_config(cfg)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(shape)
    total = sum(p.numel() for p in model.parameters())
    cpt_lora = get_peft_model(model, cpt_lora_config(cfg))
    cpt_trainable = sum(p.numel() for p in cpt_lora.parameters() if p.requires_grad)
    args = dry_run_args(cfg)
    cpt_args, sft_args = args["cpt"], args["sft"]
    weight_bytes = 0.5 if cfg.load_in_4bit else (2 if cfg.bf16 else 4)
    gib = 2**30
    return {
        "architecture": type(model).__name__, "hidden_size": shape.hidden_size, "layers": shape.num_hidden_layers,
        "parameters_total": int(total), "cpt_lora_trainable": int(cpt_trainable),
        "cpt_lora_trainable_pct": round(100 * cpt_trainable / total, 3),
        "cpt": {"max_length": cpt_args.max_length, "packing": cpt_args.packing, "lr": cpt_args.learning_rate,
                "epochs": cpt_args.num_train_epochs, "max_steps": cpt_args.max_steps,
                "per_device_batch": cpt_args.per_device_train_batch_size, "warmup_steps": cpt_args.warmup_steps,
                "save_steps": cpt_args.save_steps},
        "sft": {"max_length": sft_args.max_length, "completion_only_loss": sft_args.completion_only_loss,
                "lr": sft_args.learning_rate, "epochs": sft_args.num_train_epochs, "max_steps": sft_args.max_steps,
                "effective_batch": sft_args.per_device_train_batch_size * sft_args.gradient_accumulation_steps,
                "max_grad_norm": sft_args.max_grad_norm, "warmup_steps": sft_args.warmup_steps,
                "eval_steps": sft_args.eval_steps, "save_steps": sft_args.save_steps, "adapter": cfg.sft_adapter},
        # weights + LoRA params, grads and AdamW moments in fp32; activations not included (checkpointing-dependent)
        "est_weights_gib": round(total * weight_bytes / gib, 2),
        "est_lora_train_state_gib": round(cpt_trainable * 16 / gib, 3),
    }
