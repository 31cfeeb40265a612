"""The LM head's cost in training on a CPU: TRL's fused head projects only the positions that carry a label
(``compact_lm_head``, instruction tuning), and continued pretraining takes the model's own loss
(``own_loss_trainer``).

TRL 1.16 computes the training loss through a fused, chunked LM head (``trl.trainer.utils.add_fused_lm_head``):
on CUDA/XPU it projects only the positions whose label is not -100; on every other device it projects every
position, prompt included, and masks afterwards — because on compiler back ends (Neuron) a varying number of
positions would recompile each batch. Nothing is compiled here (the CPU runs eagerly), but instruction tuning
labels only the answer — a few tokens of a ~40-token passage prompt — so most of the head's work (the
projection, its recompute in backward, the entropy and top-1 metrics) was thrown away. ``compact_lm_head`` makes
TRL take its own compact path on a CPU as well: the same per-token log-probabilities, scattered back into place,
with only the labelled rows projected.

Continued pretraining labels every position, and there the fused head's torch fallback (many passes over
(tokens x vocabulary) tiles for its metrics, and the projection recomputed in backward) costs more than the
logits it avoids materialising (a 4 x 512-token block at vocabulary 2,000 is 16 MB). ``own_loss_trainer`` is
TRL's SFTTrainer with transformers' own ``Trainer.compute_loss`` (the model's cross-entropy over its logits): the
same loss, without TRL's entropy and token-accuracy log lines. On a GPU TRL's head stays (Triton kernels, and the
logits of a 7B vocabulary would not fit).

Measured (2026-12-07, demo shape, idle machine, identical losses both ways): SFT (cancer_cpt init, batch 32)
0.133 → 0.104 s per step with ``compact_lm_head``; CPT (4 x 512 tokens) 0.288 → 0.192 s per step with
``own_loss_trainer``. ``tests/test_training.py`` checks equal loss and gradients and that only labelled rows reach
the head.
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


def own_loss_trainer(base: type) -> type:
    """`base` (TRL's SFTTrainer) taking the model's own loss (transformers' ``Trainer.compute_loss``) instead of
    TRL's fused LM head: continued pretraining on a CPU (module docstring)."""
    from transformers import Trainer

    class OwnLossTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    OwnLossTrainer.__name__ = OwnLossTrainer.__qualname__ = f"OwnLoss{base.__name__}"
    return OwnLossTrainer
