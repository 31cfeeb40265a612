"""Instruction data for both tasks, in the reference's instruction / context / response form and its
Alpaca-style template (the same template at training and inference).

- phenotype extraction: one question per phenotype field, answered with the gold value or NOT_MENTIONED;
- diagnosis generation: the patient's clinical note(s) in, the diagnosis text out (several joined by ", ").

TRL appends EOS to every completion, which fixes the reference's missing-EOS bug (its model never learned to
stop); tests/test_training.py checks that the tokenised example ends with EOS.
Used in notebooks/20_instruction_tuning.ipynb and notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .data.schema import NOT_MENTIONED, Cohort

TEMPLATE = ("Below is an instruction that describes a task, paired with an input that provides further context.\n\n"
            "### Instruction:\n{instruction}\n\n### Input:\n{context}\n\n### Response:\n")
SHORT_TEMPLATE = "### Input:\n{context}\n\n### Response:\n"
TEMPLATES = {"alpaca": TEMPLATE, "short": SHORT_TEMPLATE}
RESPONSE_MARKER = "### Response:"
#: a passage's answer when it does not state the asked-for field (the paper: "a reply saying the question is not
#: relevant"; its exact string is not public)
NOT_RELEVANT = "not relevant"
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


def frame_texts(repeat: int = 100) -> list[str]:
    """The fixed text of every prompt (templates, instructions, questions, the two stock answers), `repeat`
    times: added to the BPE tokenizer's training text so that the frame costs a few tokens, not one per letter
    (with the notes alone, "not relevant" was 6 tokens and the short frame plus a question ~40)."""
    fixed = [TEMPLATES[s].format(instruction=i, context=join_input("", q) if q else "")
             for s in TEMPLATES for i, q in [(PHENOTYPE_INSTRUCTION, q) for q in QUESTIONS.values()]
             + [(DIAGNOSIS_INSTRUCTION, "")]]
    fixed += [f"{NOT_RELEVANT}\n{NOT_MENTIONED}"]
    return fixed * repeat


def split_answers(response: str) -> list[str]:
    """The reference's post-processing: split on commas, strip, drop empties."""
    return [a.strip() for a in str(response).split(",") if a.strip()]


def _fit(tokenizer, text: str, budget: int) -> str:
    """Keep the start of `text` within `budget` tokens (no tokenizer → no truncation)."""
    if tokenizer is None:
        return text
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= budget else tokenizer.decode(ids[:budget])


def render(instruction: str, context: str, style: str = "alpaca") -> str:
    """The prompt of one example: the reference's Alpaca template (``alpaca``), or ``short`` — the same input and
    response marker without the 40-word Alpaca preamble (the CPU demo's choice: its prompts are one sentence
    long, and the preamble would be ~3/4 of every training and inference token)."""
    return TEMPLATES[style].format(instruction=instruction, context=context)


