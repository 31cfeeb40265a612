"""The tables of chapter 30 beyond the scores, each with its summary in words: what the paper reports
(``REPORTED``), copy-constrained against free decoding (``decoding_table``), reading cost (``reading_cost``), the
ablation (``ablation_summary``), whether each system reads its input (``reading_table``), the scoring subsets
(``scoring_subsets``, ``subset_table``), per-field gaps to the baselines (``field_gap_table``), "not mentioned"
rates, confusion matrices and the error gallery."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from ..instructions import TASKS
from ..metrics import reference_prf
from .predict import predict_ablation
from .scoring import HEADLINE, by_group, instance_table

#: What the paper reports (npj Digit. Med. 2026 abstract and summary) — private data, not reproduced here.
REPORTED = pd.DataFrame([
    {"claim": "CancerLLM phenotype extraction F1", "value": "91.78", "source": "abstract (v3 / npj)"},
    {"claim": "CancerLLM diagnosis generation F1", "value": "86.81", "source": "abstract (v3 / npj)"},
    {"claim": "average F1 gain over other LLMs", "value": "9.23", "source": "abstract (v3 / npj)"},
    {"claim": "diagnosis F1 gain over Mistral-7B / BioMistral-7B", "value": "31.7 / 17.92", "source": "npj summary"},
    {"claim": "independent patient cohort, average F1", "value": "85.08", "source": "npj summary"},
    {"claim": "per-model EM / BLEU-2 / ROUGE-L table", "value": "not public", "source": "—"},
]).set_index("claim")


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
    from ..instructions import unanswerable_ids
    from ..profiling import duplicated_across_splits, duplicates

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
