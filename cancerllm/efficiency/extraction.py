"""What it costs to extract a report: every phenotype field (sentence-level QA over its passages) plus the
diagnosis, the job a hospital runs over its pathology reports.

- ``reference_extract``: the reference's way (paper notes §3.3) — every prompt on its own, batch 1, greedy, up to
  50 new tokens, nothing reused between prompts — with the note-level vote ``inference.predict`` applies;
- ``extraction_costs``: ``inference.predict`` (each passage read once for all its questions, prompts batched by
  length, only passages whose first token is not the not-relevant reply generated, stop at EOS, ended rows dropped
  between decoding stages) timed against
  the number of reports, the batch size, the passages per report, the model size and the reference's loop;
- ``extraction_summary``: the per-report cost in words, and what N reports cost on one process of this machine;
- ``year_of_reports``: what a year of reports costs on one and on many workers, here and on the lent GPU.

Used by notebooks/50_efficiency.ipynb and cancerllm.bench (`extraction_vs_reference`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..measure.memory import measure


def report_instances(cfg, tokenizer, n_reports: int, cohort=None) -> pd.DataFrame:
    """Every note-level instance (each labelled phenotype field and the diagnosis) of the first `n_reports` test
    patients of `cohort` (default: the run's, ``load_cohort``): the whole job for those reports, not the
    evaluation's field-balanced sample."""
    from ..data.loaders import load_cohort
    from ..instructions import build_instructions

    test = build_instructions(load_cohort(cfg) if cohort is None else cohort, "test", tokenizer, cfg.sft_max_length,
                              cfg.max_new_tokens, cfg.prompt_style)
    keep = sorted(test["patient_id"].unique())[:n_reports]
    return test[test["patient_id"].isin(keep)].reset_index(drop=True)


@torch.no_grad()
def reference_extract(model, tokenizer, rows: pd.DataFrame, max_new_tokens: int = 50) -> list[list[str]]:
    """The reference's way: each phenotype row's passage prompts (``inference.sentence_prompts``) and each
    diagnosis prompt generated on their own — batch 1, no padding, greedy, up to `max_new_tokens` — and the
    passage answers voted by ``inference.assemble`` with the weights ``inference.predict`` uses (1 − the first
    step's probability of the not-relevant reply's first token, read from the same generate call), so both
    ways apply the same note-level rule. Free decoding, no answer normaliser."""
    from .. import inference
    from ..modeling import on_best_device

    model = on_best_device(model).eval()
    device = next(model.parameters()).device
    out = []
    for row in rows.to_dict("records"):
        ph = row["task"] == "phenotype_extraction"
        prompts = inference.sentence_prompts(row) if ph else [row["prompt"]]
        nr = inference.not_relevant_token(tokenizer, prompts[0]) if ph else None
        answers, weights = [], []
        for p in prompts:
            enc = tokenizer(p, return_tensors="pt").to(device)
            gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, output_scores=True,
                                 return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            answers.append(inference.parse_answer(
                tokenizer.decode(gen.sequences[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)))
            weights.append(1.0 - float(gen.scores[0][0].float().softmax(-1)[nr]) if nr is not None else 1.0)
        out.append(inference.assemble(answers, weights)[0] if ph else answers[0])
    return out


def compare_with_reference(model, tokenizer, rows: pd.DataFrame, batch: int, max_new_tokens: int = 50,
                           reps: int = 2) -> dict:
    """Ours (``inference.predict``, free decoding) against ``reference_extract`` on the same rows, interleaved
    `reps` times with the fastest of each kept; the note-level answers are compared row by row."""
    from .. import inference

    t_ours, t_ref = [], []
    for _ in range(reps):
        with measure() as mo:
            _, ours, details = inference.predict(model, tokenizer, rows, max_new_tokens, batch, desc="extraction: ours",
                                                 return_details=True)
        with measure() as mr:
            ref = reference_extract(model, tokenizer, rows, max_new_tokens)
        t_ours.append(mo.seconds), t_ref.append(mr.seconds)
    same = [a == b for a, b in zip(ours, ref)]
    n = rows["patient_id"].nunique()
    prompts = sum(len(inference.sentence_prompts(r)) if r["task"] == "phenotype_extraction" else 1
                  for r in rows.to_dict("records"))
    return {"ratio": round(min(t_ref) / min(t_ours), 2), "identical": all(same),
            "match_rate": round(sum(same) / max(len(same), 1), 4), "reports": n, "instances": len(rows),
            "reference_prompts": prompts, "passage_prompts_read": details["passage_prompts"],
            "prompts_generated": details["generated"], "ours_s": [round(t, 3) for t in t_ours],
            "reference_s": [round(t, 3) for t in t_ref], "ours_reports_per_s": round(n / min(t_ours), 3),
            "reference_reports_per_s": round(n / min(t_ref), 3), "batch_size": batch,
            "peak_rss_gb": round(max(mo.peak_rss_gb, mr.peak_rss_gb), 3)}


def _passages(rows: pd.DataFrame) -> int:
    """Passages of the reports in `rows` (each report's passages once, not once per field), split as the
    reading splits them (``inference.sentence_prompt_passages``)."""
    from .. import inference

    ph = rows[rows["task"] == "phenotype_extraction"].drop_duplicates("patient_id")
    return sum(len(inference.sentence_prompt_passages(r)) for r in ph.to_dict("records"))


def extraction_costs(cfg, model, tokenizer, rows: pd.DataFrame, report_counts=(1, 2, 4, 8), batch_sizes=(8, 32, 64),
                     reference_reports: int = 2, hidden_sizes=(), reps: int = 2, kw: dict | None = None) -> pd.DataFrame:
    """Note-level extraction cost of `rows` (``report_instances``) with the run's reading settings `kw`
    (``pipeline.reading``): against the number of reports (batch eval_batch_size), the batch size (all the
    reports), one report at a time (seconds against its passages), the reference's loop on
    `reference_reports` reports (free decoding on both sides, answers compared), and — the reading pass alone,
    seeded random models of `hidden_sizes` widths — the model size. Fastest of `reps` per setting. Long table:
    experiment, setting, reports, passages, seconds, seconds per report, peak RSS (GiB) (and for the reference row
    the answers that match ours)."""
    from .. import inference, modeling

    kw = kw or {}
    patients = list(dict.fromkeys(rows["patient_id"]))
    subset = {k: rows[rows["patient_id"].isin(patients[:k])] for k in range(1, len(patients) + 1)}
    out = []

    def timed(kind, setting, df, fn):
        best = None
        for _ in range(reps):
            with measure() as m:
                fn(df)
            best = m if best is None or m.seconds < best.seconds else best
        n = df["patient_id"].nunique()
        out.append({"experiment": kind, "setting": setting, "reports": n, "passages": _passages(df),
                    "seconds": round(best.seconds, 3), "seconds per report": round(best.seconds / n, 3),
                    "peak RSS (GiB)": round(best.peak_rss_gb, 3)})

    def ours(batch):
        return lambda df: inference.predict(model, tokenizer, df, cfg.max_new_tokens, batch, desc="extraction", **kw)

    ours(cfg.eval_batch_size)(subset[1])  # warm-up: one-off allocations, not timed
    jobs = ([("reports", k) for k in report_counts if k <= len(patients)] + [("batch size", b) for b in batch_sizes]
            + [("one report at a time", i) for i in range(min(max(report_counts), len(patients)))])
    for kind, setting in tqdm(jobs, desc="extraction cost"):
        if kind == "reports":
            timed(kind, setting, subset[setting], ours(cfg.eval_batch_size))
        elif kind == "batch size":
            timed(kind, setting, subset[min(max(report_counts), len(patients))], ours(setting))
        else:
            timed(kind, f"report {setting + 1}", rows[rows["patient_id"] == patients[setting]],
                  ours(cfg.eval_batch_size))
    if reference_reports:
        ref = compare_with_reference(model, tokenizer, subset[min(reference_reports, len(patients))],
                                     cfg.eval_batch_size, reps=1)
        for kind, key in (("reference loop", "reference_s"), ("ours, free decoding", "ours_s")):
            n = ref["reports"]
            out.append({"experiment": kind, "setting": "batch 1, no reuse" if kind.startswith("ref") else
                        f"batch {cfg.eval_batch_size}", "reports": n,
                        "passages": _passages(subset[n]), "seconds": min(ref[key]),
                        "seconds per report": round(min(ref[key]) / n, 3), "peak RSS (GiB)": ref["peak_rss_gb"],
                        "answers as ours": f"{round(ref['match_rate'] * ref['instances'])}/{ref['instances']}"})
    one = subset[min(2, len(patients))]
    for width in hidden_sizes:  # the reading pass alone: what model size does to the part every passage pays
        c = dataclasses.replace(cfg, hidden_size=width, intermediate_size=3 * width)
        m = modeling.build_small_model(c, tokenizer).eval()
        pairs = dict(pp for r in one.to_dict("records") if r["task"] == "phenotype_extraction"
                     for pp in inference.sentence_prompt_passages(r))  # prompt -> its passage, in order
        prompts = list(pairs)
        prefixes = [inference.passage_prefix(p, t) for p, t in pairs.items()]
        timed("model size (reading pass)", f"{modeling.count_parameters(m)['total'] / 1e6:.2f}M", one,
              lambda df, m=m, prompts=prompts, prefixes=prefixes:
              inference.first_tokens_shared(m, tokenizer, prompts, prefixes, cfg.eval_batch_size))
    return pd.DataFrame(out)


def _most_reports(costs: pd.DataFrame | None):
    """The ``extraction_costs`` row of the most reports extracted together (the per-report rate a batch job
    gets), or None when there is none."""
    rep = costs[costs["experiment"] == "reports"] if costs is not None and len(costs) else None
    return None if rep is None or rep.empty else rep.loc[rep["reports"].idxmax()]


def extraction_summary(costs: pd.DataFrame, hardware: str, n_reports: int = 10_000) -> str:
    """The per-report cost in words (measured here), the speed-up over the reference's loop with its answer
    agreement, and what `n_reports` reports would take on one process of this machine at that rate."""
    if costs is None or costs.empty:
        return "Extraction cost was not measured in this run."
    best = _most_reports(costs)
    best = costs.iloc[0] if best is None else best
    per = float(best["seconds per report"])
    text = (f"Extracting every phenotype field and the diagnosis took **{per:.2f} s per report** with this run's "
            f"model ({int(best['reports'])} reports together, {hardware}, measured here); at that rate "
            f"{n_reports:,} reports take **{per * n_reports / 3600:.1f} h** on one such process.")
    ref = costs[costs["experiment"] == "reference loop"]
    ours = costs[costs["experiment"] == "ours, free decoding"]
    if len(ref) and len(ours):
        r, o = ref.iloc[0], ours.iloc[0]
        text += (f" The reference's way (every prompt on its own, batch 1) took {r['seconds per report']:.2f} s per report, "
                 f"**{r['seconds'] / max(o['seconds'], 1e-9):.1f}×** ours on the same {int(r['reports'])} reports "
                 f"(free decoding both ways; answers identical on {r['answers as ours']} instances).")
    return text


def extraction_per_arm(cfg, rows: pd.DataFrame) -> pd.DataFrame:
    """Every tuned arm (``config.arm_names``: the ablation, then external `arms`) extracting the same reports
    (`rows`, ``report_instances``) with the run's reading settings: parameters, seconds, seconds per report and
    peak memory (RSS; GPU memory too when on a GPU), after a one-report warm-up. One row per arm."""
    from .. import inference, pipeline
    from ..config import arm_names
    from ..modeling import count_parameters

    kw, out = pipeline.reading(cfg), []
    first = rows[rows["patient_id"] == rows["patient_id"].iloc[0]]
    n = rows["patient_id"].nunique()
    for name in tqdm(arm_names(cfg), desc="extraction per model"):
        model, tokenizer = pipeline.load_tuned(cfg, name)
        inference.predict(model, tokenizer, first, cfg.max_new_tokens, cfg.eval_batch_size, desc="warm-up", **kw)
        with measure() as m:
            inference.predict(model, tokenizer, rows, cfg.max_new_tokens, cfg.eval_batch_size, desc=name, **kw)
        row = {"model": name, "parameters": count_parameters(model)["total"], "reports": n,
               "seconds": round(m.seconds, 3), "seconds per report": round(m.seconds / n, 3),
               "peak RSS (GiB)": round(m.peak_rss_gb, 3)}
        if m.peak_gpu_gb is not None:
            row["peak GPU memory (GiB)"] = round(m.peak_gpu_gb, 3)
        out.append(row)
        del model
    return pd.DataFrame(out).set_index("model")


#: the lent GPU's extraction measurement (benchmarks/gpu_reading.py), committed with the repository
GPU_EXTRACTION_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "results_gpu_h200_reading.json"


def year_of_reports(costs: pd.DataFrame, hardware: str, n_reports: int, workers: int = 8,
                    gpu_file: Path | None = GPU_EXTRACTION_FILE) -> pd.DataFrame:
    """What extracting `n_reports` reports (every phenotype field and the diagnosis) costs on one worker and on
    `workers` workers: this machine at the per-report rate measured in this run (``extraction_costs``, the most
    reports together), and — when `gpu_file` exists — the rate measured on a lent GPU by
    benchmarks/gpu_reading.py (its slowest tuned model). The many-worker column is a projection, not a
    measurement: reports are independent and ``python -m cancerllm extract`` under ``accelerate launch`` splits
    them evenly between processes (tested with 2 CPU processes), so it is the one-worker time divided by
    `workers`; start-up and an uneven split would add to it. One row per machine (chapter 50 shows it
    transposed, a column per machine); without `gpu_file` (a package installed away from the repository) only
    this machine's."""
    rows, best = [], _most_reports(costs)
    if best is not None:
        rows.append({"machine": hardware, "model": "this run's cancer_cpt",
                     "measured": f"this run, {int(best['reports'])} reports",
                     "seconds per report": float(best["seconds per report"])})
    if gpu_file is not None and Path(gpu_file).is_file():
        gpu = json.loads(Path(gpu_file).read_text(encoding="utf-8"))
        arms = gpu.get("phases", {}).get("extraction", {})
        if arms:
            slowest = max(arms.values(), key=lambda a: a["seconds_per_report"])
            rows.append({"machine": f"{gpu['device']} (lent GPU)",
                         "model": f"demo recipe, {gpu['model_parameters'] / 1e6:.1f}M, bf16",
                         "measured": f"gpu_reading.py, {slowest['reports']} reports",
                         "seconds per report": float(slowest["seconds_per_report"])})
    out = pd.DataFrame(rows, columns=["machine", "model", "measured", "seconds per report"])
    out[f"hours for {n_reports:,} reports, 1 worker"] = (out["seconds per report"] * n_reports / 3600).round(2)
    out[f"hours, {workers} workers (projected)"] = (out["seconds per report"] * n_reports / 3600 / workers).round(2)
    return out.set_index("machine")
