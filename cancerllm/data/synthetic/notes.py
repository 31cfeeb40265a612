"""Rendering a patient's notes — the clinical note, the follow-up note and the pathology report, with every
gold-bearing phrase marked (``phrases._p``) — and the general (non-cancer) notes.
"""

from __future__ import annotations

import random

from ..schema import NOT_MENTIONED
from ..vocabulary import _EXAM, _GENERAL, _HEADERS, _PLANS, _PMH, _ROS
from .phrases import _biomarker_text, _fmt, _grade_form, _p, _size_forms, _stage_token


def _cap(s: str) -> str:
    """Capitalise a phrase at a line start; abbreviations such as "ccRCC" or "RUL" stay as they are."""
    return s[0].upper() + s[1:] if " " in s or s.islower() else s


def _site_text(rng, p, tbl, where, loc, cap=False) -> str:
    form = rng.choice(p["site"]["forms"]) if loc in where.get("tumor_site", ()) else None
    text = form or tbl["organ"]
    text = _cap(text) if cap else text
    return _p(text, "tumor_site") if form else text


def _hist_text(rng, p, where, loc, tbl) -> str:
    if loc in where.get("histologic_type", ()):
        return _p(rng.choice(p["hist"]["forms"]), "histologic_type")
    return tbl["cancer"]


def _tnm_text(rng, p, tbl, clinical: bool) -> str | None:
    g = p["gold"]
    have = [k for k, f in (("T", "t_stage"), ("N", "n_stage"), ("M", "m_stage")) if g[f] != NOT_MENTIONED]
    if not have:
        return None
    pre = "c" if clinical else "p"
    toks = {"T": _stage_token(rng, p["T"], pre, tbl["substage"]), "N": _stage_token(rng, p["N"], pre, tbl["substage"]),
            "M": _stage_token(rng, p["M"], rng.choice(["", "c"] if p["M"] == "M0" else ["", "c", "p"]),
                              tbl["substage"])}
    if len(have) == 3 and rng.random() < 0.4:
        return _p(pre + toks["T"][1:] + toks["N"][1:] + toks["M"].lstrip("cp"), "tnm")
    return " ".join(_p(toks[k], f"{k.lower()}_stage") for k in have)


def _ros(rng) -> str:
    parts = [f"{name}: {rng.choice(opts)}." for name, opts in rng.sample(_ROS, rng.randint(3, 6))]
    if rng.random() < 0.5:
        parts.append(f"Pain: {rng.randint(0, 6)}/10.")
    return " ".join(parts) if rng.random() < 0.5 else "\n".join(parts)


def _objective(rng, ecog: bool) -> str:
    vit = (f"Vitals: BP {rng.randint(104, 162)}/{rng.randint(58, 94)}, HR {rng.randint(56, 104)}, "
           f"RR {rng.randint(12, 20)}, Temp {rng.uniform(36.2, 37.6):.1f} C, SpO2 {rng.randint(93, 100)}% on room air, "
           f"Wt {rng.uniform(48, 112):.1f} kg.")
    lines = [vit] + [rng.choice(opts) for opts in _EXAM if rng.random() < 0.6]
    if ecog:
        lines.append(f"ECOG performance status {rng.randint(0, 2)}.")
    return "\n".join(lines)


def _labs(rng, ctype: str, extra: str = "") -> str:
    wbc = rng.uniform(18, 95) if ctype == "leukemia" else rng.uniform(3.8, 11.5)
    s = (f"WBC {wbc:.1f}, Hgb {rng.uniform(9.5, 15.5):.1f}, Plt {rng.randint(110, 420)}; Na {rng.randint(133, 144)}, "
         f"K {rng.uniform(3.4, 5.1):.1f}, Cr {rng.uniform(0.6, 1.4):.2f}, ALT {rng.randint(10, 60)}, "
         f"AST {rng.randint(12, 55)}.")
    if ctype == "colorectal" and rng.random() < 0.6:
        s += f" CEA {rng.uniform(1.0, 40.0):.1f} ng/mL."
    if ctype == "liver" and rng.random() < 0.6:
        s += f" AFP {rng.randint(5, 900)} ng/mL."
    return s + (f" {extra}" if extra else "")


