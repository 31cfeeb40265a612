"""Instruction data for both tasks, in the reference's instruction / context / response form and its
Alpaca-style template (the same template at training and inference).

- phenotype extraction: one question per phenotype field, answered with the gold value or NOT_MENTIONED;
- diagnosis generation: the patient's clinical note(s) in, the diagnosis text out (several joined by ", ").

TRL appends EOS to every completion, which fixes the reference's missing-EOS bug (its model never learned to
stop); tests/test_training.py checks that the tokenised example ends with EOS.
Used in notebooks/20_instruction_tuning.ipynb and notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data.schema import Cohort

TEMPLATE = ("Below is an instruction that describes a task, paired with an input that provides further context.\n\n"
            "### Instruction:\n{instruction}\n\n### Input:\n{context}\n\n### Response:\n")
RESPONSE_MARKER = "### Response:"
PHENOTYPE_INSTRUCTION = "You are an excellent linguist. The task is to answer the question by given the context or text"
DIAGNOSIS_INSTRUCTION = ("You are a medical expert. This task involves generating the diagnosis based on the provided "
                         "context or text.")
QUESTIONS = {
    "tumor_site": "What is the tumor site in the given context?",
    "tumor_size": "What is the tumor size in the given context?",
    "histologic_type": "What is the histologic type in the given context?",
    "grade": "What is the tumor grade in the given context?",
    "t_stage": "What is the pathologic T stage in the given context?",
    "n_stage": "What is the pathologic N stage in the given context?",
    "m_stage": "What is the pathologic M stage in the given context?",
    "biomarker_status": "What is the biomarker or receptor status in the given context?",
}
TASKS = ["phenotype_extraction", "diagnosis_generation"]
INPUT_PREFIX = "In the text: "  # opens a phenotype row's input (join_input)


def split_answers(response: str) -> list[str]:
    """The reference's post-processing: split on commas, strip, drop empties."""
    return [a.strip() for a in str(response).split(",") if a.strip()]


def _fit(tokenizer, text: str, budget: int) -> str:
    """Keep the start of `text` within `budget` tokens (no tokenizer → no truncation)."""
    if tokenizer is None:
        return text
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= budget else tokenizer.decode(ids[:budget])


def build_instructions(cohort: Cohort, split: str, tokenizer=None, max_length: int = 4000,
                       answer_tokens: int = 50) -> pd.DataFrame:
    """All instruction examples of one split, both tasks. Returns one row per example with columns
    id, patient_id, cancer_type, task, field, instruction, context, response, answers, prompt, completion.

    Phenotype questions are asked of the pathology report (or of all the patient's notes when there is none);
    diagnosis is generated from the clinical note(s) (or the report, for report-only sources like TCGA).
    Contexts are cut to fit `max_length` tokens with room for a `answer_tokens`-token answer.
    """
    labels = cohort.labels[cohort.labels["split"] == split].set_index("patient_id")
    notes = cohort.notes[cohort.notes["split"] == split]
    rows = []
    for pid, grp in notes.groupby("patient_id", sort=True):
        if pid not in labels.index:
            continue
        lab = labels.loc[pid]
        reports = grp.loc[grp["note_type"] == "pathology_report", "text"].tolist()
        clinical = grp.loc[grp["note_type"] == "clinical_note", "text"].tolist()
        report_text = "\n\n".join(reports or grp["text"].tolist())
        clinical_text = "\n\n".join(clinical or reports)
        for fld in cohort.fields:
            gold = lab[fld]
            if gold is None or (isinstance(gold, float) and np.isnan(gold)):
                continue  # no label: not an instance
            rows.append(_example(tokenizer, max_length, answer_tokens, pid, lab, "phenotype_extraction", fld,
                                 PHENOTYPE_INSTRUCTION, report_text, QUESTIONS[fld], str(gold)))
        if isinstance(lab["diagnosis"], str) and lab["diagnosis"]:
            rows.append(_example(tokenizer, max_length, answer_tokens, pid, lab, "diagnosis_generation", "diagnosis",
                                 DIAGNOSIS_INSTRUCTION, clinical_text, "", lab["diagnosis"]))
    return pd.DataFrame(rows)


def _example(tokenizer, max_length, answer_tokens, pid, lab, task, fld, instruction, text, question, response):
    frame = TEMPLATE.format(instruction=instruction, context=join_input("", question))
    overhead = len(tokenizer(frame)["input_ids"]) if tokenizer is not None else 0
    body = _fit(tokenizer, text, max(16, max_length - overhead - answer_tokens))
    context = join_input(body, question)
    return {
        "id": f"{pid}:{fld}", "patient_id": pid, "cancer_type": lab["cancer_type"], "task": task, "field": fld,
        "instruction": instruction, "context": context, "response": response, "answers": split_answers(response),
        "prompt": TEMPLATE.format(instruction=instruction, context=context), "completion": response,
    }


# The input (``context``) of an example is framed by ``join_input`` and unframed by ``split_input``; the
# robustness testbeds (which edit the note body) and retrieval (which indexes it) rely on the pair.
def join_input(body: str, question: str = "") -> str:
    """An example's input: "In the text: {body} {question}" for a phenotype question, the body itself for
    diagnosis (no question). ``_example`` builds every context with it."""
    return f"{INPUT_PREFIX}{body} {question}" if question else body


def split_input(context: str, field: str) -> tuple[str, str]:
    """(body, question) of an example's input, the question being ``QUESTIONS[field]`` ("" for diagnosis).
    The exact inverse of ``join_input``: ``join_input(*split_input(c, f)) == c`` for every context
    ``build_instructions`` makes. A hand-made context is read leniently (prefix optional, spaces around the
    question dropped)."""
    s = str(context)
    question = QUESTIONS.get(field, "")
    if not question:
        return s, ""
    if s.startswith(INPUT_PREFIX) and s.endswith(" " + question):
        return s[len(INPUT_PREFIX):-len(question) - 1], question
    body = (s[len(INPUT_PREFIX):] if s.startswith(INPUT_PREFIX) else s).rstrip()
    return (body[:-len(question)].rstrip(), question) if body.endswith(question) else (body, question)


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
