"""Evaluation: predictions of every system on the test instructions, scored with the reference scorer (and the
clinical variant beside it), bootstrap CIs, paired tests against `cancer_cpt`, per-field / per-cancer-type
breakdowns, confusion matrices, and external validation on a file a run never saw.

Systems: the three trained models (no_cpt, general_cpt, cancer_cpt), the untuned base (zero_shot), a rule
baseline and a TF-IDF + logistic-regression baseline.
Used in notebooks/30_evaluation.ipynb and by `python -m cancerllm evaluate`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import baselines, inference, pipeline, stats
from .config import arm_names
from .data.schema import NOT_MENTIONED
from .instructions import TASKS
from .metrics import CLINICAL_METRICS, REFERENCE_METRICS, reference_prf
from .report import ci_text

HEADLINE = "rouge_l_reference"  # the metric the reference code actually ran for its "ROUGE-L"
METRIC_LABELS = {"exact_match": "EM", "bleu2": "BLEU-2", "rouge_l_reference": "ROUGE-L (reference: unigram set)",
                 "rouge_l": "ROUGE-L (true LCS)"}

#: What the paper reports (npj Digit. Med. 2026 abstract and summary) — private data, not reproduced here.
REPORTED = pd.DataFrame([
    {"claim": "CancerLLM phenotype extraction F1", "value": "91.78", "source": "abstract (v3 / npj)"},
    {"claim": "CancerLLM diagnosis generation F1", "value": "86.81", "source": "abstract (v3 / npj)"},
    {"claim": "average F1 gain over other LLMs", "value": "9.23", "source": "abstract (v3 / npj)"},
    {"claim": "diagnosis F1 gain over Mistral-7B / BioMistral-7B", "value": "31.7 / 17.92", "source": "npj summary"},
    {"claim": "independent patient cohort, average F1", "value": "85.08", "source": "npj summary"},
    {"claim": "per-model EM / BLEU-2 / ROUGE-L table", "value": "not public", "source": "—"},
]).set_index("claim")


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
    that BM25 ranks nearest to the note (``retrieval.prompts.augment``, the retrieval chapter's prompts and
    budget; a test patient's own notes are never retrieved)."""
    from .retrieval.prompts import augment, prompt_budget

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


def predict_models(cfg, test: pd.DataFrame, details: dict | None = None,
                   train: pd.DataFrame | None = None) -> dict[str, list[list[str]]]:
    """Parsed answers of every LM system (trained adapters on their own base; the untuned base as zero-shot;
    untuned external arms zero- or few-shot, the few-shot examples retrieved from `train`, default the run's
    saved training instances). A `details` dict is filled with each system's reading cost and conflicts
    (``reading_cost`` reads it)."""
    import time

    preds = {}
    reading = pipeline.reading(cfg)
    shots = None
    for name in model_systems(cfg):
        model, tokenizer, wrap = _load_system(cfg, name)
        rows = test
        if untuned_arm(cfg, name)[1] == "few":
            if shots is None:
                shots = few_shot_rows(cfg, test, pipeline.load_sets(cfg)["train"] if train is None else train)
            rows = shots
        t0 = time.perf_counter()
        _, preds[name], det = inference.predict(model, tokenizer, rows, cfg.max_new_tokens, cfg.eval_batch_size,
                                                desc=name, return_details=True, wrap=wrap, **reading)
        if details is not None:
            details[name] = {**det, "seconds": time.perf_counter() - t0}
        del model
    return preds