def _note(rng, sections: list[tuple[str, str]]) -> str:
    order = list(sections)
    if rng.random() < 0.35 and len(order) > 3:  # occasional swap of two adjacent middle sections
        i = rng.randint(1, len(order) - 2)
        order[i], order[i + 1] = order[i + 1], order[i]
    inline = rng.random() < 0.4
    out = []
    for key, body in order:
        head = rng.choice(_HEADERS[key])
        out.append(f"{head} {body}" if inline and "\n" not in body else f"{head}\n{body}")
    return "\n\n".join(out)


def _clinical_note(rng, p, tbl, where) -> str:
    g, man = p["gold"], p["sex"] == "M"
    who = f"{p['age']}-year-old {'man' if man else 'woman'}"
    hpi = [(f"{who} {rng.choice(['referred for', 'presenting with', 'seen in consultation for', 'who presented with'])} "
           f"{rng.choice(tbl['presentations'])}. "
           f"Workup led to {rng.choice(['biopsy', 'tissue sampling', 'further evaluation'])}, "
           f"{rng.choice(['results reviewed today', 'pathology now available', 'here to discuss results'])}.")]
    pmh = rng.sample(_PMH, rng.randint(0, 3))
    hpi.append(f"PMH: {', '.join(pmh)}." if pmh else "No significant past medical history.")
    if p["prior"]:
        course = rng.choice(["treated", "treated at an outside hospital", "no recurrence"])
        hpi.append(rng.choice([f"Remote history of {p['prior']} ({rng.randint(1995, 2015)}), {course}.",
                               f"History of {p['prior']} {rng.randint(1995, 2015)}, no recurrence.",
                               f"Prior history of {p['prior']}, in remission since {rng.randint(1995, 2015)}."]))
    if p["family"]:
        rel = {"breast cancer": ["mother", "sister", "maternal aunt"], "ovarian cancer": ["mother", "sister"],
               "prostate cancer": ["father", "brother", "paternal uncle"]}.get(p["family"], ["mother", "father"])
        hpi.append(f"Family history: {rng.choice(rel)} with {p['family']}.")
    hpi.append(rng.choice(["Never smoker.", "Former smoker, quit 10 years ago.", "Denies tobacco use; drinks socially.",
                           "Current smoker, 1 pack per day."]))

    # assessment: diagnosis phrase, staging and biomarkers as planned
    a = [f"{p['age']}{'M' if man else 'F'} with {_hist_text(rng, p, where, 'assess', tbl)}"]
    if "assess" in where.get("tumor_site", ()):
        a[-1] += f" ({_site_text(rng, p, tbl, where, 'assess')})"
    a[-1] += "."
    if "assess" in where["tnm"] and (t := _tnm_text(rng, p, tbl, clinical=True)):
        a.append(f"Stage: {t}.")
    bm = [(m, v) for m, v in p["markers"]] if g["biomarker_status"] != NOT_MENTIONED else []
    extra_lab = ""
    if bm and "assess" in where["biomarker_status"]:
        a.append(f"Biomarkers: {_p(_biomarker_text(rng, bm), 'biomarker_status')}.")
    elif bm and "labs" in where["biomarker_status"]:
        extra_lab = _p(_biomarker_text(rng, bm), "biomarker_status") + "."
    a.append(" ".join(rng.sample(_PLANS, 2)))

    tx = _site_text(rng, p, tbl, where, "tx")
    if p["type"] == "leukemia":
        tx = "systemic therapy (no local treatment site)"
    sections = [("reason", rng.choice([f"New patient consultation for {tbl['cancer']}.", "Discuss pathology results.",
                                       f"Treatment planning, newly diagnosed {tbl['cancer']}."])),
                ("tx_site", tx), ("subjective", " ".join(hpi)), ("ros", _ros(rng)),
                ("objective", _objective(rng, ecog=True)), ("labs", _labs(rng, p["type"], extra_lab)),
                ("assessment", " ".join(a))]
    if rng.random() < 0.6:  # an EHR problem list: the diagnosis title, as coded (not a diagnosis-bearing section)
        sections.append(("problems", " ".join(f"{k}. {x}." for k, x in enumerate([g["diagnosis"], *pmh], start=1))))
    return _note(rng, sections)


