"""The systems of chapter 30 and their answers: the LM systems (every tuned arm, the untuned base, untuned
external arms zero- or few-shot: ``model_systems``), each loaded and asked as the run says through one loop
(``predict_systems``; ``predict_models``, ``predict_ablation`` and ``predict_confident`` name its uses), the rule
and TF-IDF baselines (``predict_baselines``) and the answers saved as JSONL (``save_predictions``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import baselines, inference, pipeline
from ..config import arm_names

ZERO_SHOT, FEW_SHOT = "_zero_shot", "_few_shot"  # suffixes of an untuned external arm's system names


def model_systems(cfg) -> list[str]:
    """The LM systems of chapter 30: every tuned arm (``config.arm_names``: the ablation, then `arms`), the
    untuned base (zero_shot) and every external arm untuned — "<arm>_zero_shot" with `arms_zero_shot`,
    "<arm>_few_shot" with `arms_few_shot` worked examples."""
    return [*arm_names(cfg), "zero_shot", *(f"{a}{ZERO_SHOT}" for a in cfg.arms if cfg.arms_zero_shot),
            *(f"{a}{FEW_SHOT}" for a in cfg.arms if cfg.arms_few_shot)]


def untuned_arm(cfg, name: str) -> tuple[str | None, str | None]:
    """(arm, "zero" | "few") for an untuned-arm system name of ``model_systems``; (None, None) otherwise."""
    for suffix, kind in ((ZERO_SHOT, "zero"), (FEW_SHOT, "few")):
        if name.endswith(suffix) and name.removesuffix(suffix) in cfg.arms:
            return name.removesuffix(suffix), kind
    return None, None


def few_shot_rows(cfg, test: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """`test` with `arms_few_shot` worked examples in every prompt: the training cases of the same task and field
    that BM25 ranks nearest to the note (``cases.prompts.augment``, the retrieval chapter's prompts and
    budget; a test patient's own notes are never retrieved)."""
    from ..cases.prompts import augment, prompt_budget

    _, tokenizer = pipeline.load_base(cfg)
    return augment(test, train, "bm25", cfg.arms_few_shot, tokenizer, prompt_budget(cfg), cfg.seed)


def _load_system(cfg, name: str):
    """(model, tokenizer, prompt wrapper) of an LM system of ``model_systems``: an untuned external arm is
    asked through its own chat template where its tokenizer has one (``inference.chat_wrapper``)."""
    if name == "zero_shot":
        return (*pipeline.load_base(cfg), None)
    arm, _ = untuned_arm(cfg, name)
    if arm is not None:
        model, tokenizer = pipeline.load_arm(cfg, arm)
        return model, tokenizer, inference.chat_wrapper(tokenizer)
    return (*pipeline.load_tuned(cfg, name), None)


def predict_systems(cfg, rows: pd.DataFrame, systems: list[str] | None = None, details: dict | None = None,
                    confidence: dict | None = None, train: pd.DataFrame | None = None, **decoding) -> dict:
    """Parsed answers of each LM system on `rows` — the one loop every chapter predicts through. `systems`
    defaults to the trained arms (``config.arm_names``: the ablation, then `arms`); chapter 30 passes
    ``model_systems`` (also the untuned base and the untuned external arms, zero- or few-shot, the few-shot
    examples retrieved from `train`, default the run's saved training instances). Each system is loaded once (a
    LoRA merged into its base: ~3x faster on CPU) and decoded as the run says (``pipeline.reading``) unless
    `decoding` overrides it (``copy=False``: free greedy decoding). A `details` dict is filled with each system's
    reading cost and conflicts (``reading_cost`` reads it); a `confidence` dict with each system's per-answer
    confidences ({"sequence": [...], "normalised": [...]}, ``inference.predict``)."""
    import time

    reading = {**pipeline.reading(cfg), **decoding}
    preds, shots = {}, None
    for name in arm_names(cfg) if systems is None else systems:
        model, tokenizer, wrap = _load_system(cfg, name)
        asked = rows
        if untuned_arm(cfg, name)[1] == "few":
            if shots is None:
                shots = few_shot_rows(cfg, rows, pipeline.load_sets(cfg)["train"] if train is None else train)
            asked = shots
        t0 = time.perf_counter()
        _, preds[name], det = inference.predict(model, tokenizer, asked, cfg.max_new_tokens, cfg.eval_batch_size,
                                                desc=name, return_details=True, wrap=wrap, **reading)
        if details is not None:
            details[name] = {**det, "seconds": time.perf_counter() - t0}
        if confidence is not None:
            confidence[name] = det["confidence"]
        del model
    return preds


def predict_models(cfg, test: pd.DataFrame, details: dict | None = None,
                   train: pd.DataFrame | None = None) -> dict[str, list[list[str]]]:
    """Chapter 30's systems (``model_systems``) through ``predict_systems``."""
    return predict_systems(cfg, test, model_systems(cfg), details=details, train=train)


def predict_ablation(cfg, examples: pd.DataFrame, confidence: dict | None = None, **decoding) -> dict:
    """The trained arms through ``predict_systems`` (chapters 35, 40 and 60 and ``external_validation``)."""
    return predict_systems(cfg, examples, confidence=confidence, **decoding)


def predict_confident(cfg, train: pd.DataFrame, examples: pd.DataFrame, saved: Path | None = None) -> dict[str, dict]:
    """Every ablation model's and TF-IDF's answers on `examples` with a confidence per answer (chapter 35):
    {system: {"answers": [...], "sequence": [...], "normalised": [...]}} — for the LMs the answer's sequence
    probability and its per-token geometric mean (``inference.predict``), for TF-IDF (fitted on `train`) its
    ``predict_proba`` under both keys. The rule baseline has no confidence and is left out. `saved`: a
    predictions directory (``save_predictions`` with confidences: chapter 30's) whose answers are reused when
    every model's file holds exactly `examples`, in order, with confidences (``saved_confident``) — the same
    models, rows and decoding give the same answers, so chapter 35 does not predict the test split again."""
    conf: dict = {}
    reused = saved_confident(cfg, examples, saved) if saved is not None else None
    if reused is not None:
        out = reused
    else:
        preds = predict_ablation(cfg, examples, confidence=conf)
        out = {name: {"answers": preds[name], **conf[name]} for name in preds}
    tfidf = baselines.TfidfBaseline(seed=cfg.seed).fit(train)
    c = tfidf.confidence(examples).tolist()
    out["tfidf_logreg"] = {"answers": tfidf.predict(examples), "sequence": c, "normalised": c}
    return out


def saved_confident(cfg, examples: pd.DataFrame, saved: Path) -> dict[str, dict] | None:
    """The trained arms' (``config.arm_names``) answers and confidences read back from `saved`
    (``save_predictions`` with confidences), or None when any arm's file is missing, lacks confidences or does
    not hold `examples`' ids in order (predictions of an older run: then they are predicted again)."""
    import json

    out = {}
    for name in arm_names(cfg):
        path = Path(saved) / f"{name}.jsonl"
        if not path.is_file():
            return None
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if [x["id"] for x in lines] != list(examples["id"]) or any("confidence" not in x for x in lines):
            return None
        out[name] = {"answers": [x["answers"] for x in lines],
                     **{kind: [x["confidence"][kind] for x in lines] for kind in ("sequence", "normalised")}}
    return out


def predict_baselines(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, list[list[str]]]:
    out = baselines.predict_all(train, test, seed)
    return {k: out[k] for k in ("rule", "tfidf_logreg") if k in out}


def save_predictions(out: Path, test: pd.DataFrame, preds: dict, details: dict | None = None) -> None:
    """Each system's answers as JSONL under `out`/predictions (``inference.write_predictions``); with `details`
    (``predict_systems``'), each LM answer's confidences too (chapter 35 reads them back: ``saved_confident``)."""
    for name, p in preds.items():
        conf = (details or {}).get(name, {}).get("confidence")
        inference.write_predictions(out / "predictions" / f"{name}.jsonl", test, p, conf)
