"""The paper's sentence-level QA as training / dev examples (``sentence_examples``), and the answerable-instruction
invariant (``answerability``, ``unanswerable_ids``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.schema import NOT_MENTIONED, QUESTIONS, Cohort
from ..normalise import read_phrase
from .evidence import evidence_passages, evidence_phrase
from .notes import _patients, _row
from .segments import passage_texts, passages
from .templates import NOT_RELEVANT, PHENOTYPE_INSTRUCTION, join_input


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
            # real text: a passage that states a value of this field without being its evidence (the registry's
            # label and the report disagree, or the value is written in a form the evidence finder misses) is
            # no example of "not relevant" for it: left out of this field's negatives
            neg = [k for k, t in enumerate(texts) if not pos[k] and (marks is not None or read_phrase(fld, t) is None)]
            hard = [k for k in neg if any_evidence[k]]
            easy = [k for k in neg if not any_evidence[k]]
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
