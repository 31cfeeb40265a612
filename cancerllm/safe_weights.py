"""What a run may load back: safetensors weights only, and never a pickle that can run code.

Base models are checked by `model_check.check_model_dir`. This module checks the other two things a run reads
back, where the libraries would otherwise fall back to a pickle: PEFT adapters (`PeftModel.from_pretrained`
loads adapter_model.bin when there is no adapter_model.safetensors) and the Trainer checkpoints a resumed stage
continues from (`Trainer` loads pytorch_model.bin or adapter_model.bin when it finds no safetensors).
A Trainer checkpoint also holds optimizer.pt, scheduler.pt and rng_state.pth, torch.save files by the Trainer's
design: `cancerllm/__init__.py` sets TORCH_FORCE_WEIGHTS_ONLY_LOAD, so torch reads every such file with its
weights-only unpickler (tensors and plain containers, never code) whatever a library passes to `torch.load`, and
`check_checkpoint` opens each one that way first, so a file holding more is one clear error before any stage.
Used by cancerllm.pipeline (adapters) and cancerllm.runner (checkpoints kept in .staging/ for a resume).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
#: weight files that are pickles (training_args.bin is one too, but the Trainer never loads it back)
PICKLE_WEIGHTS = ("pytorch_model*.bin", "adapter_model.bin")
#: the Trainer's own torch.save files that a resume reads back (optimizer, scheduler, grad scaler, RNG states)
TRAINER_STATE = ("*.pt", "*.pth")


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
    for file in sorted(f for pattern in TRAINER_STATE for f in path.glob(pattern)):
        _check_trainer_state(file, path)


def _check_trainer_state(file: Path, ckpt: Path) -> None:
    """`file` opens with torch's weights-only unpickler and the Trainer's own numpy allow-list (what its resume
    uses), memory-mapped so no tensor is read; otherwise one ModelError naming the file (torch's own message is
    many lines)."""
    import torch
    from transformers.trainer_pt_utils import safe_globals

    try:
        with safe_globals():
            torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - any failure refuses the file: UnpicklingError for a forbidden global,
        # RuntimeError/EOFError for a damaged or legacy file
        raise ModelError(f"{file}: refused, it holds more than tensors and plain data (torch's weights-only loader); "
                         f"delete {ckpt} to train that model from the start") from None


def check_staged_checkpoints(run_dir: Path) -> None:
    """Every checkpoint kept under run_dir/.staging (what an interrupted stage resumes from), before any stage runs."""
    for ckpt in sorted(Path(run_dir, ".staging").glob("*/**/checkpoint-*")):
        if ckpt.is_dir():
            check_checkpoint(ckpt)
