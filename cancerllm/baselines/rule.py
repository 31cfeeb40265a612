"""The rule baseline: ``RuleBaseline`` answers every field with the extractors of the sibling modules
(``staging``, ``histology``, ``sites``, ``biomarkers``) run over the raw note, and learns only label maps from
the training gold.

Used in notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
from tqdm.auto import tqdm

from ..data.schema import NOT_MENTIONED, split_answers
from .biomarkers import extract_biomarkers
from .histology import extract_histology
from .sites import extract_organ, extract_site
from .staging import _n_from_node_count, extract_grade, extract_tnm, extract_tumor_size, format_grade, t_from_size
from .text import _most_common, raw_note

_REMAP_FIELDS = ("t_stage", "n_stage", "m_stage", "grade")
_HISTORY_SENTENCE = re.compile(r"family history|history of|mother|father|sister|brother|remission|prior|remote", re.I)


def _current_text(text: str) -> str:
    """``text`` without sentences about family history or prior cancers (a NegEx-like history filter)."""
    parts = re.split(r"(?<=[.!?\n])\s+", text)
    return " ".join(p for p in parts if not _HISTORY_SENTENCE.search(p))


class RuleBaseline:
    """Regular expressions and keyword tables over the note (see the module docstring).

    Used in notebooks/30_evaluation.ipynb. ``fit`` learns only label maps from the training gold:

    * the grade style ("grade 2" vs "G2", plus the gold's "High Grade" label when it has one);
    * histology keyword -> most common gold histologic type, given the organ, backing off to the keyword
      alone, then to the keyword's own canonical name;
    * detected (site, organ, histology) of the note -> most common diagnosis, backing off to site, then
      (organ, histology), organ, histology (sentences about family history or prior cancers are dropped);
    * for T/N/M and grade, a rule answer outside the training gold vocabulary (TCGA's gold has M0/M1 but
      the reports write "pMX"; it stops at G4 but a Gleason 4+5 gives 5) -> the most common gold among
      the training rows that got that answer. A rule that does not fire is never remapped.

    T falls back to the AJCC size cut-offs (``t_from_size``; ``t_from_size=False`` turns that off) and N
    to the involved lymph-node count. ``predict`` never reads the gold or the cancer type.
    """

    def __init__(self, t_from_size: bool = True):
        self.t_from_size = t_from_size
        self.grade_style = "grade"
        self.high_label: str | None = None
        self.low_label: str | None = None
        self.hist_map: dict[tuple, str] = {}
        self.dx_map: dict[tuple, str] = {}
        self.remap: dict[str, dict[str, str]] = {}

    # --------------------------------------------------------------- keys
    @staticmethod
    def _hist_keys(note: str) -> list[tuple]:
        hist = extract_histology(note)
        if hist is None:
            return []
        return [("ho", hist, extract_organ(note)), ("h", hist)]

    @staticmethod
    def _dx_keys(note: str) -> list[tuple]:
        cur = _current_text(note)
        site, organ, hist = extract_site(cur), extract_organ(cur), extract_histology(cur)
        keys = []
        if organ or hist or site:
            keys.append(("soh", site, organ, hist))
        if site:
            keys.append(("s", site))
        if organ or hist:
            keys.append(("oh", organ, hist))
        if organ:
            keys.append(("o", organ))
        if hist:
            keys.append(("h", hist))
        return keys

    # --------------------------------------------------------------- fit / predict
    def fit(self, train_df: pd.DataFrame) -> RuleBaseline:
        grades = train_df.loc[train_df["field"] == "grade", "response"].astype(str)
        graded = grades[grades != NOT_MENTIONED]
        if len(graded):
            g_style = graded.str.fullmatch(r"G[1-4X]").mean()
            self.grade_style = "G" if g_style > 0.5 else "grade"
            self.high_label = next((v for v in graded.unique() if v.lower().startswith("high")), None)
            self.low_label = next((v for v in graded.unique() if v.lower().startswith("low")), None)
        hist_counts: dict[tuple, Counter] = {}
        dx_counts: dict[tuple, Counter] = {}
        rows = train_df[train_df["field"].isin(["histologic_type", "diagnosis"])]
        for fld, ctx, resp in tqdm(zip(rows["field"], rows["context"], rows["response"]), total=len(rows),
                                   desc="rule fit", leave=False):
            note = raw_note(ctx, fld)
            if fld == "histologic_type":
                if resp == NOT_MENTIONED:
                    continue
                for key in self._hist_keys(note):
                    hist_counts.setdefault(key, Counter())[resp] += 1
            else:
                for key in self._dx_keys(note):
                    dx_counts.setdefault(key, Counter())[resp] += 1
        self.hist_map = {k: _most_common(c) for k, c in hist_counts.items()}
        self.dx_map = {k: _most_common(c) for k, c in dx_counts.items()}
        # a rule answer outside the training gold vocabulary ("MX" when the gold says M0, "G5" when it stops
        # at G4) -> the most common gold among the training rows that got that answer
        self.remap = {}
        for fld in _REMAP_FIELDS:
            rows = train_df[train_df["field"] == fld]
            vocab = set(rows["response"].astype(str))
            counts: dict[str, Counter] = {}
            for ctx, gold in zip(rows["context"], rows["response"].astype(str)):
                out = self._predict_raw(fld, ctx)
                if out != NOT_MENTIONED and out not in vocab:
                    counts.setdefault(out, Counter())[gold] += 1
            self.remap[fld] = {o: _most_common(c) for o, c in counts.items()}
        return self

    def predict_one(self, field: str, context: str) -> str:
        """The answer string for one example (``NOT_MENTIONED`` when no rule fires)."""
        out = self._predict_raw(field, context)
        return self.remap.get(field, {}).get(out, out)

    def _predict_raw(self, field: str, context: str) -> str:
        note = raw_note(context, field)
        out = None
        if field in ("t_stage", "n_stage", "m_stage"):
            cat = field[0].upper()
            out = extract_tnm(note).get(cat)
            if out is None and cat == "N":
                out = _n_from_node_count(note)
            if out is None and cat == "T" and self.t_from_size:
                out = t_from_size(note)
        elif field == "grade":
            out = format_grade(extract_grade(note), self.grade_style, self.high_label, self.low_label)
        elif field == "tumor_size":
            out = extract_tumor_size(note)
        elif field == "histologic_type":
            keys = self._hist_keys(note)
            out = next((self.hist_map[k] for k in keys if k in self.hist_map), keys[-1][1] if keys else None)
        elif field == "tumor_site":
            out = extract_site(note)
        elif field == "biomarker_status":
            out = extract_biomarkers(note)
        elif field == "diagnosis":
            out = next((self.dx_map[k] for k in self._dx_keys(note) if k in self.dx_map), None)
        return out if out else NOT_MENTIONED

    def predict(self, test_df: pd.DataFrame) -> list[list[str]]:
        """One answer list per row of ``test_df`` (the response split on commas, like the reference)."""
        return [split_answers(self.predict_one(f, c)) or [NOT_MENTIONED]
                for f, c in tqdm(zip(test_df["field"], test_df["context"]), total=len(test_df),
                                 desc="rule predict", leave=False)]