def _followup_note(rng, p, tbl) -> str:
    therapy = rng.choice(["systemic therapy", "adjuvant therapy", "active surveillance", "maintenance therapy"])
    sections = [("reason", rng.choice(["Follow-up visit.", "Routine follow-up on treatment.", "Interval visit."])),
                ("subjective", (f"Returns for follow-up on {therapy}; tolerating it with "
                               f"{rng.choice(['mild fatigue', 'no new complaints', 'intermittent nausea'])}.")),
                ("ros", _ros(rng)), ("objective", _objective(rng, ecog=True)), ("labs", _labs(rng, p["type"])),
                ("assessment", (f"{tbl['cancer'].capitalize()}, on {therapy}. Most recent imaging shows stable disease. "
                               f"{rng.choice(_PLANS)}"))]
    return _note(rng, sections)


def _pathology_report(rng, p, tbl, where) -> str:
    g, ctype = p["gold"], p["type"]
    proc = rng.choice(tbl["procedures"])
    spec = f"{_site_text(rng, p, tbl, where, 'path', cap=True)}, {proc}"
    size_txt = lambda: _p(_size_forms(rng, p["size"]), "tumor_size")
    out = [rng.choice(["SURGICAL PATHOLOGY REPORT", "Pathology Report", "PATHOLOGY - FINAL REPORT"]),
           f"Accession: S{rng.randint(10, 24)}-{rng.randint(10000, 99999)}", ""]
    specimens = [f"A. {spec}"]
    if p["benign"]:
        specimens.append(f"B. {tbl['organ'].capitalize()}, separate excision")
    out += [rng.choice(["SPECIMEN:", "Specimen(s) received:", "SPECIMENS:"])] + specimens + [""]
    out += [rng.choice(["CLINICAL HISTORY:", "Clinical history -"]),
            (f"{p['age']}-year-old {'male' if p['sex'] == 'M' else 'female'} with "
            f"{rng.choice(tbl['presentations'])}."), ""]

    # gross
    if ctype == "leukemia":
        gross = "Received: bone marrow aspirate smears, clot section and a core biopsy, submitted entirely."
    else:
        art = "an" if proc[0].lower() in "aeiou" else "a"
        gross = f"Received in formalin labeled with the patient's name, {art} {proc} specimen"
        if g["tumor_size"] != NOT_MENTIONED and rng.random() < 0.5:  # specimen dimensions: a size distractor
            d = sorted((round(p["size"] + rng.uniform(1.5, 8.0), 1) for _ in range(3)), reverse=True)
            gross += f" measuring {' x '.join(_fmt(x) for x in d)} cm"
        gross += f". Sectioning reveals a {rng.choice(['tan-white', 'gray-white', 'tan-yellow', 'variegated'])}, " \
                 f"{rng.choice(['firm', 'ill-defined', 'well-circumscribed', 'friable'])} lesion"
        if "gross" in where.get("tumor_size", ()):
            gross += f" measuring {size_txt()}"
        gross += f". Representative sections submitted in cassettes A1-A{rng.randint(4, 16)}."
    out += [rng.choice(["GROSS DESCRIPTION:", "Gross:", "Gross description -"]), gross, ""]

    # microscopic, with negations
    micro = [f"Sections show {tbl['pattern']}."]
    if "micro" in where.get("grade", ()):
        micro.append(f"The lesion is {_p(_grade_form(rng, tbl['grade'][0], p['grade']), 'grade')}.")
    if "micro" in where.get("tumor_size", ()):
        micro.append(f"The lesion measures {size_txt()} on the slides.")
    if ctype not in ("leukemia", "lymphoma", "brain"):
        micro.append(rng.choice(["No lymphovascular invasion is identified.",
                                 "Lymphovascular invasion: not identified.",
                                 "Lymphovascular invasion is present.", "No perineural invasion is seen."]))
    micro.append(rng.choice(["No necrosis is identified.", "Focal necrosis is present.",
                             "Immunostains show appropriate controls."]))
    out += [rng.choice(["MICROSCOPIC DESCRIPTION:", "Microscopic:", "Microscopic description -"]), " ".join(micro), ""]

    # final diagnosis
    hist = _p(_cap(rng.choice(p["hist"]["forms"])), "histologic_type") if g["histologic_type"] != NOT_MENTIONED else \
        f"{tbl['malignant'].capitalize()}, subtype not specified in this report"
    dx = f"- {hist}"
    if "dx" in where.get("grade", ()):
        dx += f", {_p(_grade_form(rng, tbl['grade'][0], p['grade']), 'grade')}"
    if "dx" in where.get("tumor_size", ()):
        dx += f", {size_txt()}"
    dx_lines = [f"A. {_site_text(rng, p, tbl, where, 'path', cap=rng.random() < 0.5)}, {proc}:", dx + "."]
    if ctype not in ("leukemia", "lymphoma", "brain"):
        dx_lines.append(rng.choice([f"- Margins negative for {tbl['malignant']}.", "- All margins free of involvement.",
                                    f"- {tbl['malignant'].capitalize()} extends to the deep margin."]))
    if p["benign"]:
        name, bsize = p["benign"]
        dx_lines.append(f"B. {tbl['organ'].capitalize()}, separate excision: {name}, {_fmt(bsize)} cm; "
                        "negative for malignancy.")
    out += [rng.choice(["FINAL DIAGNOSIS:", "DIAGNOSIS:", "Final diagnosis -"])] + dx_lines + [""]

    # synoptic
    syn = []
    if "synoptic" in where.get("histologic_type", ()):
        syn.append(f"Histologic type: {_p(rng.choice(p['hist']['forms']), 'histologic_type')}")
    if "synoptic" in where.get("tumor_size", ()):
        syn.append(f"Tumor size: {size_txt()}")
    if "synoptic" in where.get("grade", ()):
        syn.append(_p(f"Histologic grade: {_grade_form(rng, tbl['grade'][0], p['grade'])}", "grade"))
    if "synoptic" in where["tnm"] and (t := _tnm_text(rng, p, tbl, clinical=False)):
        syn.append(f"Pathologic stage (AJCC 8th): {t}")
    if g["n_stage"] != NOT_MENTIONED:
        k = {"N0": 0, "N1": rng.randint(1, 3), "N2": rng.randint(4, 9), "N3": rng.randint(10, 15)}[p["N"]]
        syn.append(f"Lymph nodes: {k} involved of {k + rng.randint(3, 18)} examined.")
    if g["biomarker_status"] != NOT_MENTIONED and "synoptic" in where["biomarker_status"]:
        label = rng.choice(["Biomarkers", "Ancillary studies", "Molecular/IHC"])
        syn.append(f"{label}: {_p(_biomarker_text(rng, p['markers']), 'biomarker_status')}")
    if syn:
        out += [rng.choice(["SYNOPTIC REPORT:", "Synoptic summary (CAP):", "CANCER CASE SUMMARY:"])] + syn + [""]
    if rng.random() < 0.3:
        doctor = rng.choice(["Patel", "Nguyen", "Garcia", "Smith", "Kim"])
        out += ["COMMENT:", (f"Results discussed with Dr. {doctor} on "
                            f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(15, 24)}.")]
    return "\n".join(out).strip()


def _general_raw(rng: random.Random, n: int) -> list[str]:
    texts = []
    for _ in range(n):
        cc, hpi, ap = rng.choice(_GENERAL)
        age, man = rng.randint(25, 90), rng.random() < 0.5
        pmh = rng.sample(_PMH, rng.randint(0, 3))
        subj = f"{age}-year-old {'man' if man else 'woman'}. {hpi} "
        subj += f"PMH: {', '.join(pmh)}." if pmh else "No significant PMH."
        sections = [("reason", cc), ("subjective", subj), ("ros", _ros(rng)),
                    ("objective", _objective(rng, ecog=False)), ("labs", _labs(rng, "general"))]
        closing = rng.choice(["Return in 3 months.", "Follow up as needed.", "Call with concerns."])
        sections.append(("assessment", f"{ap} {closing}"))
        texts.append(_note(rng, sections))
    return texts
