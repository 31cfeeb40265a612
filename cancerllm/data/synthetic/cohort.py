"""The cohort: ``generate_cohort`` (patients, their notes and labels, seeded patient-level splits stratified by
type, OCR noise, evidence spans) and ``generate_general_notes``.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from ..schema import CANCER_TYPES, LABEL_COLUMNS, NOTE_COLUMNS, PHENOTYPE_FIELDS, Cohort
from ..vocabulary import _TYPE_WEIGHTS, CANCER_TABLE
from .noise import _finish
from .notes import _clinical_note, _followup_note, _general_raw, _pathology_report
from .patients import _render_plan, _sample_patient
from .phrases import _spans


# ----------------------------------------------------------------------------- general notes
def generate_general_notes(n: int, seed: int = 42, ocr_noise_rate: float = 0.0) -> pd.DataFrame:
    """`n` general (non-cancer) clinical notes: DataFrame with columns note_id, text."""
    raw = _general_raw(random.Random(f"{seed}:general"), n)
    texts = [_spans(t)[0] for t in _finish(raw, ocr_noise_rate, np.random.default_rng([abs(seed), 3]))]
    width = max(4, len(str(n)))
    ids = [f"GEN-{i + 1:0{width}d}" for i in range(n)]
    return pd.DataFrame({"note_id": ids, "text": texts}, columns=["note_id", "text"])


# ----------------------------------------------------------------------------- splits & cohort
def _split_counts(n: int, fracs) -> list[int]:
    f = np.asarray(fracs, dtype=float)
    if f.shape != (3,) or (f < 0).any() or f.sum() <= 0:
        raise ValueError(f"split_fractions must be 3 non-negative numbers, got {fracs!r}")
    f = f / f.sum()
    c = np.floor(f * n).astype(int)
    for i in np.argsort(-(f * n - c), kind="stable")[: n - c.sum()]:
        c[i] += 1
    if n >= 3:
        for i in range(3):
            if f[i] > 0 and c[i] == 0:
                c[int(np.argmax(c))] -= 1
                c[i] = 1
    return [int(x) for x in c]


def _assign_splits(types: list[str], fracs, seed: int) -> list[str]:
    """Patient-level, seeded, stratified by type: rank patients within their type, interleave, cut."""
    rng = random.Random(f"{seed}:split")
    by_type: dict[str, list[int]] = {}
    for i, t in enumerate(types):
        by_type.setdefault(t, []).append(i)
    key = [0.0] * len(types)
    for idxs in by_type.values():
        rng.shuffle(idxs)
        for rank, i in enumerate(idxs):
            key[i] = (rank + rng.random()) / len(idxs)
    order = sorted(range(len(types)), key=lambda i: (key[i], i))
    n_train, n_dev, _ = _split_counts(len(types), fracs)
    split = [""] * len(types)
    for pos, i in enumerate(order):
        split[i] = "train" if pos < n_train else "dev" if pos < n_train + n_dev else "test"
    return split


def generate_cohort(n_patients: int, seed: int = 42, ocr_noise_rate: float = 0.01,
                    n_general_notes: int | None = None,
                    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2), n_unlabelled: int = 0) -> Cohort:
    """Generate a synthetic cohort of `n_patients` cancer patients (see the module docstring), plus the notes
    of `n_unlabelled` further patients (another seed; ids UNL-...) as unlabelled CPT text."""
    if n_patients < 0:
        raise ValueError("n_patients must be >= 0")
    rng = random.Random(seed)
    first = list(CANCER_TYPES)
    rng.shuffle(first)
    types = first[:n_patients] + rng.choices(CANCER_TYPES, _TYPE_WEIGHTS, k=max(0, n_patients - len(first)))
    rng.shuffle(types)
    splits = _assign_splits(types, split_fractions, seed)
    width = max(4, len(str(n_patients)))

    note_rows, raw, label_rows = [], [], []
    for i, (ctype, split) in enumerate(zip(types, splits, strict=True)):
        pid = f"SYN-{i + 1:0{width}d}"
        p = _sample_patient(rng, pid, ctype)
        tbl = CANCER_TABLE[ctype]
        where = _render_plan(rng, p)
        notes = [("clinical_note", _clinical_note(rng, p, tbl, where)),
                 ("pathology_report", _pathology_report(rng, p, tbl, where))]
        if rng.random() < 0.15:
            notes.append(("clinical_note", _followup_note(rng, p, tbl)))
        for k, (ntype, text) in enumerate(notes, start=1):
            note_rows.append((pid, f"{pid}-N{k}", ntype, split))
            raw.append(text)
        label_rows.append({"patient_id": pid, "cancer_type": ctype, "split": split, **p["gold"]})

    texts, evidence = [], {}
    for (_, nid, _, _), marked in zip(note_rows, _finish(raw, ocr_noise_rate, np.random.default_rng([abs(seed), 1])),
                                      strict=True):
        text, evidence[nid] = _spans(marked)
        texts.append(text)
    rows = [(pid, nid, nt, t, s) for (pid, nid, nt, s), t in zip(note_rows, texts, strict=True)]
    notes_df = pd.DataFrame(rows, columns=NOTE_COLUMNS)
    labels_df = pd.DataFrame(label_rows, columns=LABEL_COLUMNS)
    n_gen = n_patients if n_general_notes is None else n_general_notes
    general = generate_general_notes(n_gen, seed=seed, ocr_noise_rate=ocr_noise_rate)
    cohort = Cohort(name="synthetic", is_real=False, notes=notes_df, labels=labels_df, general=general,
                    fields=list(PHENOTYPE_FIELDS), evidence=evidence)
    if n_unlabelled > 0:
        extra = generate_cohort(n_unlabelled, seed=seed + 7919, ocr_noise_rate=ocr_noise_rate, n_general_notes=0)
        cohort.unlabelled = pd.DataFrame({"note_id": "UNL-" + extra.notes["note_id"], "text": extra.notes["text"]})
    return cohort