def passages(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentence-level passages of a note, in order: every line, split
    further at sentence ends (". " or "; " after two lower-case letters or digits, before a capital: "A." and
    "Dr." do not end a sentence); a header line that ends in ":" or "-" is joined
    to the line after it. Used for the paper's sentence-level QA (phenotype extraction)."""
    out: list[list[int]] = []
    pending = None
    for m in re.finditer(r"[^\n]+", text):
        line_start = m.start()
        pieces = [(line_start + a.start(), line_start + a.end()) for a in re.finditer(r"\S(?:.*?\S)?(?=(?<=[a-z0-9)%]{2}[.;])\s+(?=[A-Z(])|\s*$)", m[0])]
        for a, b in pieces:
            if pending is not None:
                a, pending = pending, None
            if text[a:b].endswith((":", " -")) and b - a < 48:
                pending = a  # a header: carried into the next passage
                continue
            out.append([a, b])
    if pending is not None:
        out.append([pending, len(text.rstrip())])
    return [(a, b) for a, b in out]


def passage_texts(text: str, bounds: list[tuple[int, int]] | None = None) -> list[str]:
    """The passages of `text` as strings (whitespace collapsed); `bounds` = ``passages(text)`` when the caller
    already has them."""
    return [" ".join(text[a:b].split()) for a, b in (passages(text) if bounds is None else bounds)]


#: the headers of the clinical-note sections that carry the diagnosis (the reference's input lists reason for
#: visit, treatment site, ... ; the assessment states the diagnosis)
DIAGNOSIS_SECTIONS = re.compile(r"^\s*(reason for visit|cc|chief complaint|treatment site|tx site|site of treatment|"
                                r"assessment( and plan)?|assessment/plan|a/p|impression( and plan)?|diagnosis|"
                                r"final diagnosis)\b", re.I)


def diagnosis_text(text: str) -> str:
    """The diagnosis-bearing sections of a note (paragraphs that open with a DIAGNOSIS_SECTIONS header), in
    order; the whole note when it has none (a pathology report, a custom note)."""
    keep = [p.strip() for p in re.split(r"\n\s*\n", text) if DIAGNOSIS_SECTIONS.match(p)]
    return "\n\n".join(keep) if keep else text


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


def evidence_passages(bounds: list[tuple[int, int]], marks: list | None, report_text: str, fld: str,
                      gold: str) -> list[bool]:
    """Which passages (`bounds` = ``passages(report_text)``) state the gold value of `fld`: from the generator's
    evidence `marks` when there are any (synthetic, see ``_patients``), else found by the value itself (TNM
    category and number; otherwise the gold text, case-insensitive). One flag per passage."""
    if gold == NOT_MENTIONED:
        return [False] * len(bounds)
    if marks is not None:
        spans = [(a, b) for a, b, f in marks if f == fld]
        return [any(a < e and s < b for s, e in spans) for a, b in bounds]
    return [_states(report_text[a:b], fld, gold) for a, b in bounds]


def _states(passage: str, fld: str, gold: str) -> bool:
    return _stated_phrase(passage, fld, gold) is not None


#: clauses of a passage, for the fields whose value real reports write in words (grade, histology)
_CLAUSE = re.compile(r"[^.;,\n]+")
_MAX_CLAUSE_WORDS = 12  # a longer clause is no phrase to copy: fall back to the gold text itself


def _value_reader(fld: str, gold: str):
    """For the fields real reports write in words: a test of whether a clause states `gold`, by the rule
    baseline's reader for the field (grade: the grade number; histology: the histology keyword); None for the
    other fields, or when the reader cannot read the gold itself."""
    if fld == "grade":
        from .baselines.staging import extract_grade

        grade = re.fullmatch(r"(?:G|grade )([1-5])", gold)
        return None if grade is None else (lambda clause: str(extract_grade(clause)) == grade[1])
    if fld == "histologic_type":
        from .baselines.histology import extract_histology

        want = extract_histology(gold)
        return None if want is None else (lambda clause: extract_histology(clause) == want)
    return None


def _stated_phrase(passage: str, fld: str, gold: str) -> str | None:
    """The phrase of `passage` that states `gold`, as the passage writes it, or None. Used for real text (no
    generator marks), so it reads values the way real reports write them:

    - T/N/M: the category token with its prefix ("pT2a", "pT2N1"); a zero the OCR read as the letter O counts
      when a p/c/y/r prefix makes it a stage ("pNO", "pT3NOMX"; a bare "NO" is the word);
    - grade ("G2" or "grade 2"): the first clause the rule baseline's grade reader reads as that grade
      ("moderately differentiated", "Fuhrman grade 2/4", "Nottingham grade 2"), without a "Header:" when
      the value alone still reads;
    - histology: the first clause whose histology keyword (the rule baseline's reader) is the gold's
      ("invasive ductal carcinoma" for the registry's "Infiltrating Ductal Carcinoma");
    - otherwise, and as the fall-back, the gold text itself (case-insensitive).

    The readers are the ones ``normalise.AnswerNormaliser`` uses, so a phrase found here is one the normaliser
    writes back as a value of the gold's kind."""
    m = re.fullmatch(r"([TNM])([0-4]|X|is)", gold) if fld in ("t_stage", "n_stage", "m_stage") else None
    if m:
        hit = re.search(rf"(?<![A-Za-z0-9])[pcyr]?(?:T\w*N\w*)?{m[1]}{m[2]}[a-d]?(?![0-9])", passage)
        if hit is None and m[2] == "0":
            from .baselines.staging import extract_tnm

            ocr = re.search(rf"(?<![A-Za-z0-9])[pcyr](?:T\w*?)?(?:N\w*?)?{m[1]}O(?![a-z0-9])", passage)
            hit = ocr if ocr and extract_tnm(ocr[0]).get(m[1]) == gold else None
        return hit[0] if hit else None
    reads = _value_reader(fld, gold)
    if reads is not None:
        for c in _CLAUSE.finditer(passage):
            clause = c[0].strip()
            if clause and len(clause.split()) <= _MAX_CLAUSE_WORDS and reads(clause):
                value = clause.rsplit(":", 1)[-1].strip()  # "Histologic type: Papillary carcinoma" -> the value
                return value if value and reads(value) else clause
    at = passage.lower().find(gold.lower())
    return passage[at:at + len(gold)] if at >= 0 else None


def evidence_phrase(report_text: str, bound: tuple[int, int], marks: list | None, fld: str, gold: str) -> str:
    """What a passage's answer is in the paper's sentence-level QA: the phrase that states the field, as the
    passage writes it ("26 mm", "pT2", "Gleason 3+4=7"; several marked phrases joined by ", "), from the
    generator's marks when there are any, else found by the value (``_stated_phrase``); the gold itself when
    neither finds one. ``normalise.AnswerNormaliser`` maps a phrase back to the label vocabulary."""
    a, b = bound
    if marks is not None:
        pieces = sorted((max(a, s), min(b, e)) for s, e, f in marks if f == fld and s < b and a < e)
        phrase = ", ".join(" ".join(report_text[s:e].split()) for s, e in pieces)
        return phrase or gold
    return _stated_phrase(" ".join(report_text[a:b].split()), fld, gold) or gold


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


def sentence_examples(cohort: Cohort, split: str, style: str = "alpaca", negatives: float = 2.0,
                      seed: int = 42) -> pd.DataFrame:
    """The paper's sentence-level QA for phenotype extraction, as training / dev examples: for every labelled
    patient and field, each passage of the report that states the gold value is asked the field's question
    ("In the text: <passage> What is ...?") and answered with the phrase that states it, as written
    (``evidence_phrase``: "26 mm", not the label "2.6 cm"; column ``gold`` keeps the label); other passages
    answer NOT_RELEVANT. All positives are kept, and `negatives` x as many not-relevant passages per field
    (seeded): half of them passages that state another field's value (the hard cases), half the rest (headers,
    margins, comments — without these the model invents a value for a header line). Same columns as
    ``build_instructions`` plus ``note_id``-free ids "<patient>:<field>:s<k>"."""
    rng = np.random.default_rng([abs(seed), 7])
    rows = []
    for pid, lab, report_text, _, marks in _patients(cohort, split):
        bounds = passages(report_text)
        texts = passage_texts(report_text, bounds)
        flags = {f: evidence_passages(bounds, marks, report_text, f, str(lab[f])) for f in cohort.fields
                 if isinstance(lab[f], str)}
        any_evidence = [any(v[k] for v in flags.values()) for k in range(len(texts))]
        for fld, pos in flags.items():
            yes = [k for k, v in enumerate(pos) if v]
            hard = [k for k in range(len(texts)) if not pos[k] and any_evidence[k]]
            easy = [k for k in range(len(texts)) if not pos[k] and not any_evidence[k]]
            n_neg = round(negatives * max(len(yes), 1))
            n_hard = min(len(hard), (n_neg + 1) // 2)
            hard, easy = [int(k) for k in rng.permutation(hard)], [int(k) for k in rng.permutation(easy)]
            pick = hard[:n_hard] + easy[:n_neg - n_hard]
            pick += hard[n_hard:n_hard + max(0, n_neg - len(pick))]  # too few easy ones: more hard ones
            for k in sorted(yes + pick):
                answer = evidence_phrase(report_text, bounds[k], marks, fld, str(lab[fld])) if pos[k] else NOT_RELEVANT
                rows.append({**_row(pid, lab, "phenotype_extraction", fld, PHENOTYPE_INSTRUCTION,
                                    join_input(texts[k], QUESTIONS[fld]), answer, style, rid=f"{pid}:{fld}:s{k}"),
                             "gold": str(lab[fld]) if pos[k] else None})
    return pd.DataFrame(rows)


def _answerable_rows(cohort: Cohort, split: str | None = None):
    """(instance id, field, answerable, passages) of every phenotype instance whose gold is a value."""
    for sp in ([split] if split else ["train", "dev", "test"]):
        for pid, lab, report_text, _, marks in _patients(cohort, sp):
            bounds = passages(report_text)
            for fld in cohort.fields:
                gold = lab[fld]
                if not isinstance(gold, str) or gold == NOT_MENTIONED:
                    continue
                yield f"{pid}:{fld}", fld, any(evidence_passages(bounds, marks, report_text, fld, gold)), len(bounds)


def answerability(cohort: Cohort, split: str | None = None) -> pd.DataFrame:
    """The answerable-instruction invariant, per field: instances whose gold is a value (not NOT_MENTIONED),
    and the share of them whose value is stated in at least one passage the model is asked about
    (``evidence_passages``); plus passages per report. Used in notebooks/20_instruction_tuning.ipynb."""
    df = pd.DataFrame([r[1:] for r in _answerable_rows(cohort, split)], columns=["field", "answerable", "passages"])
    out = df.groupby("field", sort=False).agg(instances=("answerable", "size"), answerable=("answerable", "sum"))
    out["% answerable"] = (100 * out["answerable"] / out["instances"]).round(1)
    return out.reindex([f for f in cohort.fields if f in out.index])


def unanswerable_ids(cohort: Cohort, split: str) -> set[str]:
    """Ids of the split's phenotype instances whose gold value is stated in no passage of the report (real
    labels come from registry tables: some are genuinely not in the text). Chapter 30 scores without them."""
    return {rid for rid, _, ok, _ in _answerable_rows(cohort, split) if not ok}


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
    body = s.removeprefix(INPUT_PREFIX).rstrip()
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
