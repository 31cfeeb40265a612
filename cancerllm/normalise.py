"""From the phrase a language model copies out of a sentence to the label vocabulary (our design).

The paper's phenotype extraction is sentence-level QA answered with *the phrase* ("What is the tumor size in
the given context?" -> "2.5"), while our gold labels are note-level canonical values ("2.6 cm", "T2",
"grade 2"). So the language models are tuned to copy the phrase as written ("26 mm", "pT2a",
"Gleason 3+4=7", "LOQ of the left breast") and ``AnswerNormaliser`` writes each copied phrase in the label
vocabulary before ``inference.assemble`` votes across sentences:

1. the rule baseline's extractors read *the phrase only* (never the note): TNM components, grade (Gleason,
   Nottingham, roman, "G2", differentiation), the largest dimension in cm, canonical site, histology
   keyword, biomarker statuses; a phrase no extractor reads is kept as it is;
2. what an extractor returns is mapped to the most common gold label it had in the tuning data (``fit``:
   "ductal carcinoma" -> "invasive ductal carcinoma" in one cohort, grade 2 -> "G2" in TCGA);
3. biomarker status is the one field whose note-level value is spread over sentences ("ER positive." ...
   "HER2 negative (IHC 1+)."): its phrases are merged (``merge``: every marker once, in the label order)
   instead of voted on;
4. a histology keyword is spelled in the label vocabulary *given the note's diagnosis* where one is known
   (``CONTEXT_FIELDS``): real labels name the organ ("Lung Adenocarcinoma", "Colon Adenocarcinoma", "Prostate
   Adenocarcinoma Acinar Type" are all the copied phrase "adenocarcinoma"; TCGA's five adenocarcinoma organs are
   a fifth of its reports), so the map is learned per (keyword, diagnosis) and per (keyword, organ of the
   diagnosis), backing off to the keyword alone. At fitting the diagnosis is the note's gold; when a model
   answers it is *that model's own* diagnosis of the note (``inference.predict``, when the call holds the
   note's diagnosis question), never the gold;
5. for TNM and grade (``READ_FIELDS``), whose every value the reader reads, a phrase it reads nothing in states
   no value (``states_value``): the passage counts as not relevant in the vote.

The normaliser never sees the note, the question's gold or the passage the phrase came from, so which value
is answered is the model's reading; the normaliser only decides how that value is spelled. T is never
inferred from a size, nor N from a node count, here (the rule baseline does both when it reads a note).
Used by ``inference.predict`` (every LM answer in chapters 30, 40 and 60) and fitted by
``pipeline.answer_normaliser``.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from .baselines.biomarkers import extract_biomarkers
from .baselines.histology import extract_histology
from .baselines.sites import extract_organ, extract_site
from .baselines.staging import extract_grade, extract_tnm, extract_tumor_size
from .data.schema import NOT_MENTIONED

#: fields whose passages are merged, not voted on (see the module docstring)
MERGED = frozenset({"biomarker_status"})
#: fields whose phrase is spelled given the note's diagnosis (see the module docstring)
CONTEXT_FIELDS = frozenset({"histologic_type"})
#: fields whose every value a reader reads (TNM components, grade): a phrase it cannot read states no value
READ_FIELDS = frozenset({"t_stage", "n_stage", "m_stage", "grade"})


def diagnosis_contexts(diagnosis: str | None) -> list[str]:
    """The contexts a phrase of a CONTEXT_FIELDS field is spelled in, most specific first: the diagnosis as
    written (lower-cased), then the organ it names (``baselines.sites.extract_organ``); none without one."""
    text = str(diagnosis).strip() if diagnosis else ""
    if not text:
        return []
    organ = extract_organ(text)
    return [f"diagnosis: {text.lower()}"] + ([f"organ: {organ}"] if organ else [])


def note_diagnoses(examples: pd.DataFrame) -> dict[str, str]:
    """patient_id -> the gold diagnosis of the note, from the diagnosis rows of `examples` (tuning or
    note-level instances); empty when they have no patient_id column."""
    if "patient_id" not in examples.columns or "task" not in examples.columns:
        return {}
    dx = examples[examples["task"] == "diagnosis_generation"]
    return {pid: str(r) for pid, r in zip(dx["patient_id"], dx["response"]) if isinstance(r, str) and r}


def read_phrase(field: str, phrase: str) -> str | None:
    """What the rule extractors read in one copied phrase, as a key ("T2", "grade 2", "2.6 cm", a canonical
    site or histology, "ER positive, PR negative"), or None when none of them reads it."""
    if field in ("t_stage", "n_stage", "m_stage"):
        return extract_tnm(phrase).get(field[0].upper())
    if field == "grade":
        g = extract_grade(phrase)
        return None if g is None else f"grade {g}"
    if field == "tumor_size":
        return extract_tumor_size(phrase)
    if field == "tumor_site":
        return extract_site(phrase)
    if field == "histologic_type":
        return extract_histology(phrase)
    if field == "biomarker_status":
        return extract_biomarkers(phrase)
    return None


class AnswerNormaliser:
    """``normaliser(field, phrase)`` -> the label; see the module docstring. ``fit`` learns the key -> gold
    label map from tuning examples (columns field, response = the copied phrase, gold = the note's label)."""

    def __init__(self):
        self.labels: dict[str, dict[str, str]] = {}
        self.in_context: dict[str, dict[tuple[str, str], str]] = {}

    def fit(self, examples: pd.DataFrame) -> AnswerNormaliser:
        counts: dict[str, dict[str, Counter]] = {}
        in_context: dict[str, dict[tuple[str, str], Counter]] = {}
        if "gold" not in examples.columns:
            return self
        dx = note_diagnoses(examples)
        pos = examples[examples["gold"].notna() & (examples["task"] == "phenotype_extraction")]
        pids = pos["patient_id"] if "patient_id" in pos.columns else [None] * len(pos)
        for fld, phrase, gold, pid in zip(pos["field"], pos["response"].astype(str), pos["gold"].astype(str), pids):
            if gold == NOT_MENTIONED or fld in MERGED:
                continue
            key = (read_phrase(fld, phrase) or phrase).lower()
            counts.setdefault(fld, {}).setdefault(key, Counter())[gold] += 1
            if fld in CONTEXT_FIELDS:
                for ctx in diagnosis_contexts(dx.get(pid)):
                    in_context.setdefault(fld, {}).setdefault((key, ctx), Counter())[gold] += 1

        def most_common(c: Counter) -> str:  # ties to the alphabetically first, so a refit gives the same map
            return min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]

        self.labels = {f: {k: most_common(c) for k, c in m.items()} for f, m in counts.items()}
        self.in_context = {f: {k: most_common(c) for k, c in m.items()} for f, m in in_context.items()}
        return self

    def __call__(self, field: str, phrase: str, diagnosis: str | None = None) -> str:
        """`phrase` in the label vocabulary; for a CONTEXT_FIELDS field, given the note's `diagnosis` when known
        (the most specific context seen in fitting wins)."""
        read = read_phrase(field, phrase) or phrase
        key = read.lower()
        by_context = self.in_context.get(field, {})
        for ctx in diagnosis_contexts(diagnosis) if by_context else ():
            if (key, ctx) in by_context:
                return by_context[key, ctx]
        return self.labels.get(field, {}).get(key, read)

    @staticmethod
    def merge(field: str, phrases: list[str]) -> str:
        """The note-level value of a MERGED field from all its passages' phrases: what the extractor reads in
        them together ("ER positive, PR positive, HER2 negative"), else the distinct phrases joined."""
        return read_phrase(field, "; ".join(phrases)) or ", ".join(dict.fromkeys(phrases))

    @staticmethod
    def states_value(field: str, phrase: str) -> bool:
        """Whether `phrase` can be a value of `field`: always, except for a READ_FIELDS field whose reader reads
        nothing in it (a copied header such as "FUHRMAN NUCLEAR GRADE IS" or "Histologic grade", whose value sits
        in the next passage). ``inference.predict`` counts such a passage as not relevant in the vote (ours)."""
        return field not in READ_FIELDS or read_phrase(field, phrase) is not None

    def changed_share(self, field: str, phrases: list[str]) -> float:
        """Share of `phrases` the normaliser rewrites (shown in the book: how much of an answer is spelling)."""
        return sum(self(field, p) != p for p in phrases) / max(len(phrases), 1)


