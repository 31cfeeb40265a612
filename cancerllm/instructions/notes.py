"""Note-level instances, both tasks — what every system is scored on (``build_instructions``) — and the
tuning-set helpers ``section_views`` and ``cap_examples``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..data.schema import QUESTIONS, Cohort, split_answers
from .segments import diagnosis_text
from .templates import DIAGNOSIS_INSTRUCTION, PHENOTYPE_INSTRUCTION, join_input, render


def _fit(tokenizer, text: str, budget: int) -> str:
    """Keep the start of `text` within `budget` tokens (no tokenizer → no truncation)."""
    if tokenizer is None:
        return text
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= budget else tokenizer.decode(ids[:budget])


def build_instructions(cohort: Cohort, split: str, tokenizer=None, max_length: int = 4000,
                       answer_tokens: int = 50, style: str = "alpaca") -> pd.DataFrame:
    """Note-level instances of one split, both tasks — what every system is scored on. One row per instance
    with columns id, patient_id, cancer_type, task, field, instruction, context, response, answers, prompt,
    completion, style.

    Phenotype questions are asked of the whole pathology report (or of all the patient's notes when there is
    none), never cut: the language models answer them sentence by sentence (``sentence_examples``,
    ``inference.predict``), the baselines read the whole note. Diagnosis is generated from the diagnosis-bearing
    sections of the clinical note(s) (``diagnosis_text``; the report for report-only sources like TCGA), cut
    to fit `max_length` tokens with room for an `answer_tokens`-token answer.
    """
    rows = []
    for pid, lab, report_text, clinical_text, _ in _patients(cohort, split):
        for fld in cohort.fields:
            gold = lab[fld]
            if gold is None or (isinstance(gold, float) and np.isnan(gold)):
                continue  # no label: not an instance
            rows.append(_row(pid, lab, "phenotype_extraction", fld, PHENOTYPE_INSTRUCTION,
                             join_input(report_text, QUESTIONS[fld]), str(gold), style))
        if isinstance(lab["diagnosis"], str) and lab["diagnosis"]:
            rows.append(_diagnosis_row(tokenizer, max_length, answer_tokens, pid, lab, clinical_text, style))
    return pd.DataFrame(rows)


def _patients(cohort: Cohort, split: str):
    """(patient_id, label row, report text, diagnosis text, evidence marks) per labelled patient of a split. The
    marks are the generator's evidence spans, (start, end, field) in report-text offsets, or None when the cohort
    has none (real text)."""
    labels = cohort.labels[cohort.labels["split"] == split].set_index("patient_id")
    notes = cohort.notes[cohort.notes["split"] == split]
    for pid, grp in notes.groupby("patient_id", sort=True):
        if pid not in labels.index:
            continue
        is_report = grp["note_type"] == "pathology_report"
        reports = grp.loc[is_report, "text"].tolist()
        clinical = grp.loc[grp["note_type"] == "clinical_note", "text"].tolist()
        report_ids = grp.loc[is_report, "note_id"].tolist() if reports else grp["note_id"].tolist()
        report_texts = reports or grp["text"].tolist()
        report_text = "\n\n".join(report_texts)
        clinical_text = "\n\n".join(diagnosis_text(t) for t in (clinical or reports))
        marks = None
        if cohort.evidence is not None:
            marks, offset = [], 0
            for nid, t in zip(report_ids, report_texts):  # report_text joins the notes with "\n\n"
                marks += [(offset + a, offset + b, f) for a, b, f in cohort.evidence.get(nid, ())]
                offset += len(t) + 2
        yield pid, labels.loc[pid], report_text, clinical_text, marks


def _row(pid, lab, task, fld, instruction, context, response, style, rid=None):
    return {"id": rid or f"{pid}:{fld}", "patient_id": pid, "cancer_type": lab["cancer_type"], "task": task,
            "field": fld, "instruction": instruction, "context": context, "response": response,
            "answers": split_answers(response), "prompt": render(instruction, context, style), "completion": response,
            "style": style}


def _diagnosis_row(tokenizer, max_length, answer_tokens, pid, lab, text, style):
    overhead = len(tokenizer(render(DIAGNOSIS_INSTRUCTION, "", style))["input_ids"]) if tokenizer is not None else 0
    body = _fit(tokenizer, text, max(16, max_length - overhead - answer_tokens))
    return _row(pid, lab, "diagnosis_generation", "diagnosis", DIAGNOSIS_INSTRUCTION, body, lab["diagnosis"], style)


def section_views(examples: pd.DataFrame, style: str = "alpaca", seed: int = 42) -> pd.DataFrame:
    """Extra tuning examples for diagnosis generation (ours, not the paper's): per example whose input has two or
    more blank-line-separated sections, each section alone and all of them in one shuffled order, with the same
    label. A small model tuned on whole inputs keys on the order and wording of the whole note and memorises
    (benchmarks/probe_diagnosis.py: demo test F1 40.1 on inputs only, 56.2 with the views); seeing the site words
    alone and moved makes it read them. Returns only the new rows (ids suffixed ``#view<k>``)."""
    rng = np.random.default_rng(seed)
    extra = []
    for r in examples.to_dict("records"):
        sections = [p for p in re.split(r"\n\s*\n", r["context"]) if p.strip()]
        if len(sections) < 2:
            continue
        shuffled = [sections[i] for i in rng.permutation(len(sections))]
        for k, body in enumerate(sections + ["\n\n".join(shuffled)]):
            extra.append({**r, "id": f"{r['id']}#view{k}", "context": body,
                          "prompt": render(r["instruction"], body, style)})
    return pd.DataFrame(extra, columns=examples.columns)


def cap_examples(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most `n` examples (n = -1: all), sampled evenly across tasks and fields, in a seeded order."""
    if n == -1 or len(df) <= n:
        return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    groups = df.groupby("field", sort=True)
    per = max(1, n // groups.ngroups)
    parts = [g.sample(min(len(g), per), random_state=seed) for _, g in groups]
    out = pd.concat(parts)
    if len(out) < n:
        out = pd.concat([out, df.drop(out.index).sample(n - len(out), random_state=seed)])
    return out.head(n).sample(frac=1.0, random_state=seed).reset_index(drop=True)