def predict_ablation(cfg, examples: pd.DataFrame, confidence: dict | None = None, **decoding) -> dict:
    """Parsed answers of each trained arm (``config.arm_names``: the ablation, then `arms`) on `examples`, each loaded
    once (a LoRA merged into its base: ~3x faster on CPU), decoded as the run says (``pipeline.reading``) unless
    `decoding` overrides it (``copy=False``: free greedy decoding). A `confidence` dict is filled with each
    model's per-answer confidences ({"sequence": [...], "normalised": [...]}, ``inference.predict``). Used by
    chapters 30, 35, 40 and 60 and ``external_validation``."""
    reading = {**pipeline.reading(cfg), **decoding}
    preds = {}
    for name in arm_names(cfg):
        model, tokenizer = pipeline.load_tuned(cfg, name)
        _, preds[name], det = inference.predict(model, tokenizer, examples, cfg.max_new_tokens, cfg.eval_batch_size,
                                                desc=name, return_details=True, **reading)
        if confidence is not None:
            confidence[name] = det["confidence"]
        del model
    return preds


def predict_confident(cfg, train: pd.DataFrame, examples: pd.DataFrame) -> dict[str, dict]:
    """Every ablation model's and TF-IDF's answers on `examples` with a confidence per answer (chapter 35):
    {system: {"answers": [...], "sequence": [...], "normalised": [...]}} — for the LMs the answer's sequence
    probability and its per-token geometric mean (``inference.predict``), for TF-IDF (fitted on `train`) its
    ``predict_proba`` under both keys. The rule baseline has no confidence and is left out."""
    conf: dict = {}
    preds = predict_ablation(cfg, examples, confidence=conf)
    out = {name: {"answers": preds[name], **conf[name]} for name in preds}
    tfidf = baselines.TfidfBaseline(seed=cfg.seed).fit(train)
    c = tfidf.confidence(examples).tolist()
    out["tfidf_logreg"] = {"answers": tfidf.predict(examples), "sequence": c, "normalised": c}
    return out


DECODINGS = {True: "copy (ours)", False: "free (the paper's)"}


def decoding_table(cfg, test: pd.DataFrame, preds: dict, metric: str = HEADLINE) -> pd.DataFrame:
    """What copy-constrained decoding does (``phenotype_decoding: copy``, our design): each ablation model's
    phenotype questions answered again with free greedy decoding, beside the run's answers (`preds`, same
    model, same questions): mean F1 (×100, reference scorer), exact matches (%) and distinct answers. Empty when
    the run already decodes freely."""
    cols = ["system", "decoding", "F1", "exact %", "distinct answers", "questions"]
    idx = np.flatnonzero((test["task"] == "phenotype_extraction").to_numpy())
    if cfg.phenotype_decoding != "copy" or not len(idx):
        return pd.DataFrame(columns=cols)
    ph = test.iloc[idx].reset_index(drop=True)
    free = predict_ablation(cfg, ph, copy=False)
    rows = []
    for name, answers in free.items():
        for decoding, p in ((DECODINGS[True], [preds[name][i] for i in idx]), (DECODINGS[False], answers)):
            f1 = [reference_prf(list(g), a, metric)[2] for g, a in zip(ph["answers"], p)]
            exact = [reference_prf(list(g), a, "exact_match")[2] == 1 for g, a in zip(ph["answers"], p)]
            rows.append({"system": name, "decoding": decoding, "F1": round(100 * float(np.mean(f1)), 1),
                         "exact %": round(100 * float(np.mean(exact)), 1),
                         "distinct answers": len({", ".join(a).lower() for a in p}), "questions": len(ph)})
    return pd.DataFrame(rows, columns=cols)


def decoding_summary(table: pd.DataFrame) -> str:
    """``decoding_table`` in words: the F1 each model gains (or loses) from copy-constrained decoding."""
    if table.empty:
        return "*This run decodes freely (`phenotype_decoding: free`), as the paper does.*"
    wide = table.pivot_table(index="system", columns="decoding", values="F1", sort=False)
    lines = [f"- **{m}**: phenotype F1 {r[DECODINGS[True]]:.1f} copy-constrained, {r[DECODINGS[False]]:.1f} "
             f"decoding freely ({r[DECODINGS[True]] - r[DECODINGS[False]]:+.1f} points from the constraint)."
             for m, r in wide.iterrows()]
    return "\n".join(lines)


