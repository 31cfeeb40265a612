"""The chapter's conditions (`build_conditions`): no retrieval, each retriever at k, a k-sweep (first retriever),
and the notes misspelled at MISSPELL_RATE (`perturb.perturb_bodies`) without and with each retriever, stacked
so every model predicts all of them in one batched call, and the models' predictions on them. (The retrievers'
cost, `cases.index.timings`, is measured in notebooks/50_efficiency.)
Used in notebooks/60_retrieval.ipynb.
"""

from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from ..cases.index import CaseIndex, held_out_hashes
from ..cases.prompts import augment, perturb, prompt_budget
from ..instructions import cap_examples

STAGE = "60_retrieval"
MISSPELL_RATE = 0.3  # fraction of words misspelled in the noisy conditions (robustness.misspell)


def condition_name(retriever: str, k: int, noise: float) -> str:
    base = "no retrieval" if k == 0 else f"{retriever} k={k}"
    return f"misspelled {noise:g}: {base}" if noise else base


def build_conditions(test_df: pd.DataFrame, train_df: pd.DataFrame, cfg, tokenizer, held_out=(),
                     sweep_retrievers=None) -> pd.DataFrame:
    """Every condition of the chapter stacked into one frame (so each model predicts all of them in one call):
    no retrieval; each of cfg.retrievers at cfg.retrieval_k; the k-sweep cfg.retrieval_k_sweep for
    `sweep_retrievers` (default: the first retriever only — every condition costs a full generation pass per
    model, and the demo chapter must stay near 90 s on two CPU cores); notes misspelled at MISSPELL_RATE
    without and with each retriever.
    Test rows are capped at cfg.retrieval_max_instances. Ids are "<condition>|<id>", the original in source_id;
    added columns: condition, noise (and augment's). `held_out`: extra frames (dev) whose notes never come back."""
    test = cap_examples(test_df, cfg.retrieval_max_instances, cfg.seed)
    budget = prompt_budget(cfg)
    exclude = held_out_hashes(test_df, *held_out)
    index = {name: CaseIndex(train_df, name, cfg.seed) for name in cfg.retrievers}
    ks = sorted({cfg.retrieval_k, *cfg.retrieval_k_sweep} - {0})
    sweep = cfg.retrievers[:1] if sweep_retrievers is None else sweep_retrievers
    plan = [("none", 0, 0.0)] + [(r, k, 0.0) for r in cfg.retrievers for k in ks
                                 if k == cfg.retrieval_k or r in sweep]
    plan += [("none", 0, MISSPELL_RATE)] + [(r, cfg.retrieval_k, MISSPELL_RATE) for r in cfg.retrievers]
    noisy = perturb(test, MISSPELL_RATE, cfg.seed, tokenizer, budget)
    frames = []
    for name, k, noise in tqdm(plan, desc="building prompts", leave=False):
        base = noisy if noise else test
        aug = augment(base, train_df, index[name] if k else name, k, tokenizer, budget, cfg.seed, exclude)
        cond = condition_name(name, k, noise)
        frames.append(aug.assign(condition=cond, noise=noise, source_id=aug["id"], id=cond + "|" + aug["id"]))
    return pd.concat(frames, ignore_index=True)


def load_tokenizer(cfg):
    """The run's tokenizer without the model weights (prompt budgets are counted in its tokens)."""
    from transformers import AutoTokenizer

    from ..pipeline import base_dir, base_path

    path = base_path(cfg)
    if path != base_dir(cfg):  # a local model directory, never a hub id (transformers would resolve one from its cache)
        from ..model_check import check_model_dir

        check_model_dir(path)
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)


def predict_conditions(cfg, stacked: pd.DataFrame) -> dict[str, list[list[str]]]:
    """Parsed answers of every trained arm (config.arm_names) on all stacked conditions, each model loaded
    once (pipeline.load_tuned merges each LoRA adapter into its base: about 3x faster on CPU). The
    untuned base (zero_shot, F1 0 in 30_evaluation) is left out to save a quarter of the chapter's CPU time."""
    from ..evaluation import predict_ablation

    return predict_ablation(cfg, stacked)
