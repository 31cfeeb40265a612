"""The run directory of the training chapters: the stage names, where each stage's models live (``base_dir``,
``cpt_dir``, ``sft_dir``; the layout is in ``cancerllm.pipeline``), the instruction sets stage 20 saves
(``save_sets``, ``load_sets``) and the answer reading every stage that scores an LM refits from them
(``reading``, ``answer_normaliser``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

CPT_STAGE, SFT_STAGE = "10_continued_pretraining", "20_instruction_tuning"


def base_dir(cfg) -> Path:
    return cfg.stage_path(CPT_STAGE) / "models" / "base"


def base_path(cfg) -> Path:
    """Where the run's base model and tokenizer are: the local model directory that `pointer.json` in `base_dir`
    names (a run on your own `base_model`), else `base_dir` itself (the small model saved there)."""
    pointer = base_dir(cfg) / "pointer.json"
    return Path(json.loads(pointer.read_text(encoding="utf-8"))["base_model"]) if pointer.is_file() else base_dir(cfg)


def cpt_dir(cfg, name: str) -> Path:
    return cfg.stage_path(CPT_STAGE) / "models" / name


def sft_dir(cfg, name: str) -> Path:
    return cfg.stage_path(SFT_STAGE) / "models" / name


SETS = ("train", "dev", "test", "sft_train", "sft_dev")


def save_sets(sets: dict, out: Path) -> None:
    """Persist the instruction sets (run directory only; never rendered for real data)."""
    out.mkdir(parents=True, exist_ok=True)
    for split, df in sets.items():
        df.to_json(out / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)


def load_sets(cfg) -> dict:
    d = cfg.stage_path(SFT_STAGE) / "instructions"
    return {s: pd.read_json(d / f"{s}.jsonl", lines=True, dtype=False) for s in SETS if (d / f"{s}.jsonl").is_file()}


def reading(cfg) -> dict:
    """The keyword arguments every stage that scores an LM passes to ``inference.predict``: the run's phrase ->
    label normaliser (``answer_normaliser``) and its phenotype decoding (``phenotype_decoding``: copy-
    constrained, or free as in the paper)."""
    return {"normaliser": answer_normaliser(cfg), "copy": cfg.phenotype_decoding == "copy"}


def answer_normaliser(cfg):
    """The run's phrase -> label normaliser (``normalise.AnswerNormaliser``), fitted on its saved tuning
    examples (the sentence-level positives: copied phrase and the note's label). Deterministic and cheap
    (~0.1 s), so every stage that scores an LM refits it instead of storing it."""
    from ..normalise import AnswerNormaliser

    path = cfg.stage_path(SFT_STAGE) / "instructions" / "sft_train.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tuning examples; run 20_instruction_tuning first")
    return AnswerNormaliser().fit(pd.read_json(path, lines=True, dtype=False))
