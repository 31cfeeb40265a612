"""The CPT corpora (train and held-out texts of the cancer and general corpora, with the memorisation check's
canaries for synthetic cohorts) and the held-out perplexity that chapter 10 reports.

Constants (fixed parts of the recipe, not params; changing one changes chapter 10's numbers):
- `PERPLEXITY_MAX_BLOCKS`: held-out perplexity reads at most this many `cpt_block_size` blocks per corpus (the
  first ones: a fixed, cheap sample).
- `PERPLEXITY_BATCH`: blocks per forward pass of that perplexity (the result does not depend on it beyond
  floating-point summation order).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data.schema import Cohort
from ..modeling import on_best_device


CPT_CORPORA = {"general_cpt": "general", "cancer_cpt": "cancer"}

PERPLEXITY_MAX_BLOCKS = 64

PERPLEXITY_BATCH = 8


def cpt_corpora(cohort: Cohort, seed: int) -> dict[str, dict[str, list[str]]]:
    """Train and held-out texts of the two CPT corpora.

    cancer: train-split notes plus the cohort's unlabelled notes for training; dev+test notes for held-out
    perplexity. general: the general (non-cancer) clinical notes, 90/10 seeded split.
    Synthetic cohorts only: the memorisation check's canary documents (``memorisation.canary_documents``), which
    calibrate that check, are interleaved with the cancer training notes; real cohorts never get them.
    """
    from ..memorisation import canary_documents

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
