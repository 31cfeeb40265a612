"""TRL's fused LM head, on a CPU, projects only the positions that carry a label (``compact_lm_head``).

TRL 1.16 computes the training loss through a fused, chunked LM head (``trl.trainer.utils.add_fused_lm_head``):
on CUDA/XPU it projects only the positions whose label is not -100; on every other device it projects every
position, prompt included, and masks afterwards — because on compiler back ends (Neuron) a varying number of
positions would recompile each batch. Nothing is compiled here (the CPU runs eagerly), but instruction tuning
labels only the answer — a few tokens of a ~40-token passage prompt — so most of the head's work (the
projection, its recompute in backward, the entropy and top-1 metrics) was thrown away. ``compact_lm_head`` makes
TRL take its own compact path on a CPU as well: the same per-token log-probabilities, scattered back into place,
with only the labelled rows projected. Continued pretraining labels every position, so it gains nothing.

Measured (2026-12-07, demo shape, cancer_cpt init, 200 SFT steps, batch 32, idle machine): 0.133 → 0.104 s per
step, identical losses; ``tests/test_training.py`` checks equal loss and gradients and that only labelled rows
reach the head; ``bench`` prints ``sft_compact_head_speedup``.
"""

from __future__ import annotations

import contextlib
import functools


def _patchable():
    """TRL's module whose ``_use_triton`` picks the compact path, or None when this TRL has no such switch."""
    try:
        from trl.trainer import utils
    except ImportError:  # pragma: no cover - TRL is a core dependency
        return None
    return utils if callable(getattr(utils, "_use_triton", None)) else None


@contextlib.contextmanager
def compact_lm_head(enabled: bool = True):
    """Within the block, TRL's fused LM head scores only labelled positions on a CPU too (module docstring).
    Yields whether the switch took effect (False when disabled, or when TRL no longer has it: then TRL's own
    behaviour stands, and the unit test fails so that we notice)."""
    utils = _patchable()
    if not enabled or utils is None:
        yield False
        return
    original = utils._use_triton

    @functools.wraps(original)
    def compact(device) -> bool:
        return device.type == "cpu" or original(device)

    utils._use_triton = compact
    try:
        yield True
    finally:
        utils._use_triton = original