def reading_cost(details: dict, test: pd.DataFrame) -> pd.DataFrame:
    """Per LM: phenotype questions, passage prompts read (one batched forward pass each), prompts generated
    in full (passages not rejected by the first token, plus every diagnosis), notes whose passages stated
    conflicting values (``inference.assemble`` then picks by confidence-weighted vote), and inference seconds."""
    n_ph = int((test["task"] == "phenotype_extraction").sum())
    rows = {}
    for name, d in details.items():
        conflicts = sum(r["conflict"] for r in d["rows"])
        rows[name] = {"phenotype questions": n_ph, "passages read": d["passage_prompts"], "generated": d["generated"],
                      "questions with conflicting passages": conflicts,
                      "% conflicting": round(100 * conflicts / max(n_ph, 1), 1), "seconds": round(d["seconds"], 1),
                      "ms per question": round(1000 * d["seconds"] / max(len(test), 1), 1)}
    return pd.DataFrame(rows).T


def predict_baselines(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, list[list[str]]]:
    out = baselines.predict_all(train, test, seed)
    return {k: out[k] for k in ("rule", "tfidf_logreg") if k in out}


def save_predictions(out: Path, test: pd.DataFrame, preds: dict) -> None:
    for name, p in preds.items():
        inference.write_predictions(out / "predictions" / f"{name}.jsonl", test, p)


def score(test: pd.DataFrame, preds: dict, n_boot: int, seed: int, metric_names=None) -> pd.DataFrame:
    """Long table: task, system, metric, precision, recall, f1, f1_ci_low, f1_ci_high, n (×100)."""
    metric_names = metric_names or [*REFERENCE_METRICS, *CLINICAL_METRICS]
    rows = []
    for task in TASKS:
        mask = (test["task"] == task).to_numpy()
        if not mask.any():
            continue
        golds = [list(a) for a in test.loc[mask, "answers"]]
        for system, p in preds.items():
            sub = [p[i] for i in np.flatnonzero(mask)]
            tab = stats.score_with_ci(golds, sub, metric_names, n_boot, seed)
            for metric, r in tab.iterrows():
                rows.append({"task": task, "system": system, "metric": metric, **r.to_dict()})
    return pd.DataFrame(rows)


def comparison_table(scores: pd.DataFrame, task: str, variant: str = "reference") -> pd.DataFrame:
    """One row per system: EM / BLEU-2 / ROUGE-L(reference) F1 and ROUGE-L P/R/F1, each F1 with its 95% CI."""
    prefix = "" if variant == "reference" else "clinical_"
    sub = scores[scores["task"] == task]
    table = {}
    for system, grp in sub.groupby("system", sort=False):
        g = grp.set_index("metric")
        row = {}
        for m in REFERENCE_METRICS:
            r = g.loc[prefix + m]
            row[f"{METRIC_LABELS[m]} F1"] = ci_text(r.f1, r.f1_ci_low, r.f1_ci_high)
        r = g.loc[prefix + "rouge_l"]
        row["ROUGE-L P"], row["ROUGE-L R"] = round(r.precision, 1), round(r.recall, 1)
        row["n"] = int(g["n"].iloc[0])
        table[system] = row
    return pd.DataFrame(table).T


def paired_tests(test: pd.DataFrame, preds: dict, reference: str = "cancer_cpt", metric: str = HEADLINE,
                 n_boot: int = 1000, seed: int = 42) -> pd.DataFrame:
    """Gain of `reference` over every other system (F1 ×100) with paired-bootstrap CI and p-value, per task."""
    rows = []
    if reference not in preds:
        return pd.DataFrame(rows)
    for task in TASKS:
        mask = np.flatnonzero((test["task"] == task).to_numpy())
        if not len(mask):
            continue
        golds = [list(test["answers"].iloc[i]) for i in mask]
        f1 = {s: np.array([reference_prf(g, p[i], metric)[2] for g, i in zip(golds, mask)]) * 100 for s, p in preds.items()}
        for other in preds:
            if other == reference:
                continue
            res = stats.paired_bootstrap(f1[reference], f1[other], n_boot, seed)
            rows.append({"task": task, "comparison": f"{reference} − {other}", **{k: round(float(v), 4) for k, v in res.items()}})
    return pd.DataFrame(rows)