def spelling_table(examples: pd.DataFrame, normaliser: AnswerNormaliser) -> pd.DataFrame:
    """Per field, over the tuning examples' answered passages (copied phrase + the note's label): how many,
    how many distinct phrases and labels, the share of phrases the normaliser rewrites, and the share it
    writes back as the note's label (its fidelity; biomarker phrases are merged per note, not mapped one by
    one, so they are scored per note). Shown in chapter 20 (Table 1c): one row per field, indexed by "field"
    (so the book shows field names, not a 0..n row number)."""
    if "gold" not in examples.columns:
        return pd.DataFrame(columns=["field", "phrases", "distinct phrases", "distinct labels", "rewritten %",
                                     "back to label %"]).set_index("field")
    pos = examples[examples["gold"].notna() & (examples["task"] == "phenotype_extraction")
                   & (examples["gold"].astype(str) != NOT_MENTIONED)]
    dx = note_diagnoses(examples)  # histology is spelled given the note's (gold) diagnosis, as in fitting
    rows = []
    for fld, grp in pos.groupby("field", sort=False):
        phrases, gold = grp["response"].astype(str).tolist(), grp["gold"].astype(str).tolist()
        if fld in MERGED:
            notes = grp.assign(_p=grp["id"].str.rsplit(":", n=1).str[0]).groupby("_p")
            back = [normaliser.merge(fld, g["response"].astype(str).tolist()).lower() == g["gold"].iloc[0].lower()
                    for _, g in notes]
        else:
            pids = grp["patient_id"] if "patient_id" in grp.columns else [None] * len(grp)
            back = [normaliser(fld, p, dx.get(pid)).lower() == g.lower() for p, g, pid in zip(phrases, gold, pids)]
        rows.append({"field": fld, "phrases": len(phrases), "distinct phrases": len(set(phrases)),
                     "distinct labels": len(set(gold)),
                     "rewritten %": round(100 * normaliser.changed_share(fld, phrases), 1),
                     "back to label %": round(100 * sum(back) / max(len(back), 1), 1)})
    return pd.DataFrame(rows).set_index("field")
