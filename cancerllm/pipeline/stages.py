"""The stage drivers of the training chapters, each a loop over models: continued pretraining of general_cpt and
cancer_cpt (stage 10), the instruction sets and tuning examples, instruction tuning of every arm and the
memorisation check of the tuned models (stage 20)."""

from __future__ import annotations

import json

import pandas as pd

from .. import memorisation, training
from ..config import arm_names
from ..instructions import build_instructions, cap_examples, section_views, sentence_examples
from .models import arm_config, init_fingerprint, load_base, load_init, load_tuned
from .rundir import cpt_dir, sft_dir


def continued_pretraining(cfg, model, tokenizer, corpora: dict) -> dict:
    """Train general_cpt and cancer_cpt from the same base with the same token budget; perplexity before/after
    on held-out cancer and general text. Returns metrics per model (and the base's perplexities)."""
    results = {"base": {"ppl": _ppl(cfg, model, tokenizer, corpora)}}
    for name, corpus in training.CPT_CORPORA.items():
        if name not in cfg.ablation_models:
            continue
        fresh, _ = load_base(cfg)
        trained, metrics = training.run_cpt(cfg, fresh, tokenizer, corpora[corpus]["train"], cpt_dir(cfg, name))
        metrics["corpus"] = corpus
        metrics["ppl"] = _ppl(cfg, trained, tokenizer, corpora)
        results[name] = metrics
    return results


def _ppl(cfg, model, tokenizer, corpora) -> dict:
    return {c: training.perplexity(model, tokenizer, corpora[c]["heldout"], cfg.cpt_block_size) for c in corpora}


#: dev examples the SFT dev loss is computed on (the demo's dev split has ~1,000)
SFT_DEV_MAX = 256


def instruction_sets(cfg, cohort, tokenizer) -> dict[str, pd.DataFrame]:
    """The note-level instances every system is scored on — train (all; what the baselines fit and retrieval
    indexes), dev (all) and test (capped at max_eval_instances) — and the examples the language models are
    tuned on: sft_train (sentence-level phenotype QA plus diagnosis, capped at max_sft_examples) and sft_dev
    (at most SFT_DEV_MAX of the same kind from the dev split — 96 when max_sft_examples caps the tuning set —
    sampled by ``cap_examples``: dev loss is computed every eval_steps to pick the best checkpoint, and the
    whole dev split, ~1,000 examples in the demo, cost ~40 s per model)."""
    sets = {s: build_instructions(cohort, s, tokenizer, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
            for s in ("train", "dev", "test")}
    n = cfg.max_sft_examples
    sft = {s: sft_examples(cfg, cohort, sets[s], s) for s in ("train", "dev")}
    sets["sft_train"] = cap_examples(sft["train"], n, cfg.seed)
    sets["sft_dev"] = cap_examples(sft["dev"], SFT_DEV_MAX if n == -1 else min(96, max(8, n // 4)), cfg.seed)
    sets["test"] = cap_examples(sets["test"], cfg.max_eval_instances, cfg.seed)
    return sets


def sft_examples(cfg, cohort, notes: pd.DataFrame, split: str) -> pd.DataFrame:
    """Tuning examples of one split: the sentence-level phenotype QA (``instructions.sentence_examples``) and the
    split's diagnosis instances, each repeated sft_diagnosis_repeat times (one diagnosis example per patient
    against ~10 passages per field: without the repeat diagnosis gets ~3% of the gradient steps), plus with
    sft_diagnosis_views each diagnosis input's sections alone and shuffled (``instructions.section_views``)."""
    phen = sentence_examples(cohort, split, cfg.prompt_style, cfg.sft_negatives, cfg.seed)
    diag = notes[notes["task"] == "diagnosis_generation"]
    views = [section_views(diag, cfg.prompt_style, cfg.seed)] if cfg.sft_diagnosis_views else []
    return pd.concat([phen] + [diag] * cfg.sft_diagnosis_repeat + views, ignore_index=True)


def instruction_tuning(cfg, sets: dict) -> dict:
    """SFT every arm (the ablation, then the external arms of `arms`) on the same examples with the same seed;
    save adapter + base.json. External arms are tuned as ``arm_config`` says (fresh LoRA, their own tokenizer)."""
    results = {}
    for name in arm_names(cfg):
        model, tokenizer = load_init(cfg, name)
        out = sft_dir(cfg, name)
        tuned = arm_config(cfg, name, tokenizer, sets)  # tokenises every tuning example for an external arm
        _trained, metrics = training.run_sft(tuned, model, tokenizer, sets["sft_train"], sets["sft_dev"], out)
        if name in cfg.arms:
            metrics["arm"] = {"path": cfg.arms[name], "sft_adapter": "new", "sft_max_length":
                              tuned.sft_max_length}
        (out / "final" / "base.json").write_text(json.dumps(init_fingerprint(cfg, name), indent=2), encoding="utf-8")
        results[name] = metrics
    return results


def memorisation_check(cfg, cohort) -> dict:
    """Stage 20's memorisation record for every final SFT model (``memorisation.check_models`` on the cancer CPT
    corpus's training and held-out notes; canaries for synthetic cohorts). Used in
    notebooks/20_instruction_tuning.ipynb."""
    corpora = training.cpt_corpora(cohort, cfg.seed)["cancer"]
    planted = None if cohort.is_real else memorisation.canaries(cfg.seed)
    return memorisation.check_models(cfg, arm_names(cfg), corpora["train"], corpora["heldout"],
                                     lambda name: load_tuned(cfg, name), planted)