def instance_table(test: pd.DataFrame, preds: dict, metric: str = HEADLINE) -> pd.DataFrame:
    """One row per (instance, system): task, field, cancer_type, f1 (×100), predicted 'not mentioned'?"""
    rows = []
    for system, p in preds.items():
        for row, pred in zip(test.itertuples(), p):
            rows.append({"system": system, "task": row.task, "field": row.field, "cancer_type": row.cancer_type,
                         "f1": 100 * reference_prf(list(row.answers), pred, metric)[2],
                         "gold_not_mentioned": list(row.answers) == [NOT_MENTIONED],
                         "pred_not_mentioned": [a.lower() for a in pred] == [NOT_MENTIONED]})
    return pd.DataFrame(rows)


def by_group(instances: pd.DataFrame, group: str) -> pd.DataFrame:
    """Mean F1 (×100) per system (columns) and group (rows: field or cancer type)."""
    return instances.pivot_table(index=group, columns="system", values="f1", aggfunc="mean", sort=False).round(1)


def not_mentioned_rates(instances: pd.DataFrame) -> pd.DataFrame:
    """Phenotype extraction: how often each system answers 'not mentioned', against how often gold does."""
    ph = instances[instances["task"] == "phenotype_extraction"]
    out = ph.groupby("system", sort=False).agg(predicted=("pred_not_mentioned", "mean"), gold=("gold_not_mentioned", "mean"))
    return (100 * out).round(1).rename(columns={"predicted": "% predicted 'not mentioned'", "gold": "% gold 'not mentioned'"})


def confusions(test: pd.DataFrame, preds: dict, system: str, fields=("t_stage", "n_stage", "m_stage", "diagnosis")) -> dict:
    """Confusion matrices (gold rows × predicted columns) of one system for the categorical fields."""
    out = {}
    for fld in fields:
        idx = np.flatnonzero((test["field"] == fld).to_numpy())
        if len(idx):
            gold = [", ".join(test["answers"].iloc[i]) for i in idx]
            pred = [", ".join(preds[system][i]) or "(empty)" for i in idx]
            out[fld] = stats.confusion(gold, pred)
    return out


def metrics_json(scores: pd.DataFrame, n_instances: dict) -> dict:
    """{"task": {"system": {"metric": {precision, recall, f1, ci_low, ci_high}}}, "n_instances": {...}}."""
    out: dict = {"n_instances": n_instances}
    for r in scores.itertuples():
        out.setdefault(r.task, {}).setdefault(r.system, {})[r.metric] = {
            "precision": round(float(r.precision), 6), "recall": round(float(r.recall), 6), "f1": round(float(r.f1), 6),
            "ci_low": round(float(r.f1_ci_low), 6), "ci_high": round(float(r.f1_ci_high), 6)}
    return out


def ablation_summary(paired: pd.DataFrame) -> str:
    """The ablation read the way the paper reads it, with numbers from this run."""
    if paired.empty:
        return "*No cancer_cpt model in this run: no ablation to read.*"
    lines = []
    for r in paired[paired["comparison"].str.contains("no_cpt|general_cpt")].itertuples():
        sig = "significant" if r.p_value < 0.05 else "not significant"
        lines.append(f"- **{r.task}**, {r.comparison}: {r.diff:+.1f} F1 points "
                     f"(95% CI {r.ci_low:+.1f} to {r.ci_high:+.1f}; paired bootstrap p = {r.p_value:.3f}, {sig}).")
    return "\n".join(lines)


