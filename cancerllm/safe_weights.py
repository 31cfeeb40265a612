"""What a run may load back: safetensors weights only, and never a pickle that can run code.

Base models are checked by `model_check.check_model_dir`. This module checks the other two things a run reads
back, where the libraries would otherwise fall back to a pickle: PEFT adapters (`PeftModel.from_pretrained`
loads adapter_model.bin when there is no adapter_model.safetensors) and the Trainer checkpoints a resumed stage
continues from (`Trainer` loads pytorch_model.bin or adapter_model.bin when it finds no safetensors).
A Trainer checkpoint also holds optimizer.pt, scheduler.pt and rng_state.pth, torch.save files by the Trainer's
design: `cancerllm/__init__.py` sets TORCH_FORCE_WEIGHTS_ONLY_LOAD, so torch reads every such file with its
weights-only unpickler (tensors and plain containers, never code) whatever a library passes to `torch.load`.
Used by cancerllm.pipeline (adapters) and cancerllm.runner (checkpoints kept in .staging/ for a resume).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
#: weight files that are pickles (training_args.bin is one too, but the Trainer never loads it back)
PICKLE_WEIGHTS = ("pytorch_model*.bin", "adapter_model.bin")


def check_adapter_dir(path: Path) -> None:
    """A PEFT adapter directory with safetensors weights, or one clear ModelError (before PEFT can fall back)."""
    path = Path(path)
    if not (path / ADAPTER_WEIGHTS).is_file():
        raise ModelError(f"{path}: no {ADAPTER_WEIGHTS} (pickle .bin adapters are refused)")


def check_checkpoint(path: Path) -> None:
    """A Trainer checkpoint to resume from holds no pickle weights, or one clear ModelError naming the file."""
    path = Path(path)
    pickles = sorted(p.name for pattern in PICKLE_WEIGHTS for p in path.glob(pattern))
    if pickles:
        raise ModelError(f"{path / pickles[0]}: pickle weights are refused (a checkpoint is resumed from safetensors "
                         f"only); delete {path} to train that model from the start")


def check_staged_checkpoints(run_dir: Path) -> None:
    """Every checkpoint kept under run_dir/.staging (what an interrupted stage resumes from), before any stage runs."""
    for ckpt in sorted(Path(run_dir, ".staging").glob("*/**/checkpoint-*")):
        if ckpt.is_dir():
            check_checkpoint(ckpt)
