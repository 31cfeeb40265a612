"""One synthetic patient: its type's values sampled from ``CANCER_TABLE`` with the gold labels and distractors
(``_sample_patient``), and where the notes will state each value (``_render_plan``).
"""

from __future__ import annotations

import random

from ..schema import NOT_MENTIONED, PHENOTYPE_FIELDS
from ..vocabulary import _FAMILY, _PRIORS_OK, CANCER_TABLE
from .phrases import _fmt, _pick


def _sample_patient(rng: random.Random, pid: str, ctype: str) -> dict:
    tbl = CANCER_TABLE[ctype]
    sex = tbl["sex"] or rng.choice("FM")
    site = rng.choice(tbl["sites"])
    hist = rng.choices(tbl["hists"], [h["w"] for h in tbl["hists"]])[0]
    p = {"pid": pid, "type": ctype, "sex": sex, "age": rng.randint(34, 88), "site": site, "hist": hist}
    size = round(rng.triangular(*tbl["size"]), 1) if tbl["size"] else None
    p["size"] = size
    if tbl["grade"]:
        _system, grades, w = tbl["grade"]
        if ctype == "brain":
            g = 4 if hist["canon"] == "glioblastoma" else rng.choice((2, 3))
        else:
            g = rng.choices(grades, w)[0]
        p["grade"] = g
    if tbl["T"]:
        if tbl["t_by_size"]:
            p["T"] = next(t for lim, t in tbl["t_by_size"] if size <= lim)
        else:
            p["T"] = _pick(rng, tbl["T"])
        p["N"], p["M"] = _pick(rng, tbl["N"]), _pick(rng, tbl["M"])
    pieces = []
    for marker, ppos in tbl["markers"]:
        if marker == "PSA":
            pieces.append(("PSA", _fmt(round(rng.uniform(3.0, 40.0), 1))))
        else:
            if marker == "IDH" and hist["canon"] == "glioblastoma":
                ppos = 0.0
            pieces.append((marker, rng.random() < ppos))
    p["markers"] = pieces

    gold = {f: NOT_MENTIONED for f in PHENOTYPE_FIELDS}
    gold["tumor_site"] = site["canon"]
    gold["histologic_type"] = hist["canon"]
    if size is not None:
        gold["tumor_size"] = f"{_fmt(size)} cm"
    if "grade" in p:
        gold["grade"] = f"grade {p['grade']}"
    if "T" in p:
        gold["t_stage"], gold["n_stage"], gold["m_stage"] = p["T"], p["N"], p["M"]
    if pieces:
        gold["biomarker_status"] = ", ".join(f"PSA {v} ng/mL" if m == "PSA"
                                             else f"{m} {'positive' if v else 'negative'}"
                                             for m, v in pieces)
    for f in PHENOTYPE_FIELDS:  # random absence (~12% per field); leukemia's site is always stated
        if gold[f] != NOT_MENTIONED and not (ctype == "leukemia" and f == "tumor_site") and rng.random() < 0.12:
            gold[f] = NOT_MENTIONED
    p["gold"] = gold

    site_ok, hist_ok = gold["tumor_site"] != NOT_MENTIONED, gold["histologic_type"] != NOT_MENTIONED
    if tbl["diag"] == "site":
        gold["diagnosis"] = site["icd"] if site_ok else tbl["unspec"]
    elif tbl["diag"] == "hist":
        gold["diagnosis"] = hist["icd"] if hist_ok else (tbl["unspec"] or "Leukemia, unspecified")
    else:  # lymphoma: histology + nodal region
        hist_icd = hist["icd"] if hist_ok else "Malignant lymphoma, unspecified"
        gold["diagnosis"] = f"{hist_icd}, {site['icd'] if site_ok else tbl['unspec']}"

    # distractors: a prior, different cancer; family history; a benign second specimen
    priors = [t for t, ty, sx in _PRIORS_OK[ctype] if sx in (None, sex)]
    p["prior"] = rng.choice(priors) if priors and rng.random() < 0.2 else None
    fam = [t for t, ty in _FAMILY if ty != ctype]
    p["family"] = rng.choice(fam) if rng.random() < 0.25 else None
    p["benign"] = None
    if tbl["benign"] and gold["tumor_size"] != NOT_MENTIONED and rng.random() < 0.2:
        b = size
        while abs(b - size) < 0.05:
            b = round(rng.uniform(0.4, 3.0), 1)
        p["benign"] = (tbl["benign"], b)
    return p


def _maybe(rng, loc: str, prob: float) -> set:
    return {loc} if rng.random() < prob else set()


def _render_plan(rng, p) -> dict:
    g = p["gold"]
    w = {}
    if g["tumor_site"] != NOT_MENTIONED:
        w["tumor_site"] = {"path", "tx"} | _maybe(rng, "assess", 0.3)  # the clinical note always names the site
    if g["histologic_type"] != NOT_MENTIONED:
        w["histologic_type"] = {"dx", "assess"} | _maybe(rng, "synoptic", 0.3)
    if g["tumor_size"] != NOT_MENTIONED:
        locs = ["gross", "synoptic", "dx", "micro"]
        w["tumor_size"] = {rng.choice(locs)} | ({rng.choice(locs)} if rng.random() < 0.3 else set())
    if g["grade"] != NOT_MENTIONED:
        w["grade"] = {rng.choice(["micro", "synoptic", "dx"])}
    # every gold value the labels hold is stated in the pathology report (the phenotype questions' text); the
    # clinical note may restate stage and biomarkers (clinical stage in the assessment, PSA among the labs)
    w["tnm"] = {"synoptic"} | _maybe(rng, "assess", 0.3)
    w["biomarker_status"] = {"synoptic"} | {rng.choice(["assess", "labs"] if p["type"] == "prostate" else ["assess"])
                                            for _ in range(rng.random() < 0.5)}
    return w