def reading_table(test: pd.DataFrame, preds: dict, metric: str = HEADLINE) -> pd.DataFrame:
    """Does each system read its input? Per system: distinct answers it gave on each task's test instances (a
    model that ignores the note gives one), and its mean F1 (×100, reference scorer) per task beside the rule and
    TF-IDF baselines' on the same instances."""
    inst = instance_table(test, preds, metric)
    f1 = inst.pivot_table(index="system", columns="task", values="f1", aggfunc="mean", sort=False)
    rows = []
    for system, p in preds.items():
        row = {"system": system}
        for task, short in (("phenotype_extraction", "phenotype"), ("diagnosis_generation", "diagnosis")):
            idx = np.flatnonzero((test["task"] == task).to_numpy())
            if not len(idx):
                continue
            row[f"{short}: distinct answers"] = len({", ".join(p[i]).lower() for i in idx})
            row[f"{short}: F1"] = round(float(f1.loc[system, task]), 1)
            for base in ("tfidf_logreg", "rule"):
                if base in preds and base != system:
                    row[f"{short}: − {base}"] = round(float(f1.loc[system, task] - f1.loc[base, task]), 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("system")


def reading_summary(table: pd.DataFrame, models: list[str], min_distinct: int = 20) -> str:
    """``reading_table`` in words, for the language models: whether each one's answers vary with the note (at
    least `min_distinct` distinct phenotype answers; a model that ignores its input gives one) and where it
    stands against the baselines. Whether the answers follow the note is chapter 40's counterfactual test."""
    lines = []
    for m in [m for m in models if m in table.index]:
        r = table.loc[m]
        parts = []
        for short in ("phenotype", "diagnosis"):
            if f"{short}: F1" not in r:
                continue
            d, f = int(r[f"{short}: distinct answers"]), r[f"{short}: F1"]
            vs = [f"{'above' if r[c] > 0 else 'below' if r[c] < 0 else 'level with'} {c.split('− ')[1]} by "
                  f"{abs(r[c]):.1f}" for c in r.index if c.startswith(f"{short}: − ") and pd.notna(r[c])]
            parts.append(f"{short} F1 {f:.1f} with {d} distinct answer{'s' if d != 1 else ''} ({', '.join(vs)})")
        d = int(r.get("phenotype: distinct answers", 0))
        verdict = (f"answers vary with the note (≥ {min_distinct} distinct phenotype answers)" if d >= min_distinct
                   else "gives a constant answer" if d <= 1 else
                   f"varies its answers only weakly ({d} distinct phenotype answers)")
        lines.append(f"- **{m}** {verdict}: " + "; ".join(parts) + ".")
    return "\n".join(lines) or "*No language model in this run.*"


def scoring_subsets(cohort, test: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks over `test`'s rows for the subsets chapter 30 scores beside the whole test split:
    *answerable* (drops phenotype questions whose gold value is stated in no passage of the report:
    ``instructions.unanswerable_ids``; real registry labels are sometimes not in the text) and *no
    cross-split duplicates* (drops test patients with a report that is an exact or near duplicate, character
    n-gram cosine >= 0.9, of a report in another split: ``profiling.duplicated_across_splits``)."""
    from .instructions import unanswerable_ids
    from .profiling import duplicated_across_splits, duplicates

    unanswerable = unanswerable_ids(cohort, "test")
    dup_patients = duplicated_across_splits(cohort, duplicates(cohort))
    return {"all": np.ones(len(test), dtype=bool),
            "answerable": ~test["id"].isin(unanswerable).to_numpy(),
            "no cross-split duplicates": ~test["patient_id"].isin(dup_patients).to_numpy()}


def subset_table(test: pd.DataFrame, preds: dict, subsets: dict[str, np.ndarray], metric: str = HEADLINE) -> pd.DataFrame:
    """Mean F1 (×100, reference scorer) per system (columns) on each task x subset (rows) of ``scoring_subsets``,
    with the subset's question count."""
    inst = instance_table(test, preds, metric)
    systems = list(preds)
    rows = []
    for task in TASKS:
        is_task = (test["task"] == task).to_numpy()
        if not is_task.any():
            continue
        for name, mask in subsets.items():
            keep = is_task & mask
            row = {"task": task, "subset": name, "questions": int(keep.sum())}
            for system in systems:
                f1 = inst.loc[inst["system"] == system, "f1"].to_numpy()[keep]
                row[system] = round(float(f1.mean()), 1) if len(f1) else float("nan")
            rows.append(row)
    return pd.DataFrame(rows).set_index(["task", "subset"])


def subset_summary(table: pd.DataFrame, system: str = "cancer_cpt") -> str:
    """``subset_table`` in words: per task, how many questions each subset drops and how `system`'s F1 moves."""
    if system not in table.columns:
        return ""
    lines = []
    for task in table.index.get_level_values("task").unique():
        t = table.loc[task]
        full = t.loc["all"]
        for name in [n for n in t.index if n != "all"]:
            r = t.loc[name]
            dropped = int(full["questions"] - r["questions"])
            if dropped == 0:
                lines.append(f"- **{task}**, {name}: drops no question; F1 unchanged.")
                continue
            vs = ", ".join(f"{b} {full[b]:.1f} → {r[b]:.1f}" for b in ("tfidf_logreg", "rule") if b in t.columns)
            lines.append(f"- **{task}**, {name}: drops {dropped} of {int(full['questions'])} questions; "
                         f"{system} {full[system]:.1f} → {r[system]:.1f}" + (f" ({vs})." if vs else "."))
    return "\n".join(lines)


def field_gap_table(instances: pd.DataFrame, system: str = "cancer_cpt",
                    baselines_: tuple[str, ...] = ("tfidf_logreg", "rule")) -> pd.DataFrame:
    """Phenotype F1 per field: `system` beside each baseline, and its gap to each (positive = ahead)."""
    ph = by_group(instances[instances["task"] == "phenotype_extraction"], "field")
    if system not in ph.columns:
        return ph
    cols = [c for c in (system, *baselines_) if c in ph.columns]
    out = ph[cols].copy()
    for b in baselines_:
        if b in ph.columns:
            out[f"{system} − {b}"] = (ph[system] - ph[b]).round(1)
    out["questions"] = instances[(instances["task"] == "phenotype_extraction")
                                 & (instances["system"] == system)].groupby("field").size()
    return out


def field_gap_summary(table: pd.DataFrame, system: str = "cancer_cpt") -> str:
    """``field_gap_table`` in words: per baseline, the fields where `system` is ahead of / behind it."""
    lines = []
    for base, label in (("tfidf_logreg", "TF-IDF"), ("rule", "the rule baseline")):
        col = f"{system} − {base}"
        if col not in table.columns:
            continue
        ahead = [f"{f} ({g:+.1f})" for f, g in table[col].items() if g > 0]
        behind = [f"{f} ({g:+.1f})" for f, g in table[col].items() if g < 0]
        lines.append(f"- Against {label}, **{system}** is ahead on {len(ahead)} of {len(table)} fields"
                     + (f" — {', '.join(ahead)}" if ahead else "") + f"; behind on {len(behind)}"
                     + (f" — {', '.join(behind)}" if behind else "") + ".")
    return "\n".join(lines)


def error_gallery(test: pd.DataFrame, preds: dict, system: str, is_real: bool, n: int = 6) -> pd.DataFrame:
    """Wrong answers of one system: synthetic data shows question context excerpts; real data shows only
    field-level error counts (never note text)."""
    wrong = [i for i, (a, p) in enumerate(zip(test["answers"], preds[system]))
             if reference_prf(list(a), p, "exact_match")[2] < 1]
    if is_real:
        sub = test.iloc[wrong]
        return sub.groupby(["task", "field"]).size().rename("wrong answers").to_frame()
    rows = [{"field": test["field"].iloc[i], "gold": ", ".join(test["answers"].iloc[i]),
             "predicted": ", ".join(preds[system][i]) or "(empty)"} for i in wrong[:n]]
    return pd.DataFrame(rows)


def run_config(run_dir: Path):
    """The Config of a finished run directory, from its manifest's params but located at `run_dir` itself (a copied
    or moved run directory is read from where it is, never from the place its params name), or one clear
    RunDirError / FileNotFoundError. Used by ``external_validation`` and the benchmarks' probes of a finished run."""
    from .config import make_config
    from .errors import RunDirError
    from .provenance import read_manifest

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: is a file, not a run directory")
    try:
        manifest = read_manifest(run_dir)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{run_dir / 'manifest.json'}: damaged (not valid JSON)") from None
    if not manifest:
        raise FileNotFoundError(f"{run_dir}: no manifest.json — not a run directory")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("params"), dict):
        raise RunDirError(f"{run_dir / 'manifest.json'}: no recorded params; re-run `python -m cancerllm run`")
    here = run_dir.resolve()
    return make_config({**manifest["params"], "runs_root": str(here.parent), "run_name": here.name},
                       source=str(run_dir / "manifest.json"))


def external_validation(run_dir: Path, data_path: Path, out_dir: Path | None = None) -> Path:
    """Score every trained model of a finished run, and the rule and TF-IDF baselines refit on the run's own
    training split, on another file: the custom-notes schema, or the TCGA reports' CSV format
    (``loaders.is_tcga_format``). All its patients are test instances (a split column is ignored). Writes
    metrics.json (same shape as chapter 30's) and predictions into out_dir (default run_dir/external/<file stem>).
    Models are loaded from `run_dir` itself: the manifest gives the params, never the location (a copied or moved
    run directory must not be scored with the models of the run it was copied from)."""
    from .data.loaders import check_cohort, is_tcga_format, load_custom, read_tcga_reports
    from .errors import DataError, RunDirError
    from .instructions import build_instructions
    from .provenance import write_json

    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    if str(data_path) == "mtsamples-oncology":  # the public demo of external validation (weak labels)
        from .data.external import mtsamples_oncology

        data_path = Path(run_dir) / "external" / "mtsamples_oncology.csv"
        mtsamples_oncology(cfg.data_dir, data_path)
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / "external" / Path(data_path).stem
    clash = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)  # checked before any model loads
    if clash is not None and not clash.is_dir():
        raise DataError(f"{clash}: is a file; --out must name a folder")
    if is_tcga_format(Path(data_path)):
        cohort = check_cohort(read_tcga_reports(Path(data_path), keep_split=False), str(data_path))
    else:
        cohort = load_custom(Path(data_path), [0.0, 0.0, 1.0], cfg.seed)
    cohort.notes["split"], cohort.labels["split"] = "test", "test"
    if not cohort.fields and cohort.labels["diagnosis"].isna().all():  # known before any model loads
        raise DataError(f"{data_path}: no labelled instances (needs phenotype label columns or a diagnosis column)")
    train = pipeline.load_sets(cfg).get("train")  # what the run's baselines were fitted on (stage 20 saves it)
    if train is None:
        raise RunDirError(f"{cfg.stage_path(pipeline.SFT_STAGE) / 'instructions' / 'train.jsonl'}: missing — the "
                          "run's instruction tuning stage has not finished")
    _, tokenizer = pipeline.load_base(cfg)
    test = build_instructions(cohort, "test", tokenizer, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
    if test.empty:
        raise DataError(f"{data_path}: no labelled instances (needs phenotype label columns or a diagnosis column)")
    preds = {**predict_ablation(cfg, test), **predict_baselines(train, test, cfg.seed)}
    scores = score(test, preds, cfg.bootstrap_samples, cfg.seed)
    save_predictions(out_dir, test, preds)
    n = {t: int((test["task"] == t).sum()) for t in TASKS}
    write_json(out_dir / "metrics.json", metrics_json(scores, n))
    return out_dir / "metrics.json"
