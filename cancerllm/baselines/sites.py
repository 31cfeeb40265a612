"""Tumour site and organ: the site table ``SITE_PATTERNS`` with ``extract_site`` (the first site phrase in the
canonical form of the gold: "upper-outer quadrant of right breast", "right upper lobe", "sigmoid colon"), and
the organ keywords ``ORGAN_KEYWORDS`` with ``extract_organ`` (the organ of the first site hit, else the most
often named organ).

Used in notebooks/30_evaluation.ipynb through ``RuleBaseline``: the tumour site answer, and the organ that
conditions the histology and diagnosis label maps and picks the ``t_from_size`` cut-offs.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .text import _lower

_LAT = r"(right|left)"


def _site_rows():
    rows: list[tuple[str, str, str]] = []  # (canonical template, organ, regex); template may use {lat} etc.
    quad = r"(upper|lower)[ -](outer|inner) quadrant"
    abbr = r"(UOQ|UIQ|LOQ|LIQ)"
    rows += [("breast_q", "breast", rf"{_LAT} breast,? {quad}"),
             ("breast_q2", "breast", rf"{quad} of (?:the )?{_LAT} breast"),
             ("breast_a", "breast", rf"{_LAT} breast,? {abbr}\b"),
             ("breast_a2", "breast", rf"\b{abbr} of (?:the )?{_LAT} breast"),
             ("breast_c", "breast", (rf"central (?:portion of (?:the )?)?{_LAT} breast|"
                                     rf"{_LAT} breast,? central(?: portion)?"))]
    rows += [("lung", "lung", rf"{_LAT} (upper|middle|lower) lobe"),
             ("lung2", "lung", rf"{_LAT} lung,? (upper|middle|lower) lobe"),
             ("lung3", "lung", r"\b(RUL|RML|RLL|LUL|LLL)\b")]
    rows += [("prostate", "prostate", rf"{_LAT} peripheral zone"),
             ("prostate_b", "prostate", r"bilateral peripheral zones?"),
             ("prostate_t", "prostate", r"transition zone")]
    rows += [("fixed:rectosigmoid junction", "colorectal", r"rectosigmoid junction"),
             ("fixed:cecum", "colorectal", r"\bcecum\b|\bcecal\b|\bcaecum\b"),
             ("colon", "colorectal", r"(ascending|transverse|descending|sigmoid) colon"),
             ("colon2", "colorectal", r"colon,? (ascending|transverse|descending|sigmoid)\b"),
             ("fixed:rectum", "colorectal", r"\brectum\b")]
    rows += [("fixed:skin of upper back", "skin", r"skin of (?:the )?upper back|upper back skin|skin,? upper back"),
             ("fixed:skin of chest", "skin", r"skin of (?:the )?chest|chest wall skin|skin,? chest"),
             ("skin_limb", "skin", rf"(?:skin of (?:the )?|skin,? )?{_LAT} (upper arm|thigh)"),
             ("fixed:skin of scalp", "skin", r"skin of (?:the )?scalp|\bscalp\b")]
    rows += [("bladder", "bladder", r"(lateral|posterior) (?:bladder )?wall(?: of (?:the )?bladder)?"),
             ("bladder2", "bladder", r"bladder,? (lateral|posterior) wall"),
             ("bladder3", "bladder", (r"(trigone|dome) of (?:the )?bladder|bladder,? (trigone|dome)|"
                                      r"bladder (trigone|dome)"))]
    rows += [("kidney", "kidney", rf"{_LAT} kidney,? (upper pole|lower pole|interpolar region)"),
             ("kidney2", "kidney", rf"{_LAT} renal (upper pole|lower pole|interpolar region)"),
             ("kidney3", "kidney", rf"(upper pole|lower pole|interpolar region) of (?:the )?{_LAT} kidney")]
    rows += [("fixed:fundus uteri", "uterus", r"fundus uteri|uterine fundus|fundus of (?:the )?uterus"),
             ("fixed:isthmus uteri", "uterus", r"isthmus uteri|lower uterine segment"),
             ("fixed:endometrium", "uterus", r"\bendometrium\b")]
    rows += [("pancreas", "pancreas", (r"(head|body|tail) of (?:the )?pancreas|pancreatic (head|body|tail)|"
                                       r"pancreas,? (head|body|tail)"))]
    rows += [("thyroid", "thyroid", rf"{_LAT} lobe of (?:the )?thyroid|{_LAT} thyroid lobe|thyroid,? {_LAT} lobe"),
             ("fixed:isthmus of thyroid", "thyroid", r"isthmus of (?:the )?thyroid|thyroid,? isthmus")]
    rows += [("liver", "liver", (r"(right|left|caudate) lobe of (?:the )?liver|(right|left) hepatic lobe|"
                                 r"liver,? (right|left) lobe")),
             ("fixed:caudate lobe of liver", "liver", r"caudate lobe")]
    rows += [("fixed:bone marrow", "bone marrow", r"bone marrow")]
    nodes = r"(cervical|mediastinal|axillary|inguinal|retroperitoneal)"
    rows += [("nodes", "lymph node", rf"{nodes} lymph nodes?|lymph nodes?,? {nodes}")]
    rows += [("ovary", "ovary", rf"{_LAT} ovary|ovary,? {_LAT}"),
             ("fixed:bilateral ovaries", "ovary", r"bilateral ovaries|ovaries,? bilateral")]
    rows += [("fixed:gastric antrum", "stomach", r"gastric antrum|antrum of (?:the )?stomach|stomach,? antrum"),
             ("stomach", "stomach", (r"(body|cardia|fundus|lesser curvature) of (?:the )?stomach|"
                                     r"gastric (body|cardia|fundus)|stomach,? (body|cardia|fundus|lesser curvature)"))]
    rows += [("brain", "brain", rf"{_LAT} (frontal|temporal|parietal|occipital)(?: lobe)?")]
    rows += [("fixed:lateral border of tongue", "head and neck",
              r"lateral border of (?:the )?tongue|lateral tongue|tongue,? lateral border"),
             ("fixed:base of tongue", "head and neck", r"base of (?:the )?tongue|tongue base"),
             ("fixed:palatine tonsil", "head and neck", r"palatine tonsil|\btonsil\b"),
             ("fixed:glottic larynx", "head and neck", r"glottic larynx|\bglottis\b|vocal cord"),
             ("fixed:floor of mouth", "head and neck", r"floor of (?:the )?mouth|mouth,? floor")]
    return rows


#: (key, organ, regex) of the tumour-site table; `extract_site` turns a hit into the canonical phrase.
#: Patterns other than the "lung3" abbreviations are lower-case and run on the lower-cased text.
SITE_PATTERNS = [(k, organ, re.compile(p if k == "lung3" else p.lower())) for k, organ, p in _site_rows()]
#: organ -> literals one of which every site pattern of that organ contains (a cheap pre-filter)
_SITE_ANCHORS = {
    "breast": ("breast",), "lung": ("lobe",), "prostate": ("zone",),
    "colorectal": ("colon", "cec", "caec", "rectum", "rectosigmoid"), "skin": ("skin", "scalp", "arm", "thigh"),
    "bladder": ("bladder", "wall"), "kidney": ("kidney", "renal"), "uterus": ("uter", "endometrium"),
    "pancreas": ("pancrea",), "thyroid": ("thyroid",), "liver": ("liver", "hepatic", "caudate"),
    "bone marrow": ("marrow",), "lymph node": ("lymph",), "ovary": ("ovar",), "stomach": ("stomach", "gastric"),
    "brain": ("frontal", "temporal", "parietal", "occipital"),
    "head and neck": ("tongue", "tonsil", "glott", "vocal", "mouth"),
}
_LOBE_ABBRS = ("RUL", "RML", "RLL", "LUL", "LLL")


def _canon_site(key: str, m: re.Match) -> str:
    g = [x.lower() if x else x for x in m.groups()]
    pick = lambda *idx: next(g[i] for i in idx if g[i])
    if key.startswith("fixed:"):
        return key[6:]
    if key == "breast_q":
        return f"{g[1]}-{g[2]} quadrant of {g[0]} breast"
    if key == "breast_q2":
        return f"{g[0]}-{g[1]} quadrant of {g[2]} breast"
    if key in ("breast_a", "breast_a2"):
        lat, ab = (g[0], g[1]) if key == "breast_a" else (g[1], g[0])
        q = {"uoq": "upper-outer", "uiq": "upper-inner", "loq": "lower-outer", "liq": "lower-inner"}[ab]
        return f"{q} quadrant of {lat} breast"
    if key == "breast_c":
        return f"central portion of {pick(0, 1)} breast"
    if key in ("lung", "lung2"):
        return f"{g[0]} {g[1]} lobe"
    if key == "lung3":
        ab = m.group(1)
        return f"{'right' if ab[0] == 'R' else 'left'} {dict(U='upper', M='middle', L='lower')[ab[1]]} lobe"
    if key == "prostate":
        return f"{g[0]} peripheral zone of prostate"
    if key == "prostate_b":
        return "bilateral peripheral zones of prostate"
    if key == "prostate_t":
        return "transition zone of prostate"
    if key in ("colon", "colon2"):
        return f"{g[0]} colon"
    if key == "skin_limb":
        return f"skin of {g[0]} {g[1]}"
    if key in ("bladder", "bladder2"):
        return f"{g[0]} wall of bladder"
    if key == "bladder3":
        return f"{pick(0, 1, 2)} of bladder"
    if key in ("kidney", "kidney2"):
        return f"{g[1]} of {g[0]} kidney"
    if key == "kidney3":
        return f"{g[0]} of {g[1]} kidney"
    if key == "pancreas":
        return f"{pick(0, 1, 2)} of pancreas"
    if key == "thyroid":
        return f"{pick(0, 1, 2)} lobe of thyroid"
    if key == "liver":
        return f"{pick(0, 1, 2)} lobe of liver"
    if key == "nodes":
        return f"{pick(0, 1)} lymph nodes"
    if key == "ovary":
        return f"{pick(0, 1)} ovary"
    if key == "stomach":
        return f"{pick(0, 1, 2)} of stomach"
    if key == "brain":
        return f"{g[0]} {g[1]} lobe"
    raise KeyError(key)


@lru_cache(maxsize=4096)
def _site_hit(text: str) -> tuple[str, str] | None:
    """(canonical site, organ) of the earliest site-table hit (ties: the longer match), or None."""
    best = None
    lower = _lower(text)
    present = {organ for organ, anchors in _SITE_ANCHORS.items() if any(a in lower for a in anchors)}
    abbr_present = any(a in text for a in _LOBE_ABBRS)
    for key, organ, rx in SITE_PATTERNS:
        if not (abbr_present if key == "lung3" else organ in present):
            continue
        m = rx.search(text if key == "lung3" else lower)
        if m and (best is None or m.start() < best[0] or (m.start() == best[0] and m.end() > best[1])):
            best = (m.start(), m.end(), key, organ, m)
    if best is None:
        return None
    return _canon_site(best[2], best[4]), best[3]


def extract_site(text: str) -> str | None:
    """The first tumour-site phrase of ``text`` in canonical form ("upper-outer quadrant of right breast",
    "right upper lobe", "sigmoid colon", ...), or None (an organ alone is not a site)."""
    hit = _site_hit(text)
    return hit[0] if hit else None


#: organ -> regex (organ words and common procedure names); used as context for the label maps.
ORGAN_KEYWORDS: dict[str, str] = {
    "breast": r"breast|mammary|mastectomy|lumpectomy",
    "lung": r"\blung(?!s\s*:)|pulmonary|bronch|pneumonectomy",
    "prostate": r"prostat",
    "colorectal": r"\bcolon|colonic|rectum|rectal\b|cecum|sigmoid|large intestine|colectomy",
    "skin": r"\bskin\b(?!\s*:)|cutaneous",
    "eye": r"\beye\b|uvea|choroid|ciliary body|enucleation|ocular",
    "bladder": r"bladder|cystectomy",
    "kidney": r"kidney|renal|nephrectomy",
    "uterus": r"uterus|uterine|endometrium|endometrial|hysterectomy",
    "cervix": r"cervix|endocervi|ectocervi|cervical (?:carcinoma|cancer|biopsy|cone)",
    "pancreas": r"pancrea|whipple",
    "thyroid": r"thyroid",
    "liver": r"liver|hepat",
    "bone marrow": r"bone marrow|marrow",
    "ovary": r"ovar|oophorectomy",
    "stomach": r"stomach|gastric|gastrectomy",
    "esophagus": r"esophag|oesophag",
    "brain": r"\bbrain|cerebr|frontal lobe|temporal lobe|parietal lobe|occipital lobe",
    "head and neck": r"head and neck|tongue|tonsil|laryn|pharyn|oral cavity|mouth|palate|glottis|mandib|maxill",
    "adrenal": r"adrenal",
    "testis": r"testis|testic|orchiectomy|spermatic cord",
    "pleura": r"pleura",
    "bile duct": r"bile duct|biliary",
}
_ORGAN_RE = {k: re.compile(v.lower()) for k, v in ORGAN_KEYWORDS.items()}


@lru_cache(maxsize=4096)
def extract_organ(text: str) -> str | None:
    """The organ of the first site hit, else the most often named organ (ties: the first named).

    Review-of-systems and exam headers ("Skin: no rash", "Lungs: clear") are not organ mentions.
    """
    hit = _site_hit(text)
    if hit:
        return hit[1]
    lower = _lower(text)
    counts = {}
    for organ, rx in _ORGAN_RE.items():
        ms = list(rx.finditer(lower))
        if ms:
            counts[organ] = (len(ms), -ms[0].start())
    return max(counts, key=counts.get) if counts else None
