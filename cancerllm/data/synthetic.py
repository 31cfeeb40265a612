"""Embedded, seeded, deterministic synthetic cancer cohort (no real patient text).

Used in notebooks/00_data_profiling.ipynb.

What is simulated
-----------------
For each patient: one clinical note (sections Reason for visit, Treatment site, Subjective,
Review of systems (nursing ROS), Objective, Labs, Assessment - headers and order varied), one
pathology report (specimen, clinical history, gross and microscopic description, final diagnosis,
synoptic lines such as "pT2 pN1a cM0"), and for ~15% a clinical follow-up note; plus one gold label
row with the 8 phenotype fields of ``PHENOTYPE_FIELDS`` and an ICD-10-style ``diagnosis``.
``general`` holds non-cancer clinical notes (hypertension, diabetes, pneumonia, ...) in the same
section style, for the general-text continued-pretraining ablation.

Design choices that are ours (the CancerLLM paper's data and label formats are private)
----------------------------------------------------------------------------------------
* 17 cancer types (``CANCER_TYPES``), table-driven (``CANCER_TABLE``): sites with their surface
  forms and ICD-10 titles, histologies with synonyms/abbreviations, grading system, size range,
  whether TNM applies, biomarkers.  Type mix: every type once first, then a skewed draw.
* Canonical gold forms (the answer text of the instruction-tuning data):
    - tumor_site: lower-case anatomic phrase, e.g. "upper-outer quadrant of right breast",
      "right upper lobe", "sigmoid colon", "bone marrow"
    - tumor_size: largest dimension in cm with one decimal, e.g. "2.5 cm" (text may say
      "25 mm" or "2.5 x 1.8 x 1.2 cm")
    - histologic_type: lower-case WHO-style name, e.g. "invasive ductal carcinoma"
    - grade: "grade N" (N = 1..4; prostate uses the ISUP Grade Group 1..5; brain the CNS WHO
      grade); text may say "moderately differentiated", "G2", "grade II", "Gleason 3+4=7",
      "Nottingham score 7/9"
    - t_stage / n_stage / m_stage: "T2", "N1", "M0" - main category without prefix or substage
      (text may say "pT2", "pN1a", "cM0", "pT2N1aM0")
    - biomarker_status: "<MARKER> positive|negative" pieces joined by ", " in a fixed order,
      e.g. "ER positive, PR positive, HER2 negative"; "positive" means expressed / mutated /
      rearranged / MSI-high / methylated.  Prostate uses the serum value: "PSA 8.2 ng/mL".
      Types without a biomarker get NOT_MENTIONED.
    - diagnosis: ICD-10-CM-style title, e.g. "Malignant neoplasm of upper-outer quadrant of right
      female breast"; it only uses what the text states (an unstated site gives the
      "unspecified" title, e.g. "Malignant neoplasm of unspecified site of unspecified female
      breast").
* A field is absent at random (~12%) or structurally (no TNM for leukemia/lymphoma/brain, ...):
  its label is NOT_MENTIONED and no form of it appears in the text.
* Realism: synonyms, abbreviations, negations, cm/mm, indirect grade/size/stage forms, distractors
  (~20% prior different cancer, family history, benign second specimen with its own size,
  specimen dimensions) and OCR-like noise (l<->1, O<->0, rn<->m, dropped spaces) at
  ``ocr_noise_rate`` per eligible character, never inside gold-bearing phrases.
* Determinism: only ``random.Random`` / ``numpy.random.default_rng`` instances seeded from
  ``seed``; the OCR noise has its own stream, so labels do not depend on ``ocr_noise_rate``.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd

from .schema import CANCER_TYPES, LABEL_COLUMNS, NOT_MENTIONED, NOTE_COLUMNS, PHENOTYPE_FIELDS, Cohort

__all__ = ["generate_cohort", "generate_general_notes", "CANCER_TERMS", "CANCER_TABLE", "MARKER_FORMS"]

#: Words that mark cancer text (general notes contain none of them; matched case-insensitively).
CANCER_TERMS = [
    "cancer", "carcinoma", "malignan", "neoplasm", "tumor", "tumour", "metasta", "oncolog",
    "chemotherapy", "radiotherapy", "lymphoma", "leukemia", "melanoma", "sarcoma", "glioma",
    "glioblastoma", "Gleason", "Nottingham", "HER2", "TNM", "carcinosarcoma",
]

# ----------------------------------------------------------------------------- tables
def _icd(title):
    """ICD-10 titles: a leading "~" abbreviates "Malignant neoplasm of "."""
    return "Malignant neoplasm of " + title[1:] if title and title.startswith("~") else title


def _sites(*rows):
    """rows: (canonical, ICD title, extra surface forms...)"""
    return [{"canon": r[0], "icd": _icd(r[1]), "forms": (r[0], *r[2:])} for r in rows]


def _hists(*rows):
    """rows: (canonical, weight, ICD title or None, extra forms...)"""
    return [{"canon": r[0], "w": r[1], "icd": r[2], "forms": (r[0], *r[3:])} for r in rows]


_BREAST_SITES = []
for _lat in ("right", "left"):
    for _q, _abbr in (("upper-outer quadrant", "UOQ"), ("upper-inner quadrant", "UIQ"),
                      ("lower-outer quadrant", "LOQ"), ("lower-inner quadrant", "LIQ"),
                      ("central portion", None)):
        _forms = [f"{_lat} breast, {_q.replace('-', ' ')}"]
        _forms += [f"{_lat} breast {_abbr}", f"{_abbr} of the {_lat} breast"] if _abbr else [f"central {_lat} breast"]
        _BREAST_SITES += _sites((f"{_q} of {_lat} breast", f"~{_q} of {_lat} female breast", *_forms))
_KIDNEY_SITES = []
for _lat in ("right", "left"):
    for _pole in ("upper pole", "lower pole", "interpolar region"):
        _KIDNEY_SITES += _sites((f"{_pole} of {_lat} kidney", f"~{_lat} kidney, except renal pelvis",
                                 f"{_lat} kidney, {_pole}", f"{_lat} renal {_pole}"))

_DIFF = ("diff", (1, 2, 3), (0.25, 0.45, 0.30))
_TNM_STD = dict(N={"N0": 0.6, "N1": 0.25, "N2": 0.1, "N3": 0.05}, M={"M0": 0.9, "M1": 0.1})


def _t(name, organ, cancer, malignant, sites, unspec, hists, grade, size, T, N=None, M=None, markers=(),
       procedures=("resection", "biopsy"), benign=None, sex=None, diag="site", t_by_size=None, substage=False,
       presentations=("an abnormal imaging study",), pattern="infiltrating sheets of atypical cells"):
    return dict(name=name, organ=organ, cancer=cancer, malignant=malignant, sites=sites, unspec=_icd(unspec),
                hists=hists, grade=grade, size=size, T=T, N=N or (_TNM_STD["N"] if T else None),
                M=M or (_TNM_STD["M"] if T else None), markers=list(markers), procedures=procedures,
                benign=benign, sex=sex, diag=diag, t_by_size=t_by_size, substage=substage,
                presentations=presentations, pattern=pattern)


#: One row per cancer type; everything the generator knows about a type lives here.
CANCER_TABLE = {t["name"]: t for t in [
    _t("breast", "breast", "breast cancer", "carcinoma", _BREAST_SITES,
       "~unspecified site of unspecified female breast",
       _hists(("invasive ductal carcinoma", .75, None, "IDC", "infiltrating ductal carcinoma"),
              ("invasive lobular carcinoma", .15, None, "ILC", "infiltrating lobular carcinoma"),
              ("mucinous carcinoma", .10, None, "colloid carcinoma")),
       ("nottingham", (1, 2, 3), (0.25, 0.45, 0.30)), (0.6, 7.0, 1.8), {"T1": 1},
       N={"N0": 0.6, "N1": 0.25, "N2": 0.1, "N3": 0.05}, M={"M0": 0.93, "M1": 0.07},
       markers=(("ER", .8), ("PR", .7), ("HER2", .15)), sex="F", substage=True,
       t_by_size=((2.0, "T1"), (5.0, "T2"), (99, "T3")),
       procedures=("lumpectomy", "core needle biopsy", "partial mastectomy", "total mastectomy"), benign="fibroadenoma",
       presentations=("an abnormal screening mammogram", "a palpable lump found on self-examination"),
       pattern="infiltrating nests, cords and single cells of atypical epithelial cells in a desmoplastic stroma"),
    _t("lung", "lung", "lung cancer", "carcinoma",
       _sites(("right upper lobe", "~upper lobe, right bronchus or lung", "RUL", "right lung, upper lobe"),
              ("right middle lobe", "~middle lobe, bronchus or lung", "RML", "right lung, middle lobe"),
              ("right lower lobe", "~lower lobe, right bronchus or lung", "RLL", "right lung, lower lobe"),
              ("left upper lobe", "~upper lobe, left bronchus or lung", "LUL", "left lung, upper lobe"),
              ("left lower lobe", "~lower lobe, left bronchus or lung", "LLL", "left lung, lower lobe")),
       "~unspecified part of unspecified bronchus or lung",
       _hists(("adenocarcinoma", .5, None, "adenocarcinoma of the lung"), ("squamous cell carcinoma", .3, None, "SCC"),
              ("small cell carcinoma", .1, None, "SCLC"), ("large cell carcinoma", .1, None)),
       _DIFF, (0.8, 8.0, 2.5), {"T1": 1}, N={"N0": 0.5, "N1": 0.2, "N2": 0.2, "N3": 0.1}, M={"M0": 0.85, "M1": 0.15},
       markers=(("EGFR", .15), ("ALK", .05), ("PD-L1", .4)), substage=True,
       t_by_size=((3.0, "T1"), (5.0, "T2"), (7.0, "T3"), (99, "T4")),
       procedures=("lobectomy", "CT-guided core biopsy", "wedge resection"), benign="pulmonary hamartoma",
       presentations=("a persistent cough and an incidental nodule on CT", "hemoptysis and weight loss"),
       pattern="irregular glands and nests of atypical cells with desmoplasia"),
    _t("prostate", "prostate", "prostate cancer", "carcinoma",
       _sites(("left peripheral zone of prostate", "~prostate", "prostate, left peripheral zone",
               "left peripheral zone"),
              ("right peripheral zone of prostate", "~prostate", "prostate, right peripheral zone",
               "right peripheral zone"),
              ("transition zone of prostate", "~prostate", "prostate, transition zone", "transition zone"),
              ("bilateral peripheral zones of prostate", "~prostate", "bilateral peripheral zones")),
       "~prostate",
       _hists(("acinar adenocarcinoma", .93, None, "adenocarcinoma, acinar type"),
              ("ductal adenocarcinoma", .07, None, "adenocarcinoma, ductal type")),
       ("gleason", (1, 2, 3, 4, 5), (0.2, 0.35, 0.2, 0.15, 0.1)), (0.4, 3.5, 1.2),
       {"T2": 0.6, "T3": 0.35, "T4": 0.05}, N={"N0": 0.85, "N1": 0.15}, M={"M0": 0.92, "M1": 0.08},
       markers=(("PSA", 1.0),), sex="M", substage=True,
       procedures=("radical prostatectomy", "transrectal needle biopsy"),
       presentations=("urinary frequency and an abnormal digital rectal exam", "nocturia and a firm nodule on exam"),
       pattern="crowded small glands with prominent nucleoli infiltrating between benign glands"),
    _t("colorectal", "large intestine", "colorectal cancer", "carcinoma",
       _sites(("cecum", "~cecum", "cecal"), ("ascending colon", "~ascending colon", "colon, ascending"),
              ("transverse colon", "~transverse colon", "colon, transverse"),
              ("descending colon", "~descending colon", "colon, descending"),
              ("sigmoid colon", "~sigmoid colon", "colon, sigmoid"),
              ("rectosigmoid junction", "~rectosigmoid junction"), ("rectum", "~rectum")),
       "~colon, unspecified",
       _hists(("adenocarcinoma", .8, None), ("mucinous adenocarcinoma", .15, None),
              ("signet ring cell carcinoma", .05, None, "signet-ring cell carcinoma")),
       _DIFF, (1.0, 7.5, 3.5), {"T1": .1, "T2": .2, "T3": .5, "T4": .2}, N={"N0": .5, "N1": .3, "N2": .2},
       M={"M0": .8, "M1": .2}, markers=(("MSI", .15), ("KRAS", .4)), substage=True,
       procedures=("segmental resection", "endoscopic biopsy"), benign="tubular adenoma",
       presentations=("rectal bleeding and iron deficiency anemia", "an abnormal screening colonoscopy"),
       pattern="complex cribriform glands with dirty necrosis invading through the bowel wall"),
    _t("melanoma", "skin", "melanoma", "melanoma",
       _sites(("skin of upper back", "Malignant melanoma of trunk", "upper back skin", "skin, upper back"),
              ("skin of chest", "Malignant melanoma of trunk", "chest wall skin", "skin, chest"),
              ("skin of left upper arm", "Malignant melanoma of left upper limb, including shoulder",
               "skin, left upper arm", "left upper arm"),
              ("skin of right thigh", "Malignant melanoma of right lower limb, including hip",
               "skin, right thigh", "right thigh"),
              ("skin of scalp", "Malignant melanoma of scalp and neck", "scalp")),
       "Malignant melanoma of skin, unspecified",
       _hists(("superficial spreading melanoma", .65, None), ("nodular melanoma", .25, None),
              ("lentigo maligna melanoma", .10, None)),
       None, (0.3, 3.0, 0.9), {"T1": .4, "T2": .25, "T3": .2, "T4": .15},
       N={"N0": .75, "N1": .15, "N2": .07, "N3": .03}, M={"M0": .92, "M1": .08},
       markers=(("BRAF", .45),), substage=True,
       procedures=("wide local excision", "excisional biopsy"), benign="benign compound nevus",
       presentations=("a changing pigmented skin lesion", "an irregular mole noticed by a family member"),
       pattern="atypical melanocytes in nests and single units with pagetoid spread and dermal invasion"),
    _t("bladder", "bladder", "bladder cancer", "carcinoma",
       _sites(("lateral wall of bladder", "~lateral wall of bladder", "bladder, lateral wall", "lateral bladder wall"),
              ("trigone of bladder", "~trigone of bladder", "bladder trigone", "bladder, trigone"),
              ("dome of bladder", "~dome of bladder", "bladder dome", "bladder, dome"),
              ("posterior wall of bladder", "~posterior wall of bladder", "bladder, posterior wall",
               "posterior bladder wall")),
       "~bladder, unspecified",
       _hists(("urothelial carcinoma", .9, None, "transitional cell carcinoma"),
              ("squamous cell carcinoma", .1, None, "SCC")),
       _DIFF, (0.8, 6.0, 2.5), {"T1": .35, "T2": .35, "T3": .2, "T4": .1}, N={"N0": .75, "N1": .15, "N2": .1},
       procedures=("transurethral resection", "radical cystectomy"), benign="inverted papilloma",
       presentations=("painless gross hematuria", "microscopic hematuria and irritative voiding symptoms"),
       pattern="nests of atypical urothelial-type cells invading the lamina propria and muscularis propria"),
    _t("kidney", "kidney", "kidney cancer", "carcinoma", _KIDNEY_SITES,
       "~unspecified kidney, except renal pelvis",
       _hists(("clear cell renal cell carcinoma", .7, None, "ccRCC", "renal cell carcinoma, clear cell type"),
              ("papillary renal cell carcinoma", .2, None, "pRCC", "renal cell carcinoma, papillary type"),
              ("chromophobe renal cell carcinoma", .1, None, "chRCC", "renal cell carcinoma, chromophobe type")),
       ("isup", (1, 2, 3, 4), (0.15, 0.45, 0.3, 0.1)), (1.5, 12.0, 4.5), {"T1": 1}, N={"N0": .85, "N1": .15},
       M={"M0": .85, "M1": .15}, substage=True, t_by_size=((7.0, "T1"), (10.0, "T2"), (99, "T3")),
       procedures=("radical nephrectomy", "partial nephrectomy", "percutaneous core biopsy"),
       benign="simple cortical cyst",
       presentations=("flank pain and microscopic hematuria", "an incidental renal lesion on CT"),
       pattern="nests of cells with clear to eosinophilic cytoplasm separated by a delicate vascular network"),
    _t("uterine", "uterus", "uterine cancer", "carcinoma",
       _sites(("fundus uteri", "~fundus uteri", "uterine fundus", "fundus of the uterus"),
              ("isthmus uteri", "~isthmus uteri", "lower uterine segment"),
              ("endometrium", "~endometrium")),
       "~corpus uteri, unspecified",
       _hists(("endometrioid adenocarcinoma", .75, None, "endometrioid carcinoma"),
              ("serous carcinoma", .15, None, "uterine serous carcinoma"),
              ("carcinosarcoma", .10, None, "malignant mixed Mullerian tumor")),
       ("figo", (1, 2, 3), (0.35, 0.4, 0.25)), (1.0, 6.0, 2.5), {"T1": .7, "T2": .15, "T3": .15},
       N={"N0": .8, "N1": .15, "N2": .05}, M={"M0": .93, "M1": .07}, sex="F",
       procedures=("total hysterectomy with bilateral salpingo-oophorectomy", "office sampling biopsy"),
       benign="leiomyoma",
       presentations=("postmenopausal bleeding", "abnormal uterine bleeding"),
       pattern="back-to-back atypical glands with loss of intervening stroma"),
    _t("pancreas", "pancreas", "pancreatic cancer", "carcinoma",
       _sites(("head of pancreas", "~head of pancreas", "pancreatic head", "pancreas, head"),
              ("body of pancreas", "~body of pancreas", "pancreatic body", "pancreas, body"),
              ("tail of pancreas", "~tail of pancreas", "pancreatic tail", "pancreas, tail")),
       "~pancreas, unspecified",
       _hists(("ductal adenocarcinoma", .9, None, "pancreatic ductal adenocarcinoma", "PDAC"),
              ("adenosquamous carcinoma", .05, None), ("acinar cell carcinoma", .05, None)),
       _DIFF, (1.0, 6.0, 3.0), {"T1": 1}, N={"N0": .4, "N1": .4, "N2": .2}, M={"M0": .75, "M1": .25},
       t_by_size=((2.0, "T1"), (4.0, "T2"), (99, "T3")),
       procedures=("pancreatic resection", "EUS-guided fine needle biopsy"), benign="serous cystadenoma",
       presentations=("painless jaundice and weight loss", "epigastric pain radiating to the back"),
       pattern="haphazard infiltrating glands in a dense desmoplastic stroma with perineural involvement"),
    _t("thyroid", "thyroid", "thyroid cancer", "carcinoma",
       _sites(("right lobe of thyroid", "~thyroid gland", "right thyroid lobe", "thyroid, right lobe"),
              ("left lobe of thyroid", "~thyroid gland", "left thyroid lobe", "thyroid, left lobe"),
              ("isthmus of thyroid", "~thyroid gland", "thyroid isthmus", "thyroid, isthmus")),
       "~thyroid gland",
       _hists(("papillary thyroid carcinoma", .8, None, "PTC", "papillary carcinoma of the thyroid"),
              ("follicular thyroid carcinoma", .12, None, "FTC"), ("medullary thyroid carcinoma", .08, None, "MTC")),
       None, (0.5, 5.0, 1.5), {"T1": 1}, N={"N0": .6, "N1": .4}, M={"M0": .97, "M1": .03}, substage=True,
       t_by_size=((2.0, "T1"), (4.0, "T2"), (99, "T3")),
       procedures=("total thyroidectomy", "hemithyroidectomy"), benign="follicular adenoma",
       presentations=("a neck nodule found on exam", "an incidental nodule on carotid ultrasound"),
       pattern="papillae and follicles lined by cells with overlapping, grooved, clear nuclei"),
    _t("liver", "liver", "liver cancer", "carcinoma",
       _sites(("right lobe of liver", None, "right hepatic lobe", "liver, right lobe"),
              ("left lobe of liver", None, "left hepatic lobe", "liver, left lobe"),
              ("caudate lobe of liver", None, "caudate lobe")),
       "~liver, not specified as primary or secondary",
       _hists(("hepatocellular carcinoma", .85, "Liver cell carcinoma", "HCC"),
              ("intrahepatic cholangiocarcinoma", .15, "Intrahepatic bile duct carcinoma",
               "cholangiocarcinoma, intrahepatic")),
       _DIFF, (1.5, 10.0, 4.0), {"T1": .45, "T2": .3, "T3": .15, "T4": .1}, N={"N0": .9, "N1": .1},
       procedures=("partial hepatectomy", "percutaneous core biopsy"), benign="cavernous hemangioma", diag="hist",
       presentations=("a lesion found on surveillance ultrasound for cirrhosis",
                      "right upper quadrant pain and early satiety"),
       pattern="thickened trabeculae of atypical hepatocytes with loss of reticulin framework"),
    _t("leukemia", "bone marrow", "leukemia", "leukemia", _sites(("bone marrow", None)), None,
       _hists(("chronic lymphocytic leukemia", .35, "Chronic lymphocytic leukemia of B-cell type", "CLL"),
              ("acute myeloid leukemia", .30, "Acute myeloblastic leukemia", "AML"),
              ("chronic myeloid leukemia", .20, "Chronic myeloid leukemia, BCR/ABL-positive", "CML"),
              ("acute lymphoblastic leukemia", .15, "Acute lymphoblastic leukemia", "B-lymphoblastic leukemia")),
       None, None, None, procedures=("aspirate and core biopsy",), diag="hist",
       presentations=("fatigue and an abnormal blood count", "easy bruising and recurrent infections"),
       pattern="a hypercellular marrow replaced by a monotonous population of abnormal cells"),
    _t("lymphoma", "lymph node", "lymphoma", "lymphoma",
       _sites(("cervical lymph nodes", "lymph nodes of head, face, and neck",
               "cervical lymph node", "lymph node, cervical"),
              ("mediastinal lymph nodes", "intrathoracic lymph nodes",
               "mediastinal lymph node", "lymph node, mediastinal"),
              ("axillary lymph nodes", "lymph nodes of axilla and upper limb",
               "axillary lymph node", "lymph node, axillary"),
              ("inguinal lymph nodes", "lymph nodes of inguinal region and lower limb",
               "inguinal lymph node", "lymph node, inguinal"),
              ("retroperitoneal lymph nodes", "intra-abdominal lymph nodes",
               "retroperitoneal lymph node", "lymph node, retroperitoneal")),
       "unspecified site",
       _hists(("diffuse large B-cell lymphoma", .45, "Diffuse large B-cell lymphoma", "DLBCL"),
              ("follicular lymphoma", .25, "Follicular lymphoma, unspecified"),
              ("classical Hodgkin lymphoma", .20, "Hodgkin lymphoma, unspecified", "cHL"),
              ("mantle cell lymphoma", .10, "Mantle cell lymphoma", "MCL")),
       None, (1.5, 8.0, 3.0), None, markers=(("CD20", .85),), diag="hist_site",
       procedures=("excisional biopsy", "core needle biopsy"),
       presentations=("painless lymphadenopathy", "night sweats and enlarging lymph nodes"),
       pattern="effacement of the nodal architecture by an atypical lymphoid infiltrate"),
    _t("ovary", "ovary", "ovarian cancer", "carcinoma",
       _sites(("right ovary", "~right ovary", "ovary, right"), ("left ovary", "~left ovary", "ovary, left"),
              ("bilateral ovaries", "~bilateral ovaries", "ovaries, bilateral")),
       "~unspecified ovary",
       _hists(("serous carcinoma", .65, None), ("endometrioid carcinoma", .15, None),
              ("clear cell carcinoma", .12, None),
              ("mucinous carcinoma", .08, None)),
       _DIFF, (2.0, 15.0, 7.0), {"T1": .3, "T2": .2, "T3": .5}, N={"N0": .7, "N1": .3}, M={"M0": .85, "M1": .15},
       sex="F", procedures=("salpingo-oophorectomy", "debulking surgery"), benign="mature cystic teratoma",
       presentations=("abdominal bloating and early satiety", "pelvic pressure and increasing abdominal girth"),
       pattern="complex papillary and solid architecture with marked nuclear atypia"),
    _t("stomach", "stomach", "gastric cancer", "carcinoma",
       _sites(("gastric antrum", "~pyloric antrum", "antrum of stomach", "stomach, antrum"),
              ("body of stomach", "~body of stomach", "gastric body", "stomach, body"),
              ("cardia of stomach", "~cardia", "gastric cardia", "stomach, cardia"),
              ("lesser curvature of stomach", "~lesser curvature of stomach, unspecified", "stomach, lesser curvature"),
              ("fundus of stomach", "~fundus of stomach", "gastric fundus", "stomach, fundus")),
       "~stomach, unspecified",
       _hists(("intestinal-type adenocarcinoma", .6, None, "adenocarcinoma, intestinal type"),
              ("diffuse-type adenocarcinoma", .25, None, "adenocarcinoma, diffuse type"),
              ("signet ring cell carcinoma", .15, None, "signet-ring cell carcinoma")),
       _DIFF, (1.0, 8.0, 3.5), {"T1": .2, "T2": .2, "T3": .4, "T4": .2},
       N={"N0": .4, "N1": .25, "N2": .2, "N3": .15}, M={"M0": .85, "M1": .15}, markers=(("HER2", .2),),
       procedures=("subtotal gastrectomy", "endoscopic biopsy"), benign="hyperplastic polyp",
       presentations=("early satiety and weight loss", "epigastric pain and anemia"),
       pattern="infiltrating irregular glands and discohesive cells in the gastric wall"),
    _t("brain", "brain", "brain tumor", "glioma",
       _sites(("right frontal lobe", "~frontal lobe", "right frontal"),
              ("left frontal lobe", "~frontal lobe", "left frontal"),
              ("left temporal lobe", "~temporal lobe", "left temporal"),
              ("right temporal lobe", "~temporal lobe", "right temporal"),
              ("right parietal lobe", "~parietal lobe", "right parietal"),
              ("left occipital lobe", "~occipital lobe", "left occipital")),
       "~brain, unspecified",
       _hists(("glioblastoma", .6, None, "GBM", "glioblastoma multiforme"),
              ("astrocytoma", .25, None, "diffuse astrocytoma"),
              ("oligodendroglioma", .15, None)),
       ("who_cns", (2, 3, 4), (0.5, 0.5, 0.0)), (1.5, 6.5, 3.5), None, markers=(("IDH", .85), ("MGMT", .45)),
       procedures=("gross total resection", "stereotactic biopsy", "subtotal resection"),
       presentations=("a new-onset seizure", "progressive headaches and word-finding difficulty"),
       pattern="a hypercellular infiltrating glial proliferation with nuclear atypia"),
    _t("head and neck", "head and neck", "head and neck cancer", "carcinoma",
       _sites(("lateral border of tongue", "~border of tongue", "lateral tongue", "tongue, lateral border"),
              ("base of tongue", "~base of tongue", "tongue base"),
              ("palatine tonsil", "~tonsil, unspecified", "tonsil"),
              ("glottic larynx", "~glottis", "glottis", "vocal cord"),
              ("floor of mouth", "~floor of mouth, unspecified", "mouth, floor")),
       "~head, face and neck",
       _hists(("squamous cell carcinoma", .85, None, "SCC", "HNSCC"), ("adenoid cystic carcinoma", .15, None)),
       _DIFF, (0.8, 5.0, 2.2), {"T1": 1}, N={"N0": .5, "N1": .2, "N2": .25, "N3": .05}, M={"M0": .95, "M1": .05},
       markers=(("p16", .5),), t_by_size=((2.0, "T1"), (4.0, "T2"), (99, "T3")),
       procedures=("incisional biopsy", "wide local resection with neck dissection"),
       presentations=("a non-healing oral ulcer", "a painless neck lump and hoarseness"),
       pattern="infiltrating nests of atypical squamoid cells with desmoplastic reaction"),
]}
assert list(CANCER_TABLE) == CANCER_TYPES

_TYPE_WEIGHTS = [14, 12, 11, 9, 5, 5, 4, 4, 3, 3, 3, 4, 4, 2, 2, 2, 3]  # realistic-ish skew, CANCER_TYPES order

#: marker -> (positive surface forms, negative surface forms); canonical piece "<marker> positive|negative"
MARKER_FORMS = {
    "ER": (["ER positive", "ER+", "ER: positive (90%, strong)", "estrogen receptor: POSITIVE (95%)", "ER pos"],
           ["ER negative", "ER-neg", "ER: negative (0%)", "estrogen receptor: NEGATIVE (<1%)", "ER neg"]),
    "PR": (["PR positive", "PR+", "PR: positive (60%, moderate)", "progesterone receptor: POSITIVE (40%)", "PR pos"],
           ["PR negative", "PR-neg", "PR: negative (0%)", "progesterone receptor: NEGATIVE", "PR neg"]),
    "HER2": (["HER2 positive (IHC 3+)", "HER2+", "HER2/neu: amplified by FISH", "HER2 pos"],
             ["HER2 negative (IHC 1+)", "HER2-neg", "HER2/neu: not amplified (ratio 1.2)", "HER2 neg"]),
    "EGFR": (["EGFR mutation positive (exon 19 deletion)", "EGFR: mutated (L858R)", "EGFR positive"],
             ["EGFR negative", "EGFR: no mutation detected", "EGFR wild-type"]),
    "ALK": (["ALK rearranged", "ALK positive (IHC D5F3)", "ALK: fusion detected"],
            ["ALK negative", "ALK: no rearrangement", "ALK not rearranged"]),
    "PD-L1": (["PD-L1 positive (TPS 60%)", "PD-L1 (22C3): positive"],
              ["PD-L1 negative (TPS <1%)", "PD-L1 (22C3): negative"]),
    "MSI": (["MSI-high", "microsatellite instability-high (MSI-H)", "MSI: high"],
            ["microsatellite stable (MSS)", "MSI: stable", "MSI-stable"]),
    "KRAS": (["KRAS mutated (G12D)", "KRAS: mutation detected (G12V)", "KRAS positive"],
             ["KRAS wild-type", "KRAS: no mutation detected", "KRAS negative"]),
    "BRAF": (["BRAF V600E mutated", "BRAF V600E: detected", "BRAF positive"],
             ["BRAF wild-type", "BRAF V600E: not detected", "BRAF negative"]),
    "IDH": (["IDH-mutant", "IDH1 R132H: positive (mutant)", "IDH positive"],
            ["IDH-wildtype", "IDH1 R132H: negative", "IDH negative"]),
    "MGMT": (["MGMT promoter methylated", "MGMT: methylated", "MGMT positive"],
             ["MGMT promoter unmethylated", "MGMT: unmethylated", "MGMT negative"]),
    "p16": (["p16 positive (HPV-associated)", "p16: positive by IHC", "p16+"],
            ["p16 negative", "p16: negative by IHC", "p16-neg"]),
    "CD20": (["CD20 positive", "CD20+", "CD20: diffusely positive"], ["CD20 negative", "CD20-neg", "CD20: negative"]),
}

# prior, different cancers (type they belong to, sex restriction); never carry grade/size/stage/marker words
_PRIOR_CANCERS = [
    ("basal cell carcinoma of the skin", "melanoma", None),
    ("squamous cell carcinoma of the skin of the forearm", "melanoma", None),
    ("papillary thyroid carcinoma", "thyroid", None), ("prostate adenocarcinoma", "prostate", "M"),
    ("seminoma of the testis", None, "M"), ("ductal carcinoma in situ of the contralateral breast", "breast", "F"),
    ("Hodgkin lymphoma in childhood", "lymphoma", None), ("cervical carcinoma in situ", "uterine", "F"),
    ("superficial bladder cancer", "bladder", None),
]
# prior cancers allowed per type: other types only, and never sharing a site/histology form with the type
_PRIORS_OK = {t: [pc for pc in _PRIOR_CANCERS if pc[1] != t and not any(
    f.lower() in pc[0].lower() for x in CANCER_TABLE[t]["hists"] + CANCER_TABLE[t]["sites"] for f in x["forms"])]
    for t in CANCER_TABLE}
_FAMILY = [("breast cancer", "breast"), ("colon cancer", "colorectal"), ("ovarian cancer", "ovary"),
           ("pancreatic cancer", "pancreas"), ("lung cancer", "lung"), ("prostate cancer", "prostate")]
_WORDS = {1: "well differentiated", 2: "moderately differentiated", 3: "poorly differentiated"}
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}
_GLEASON = {1: [(3, 3)], 2: [(3, 4)], 3: [(4, 3)], 4: [(4, 4), (3, 5), (5, 3)], 5: [(4, 5), (5, 4), (5, 5)]}
_SUBSTAGES = {"T1": "abc", "T2": "ab", "T3": "ab", "T4": "ab", "N1": "abc", "N2": "ab", "N3": "ab", "M1": "abc"}

_HEADERS = {
    "reason": ["REASON FOR VISIT:", "Reason for Visit -", "CC:", "Chief complaint:", "Reason for visit:"],
    "tx_site": ["TREATMENT SITE:", "Treatment site -", "Tx site:", "Site of treatment:"],
    "subjective": ["SUBJECTIVE:", "Subjective -", "HPI:", "History of present illness:", "S:"],
    "ros": ["REVIEW OF SYSTEMS (nursing):", "Nursing ROS -", "ROS:", "Review of systems:"],
    "objective": ["OBJECTIVE:", "Objective -", "Exam:", "Physical examination:", "O:"],
    "labs": ["LABS:", "Labs -", "Laboratory data:", "Pertinent labs:"],
    "assessment": ["ASSESSMENT AND PLAN:", "Assessment/Plan -", "A/P:", "Impression and plan:", "Assessment:"],
    "problems": ["Problem List:", "Active problems:", "Problem list -", "Problems:"],
}
_ROS = [("Constitutional", ["denies fever or chills", "reports mild fatigue", "no unintentional weight loss",
                            "reports poor appetite"]),
        ("Respiratory", ["no shortness of breath", "denies cough", "mild exertional dyspnea"]),
        ("Cardiovascular", ["denies chest pain or palpitations", "no leg swelling"]),
        ("GI", ["no nausea or vomiting", "denies abdominal pain", "reports intermittent constipation"]),
        ("GU", ["no dysuria", "denies hematuria"]), ("Neuro", ["denies headache or focal weakness", "no numbness"]),
        ("Psych", ["reports anxiety about upcoming treatment", "mood stable"]),
        ("Skin", ["no rash", "denies new lesions"])]
_EXAM = [["General: alert, oriented, in no acute distress.", "General: well-appearing, pleasant.",
          "General: appears fatigued."],
         ["HEENT: anicteric sclerae, moist mucous membranes.", "HEENT: oropharynx clear."],
         ["Lungs: clear to auscultation bilaterally.", "Lungs: scattered expiratory wheezes.", "Chest: no crackles."],
         ["Heart: regular rate and rhythm, no murmur.", "Heart: irregularly irregular rhythm."],
         ["Abdomen: soft, non-tender, non-distended.", "Abdomen: soft, mild epigastric tenderness."],
         ["Extremities: no edema.", "Extremities: trace bilateral ankle edema."],
         ["Neuro: grossly non-focal.", "Neuro: alert and oriented x3."], ["Skin: warm and dry.", "Skin: no jaundice."]]
_PMH = ["hypertension", "type 2 diabetes", "hyperlipidemia", "GERD", "hypothyroidism", "osteoarthritis", "COPD",
        "atrial fibrillation"]
_PLANS = ["Case to be discussed at multidisciplinary tumor board.",
          "Systemic therapy options reviewed with the patient.",
          "Referral to radiation oncology placed.", "Surgical consultation requested.",
          "Restaging imaging in 3 months.",
          "Genetic counseling referral offered.", "Return to clinic in 2 weeks to finalize plan."]

# ----------------------------------------------------------------------------- helpers
_PS, _PE = "\x01", "\x02"  # protected span markers: the OCR noise never touches text between them
#: the code character after _PS names the field(s) whose gold the span states ("tnm": a combined "pT2N1aM0")
_FIELD_CODES = {f: chr(0x11 + i) for i, f in enumerate([*PHENOTYPE_FIELDS, "tnm"])}
_CODE_FIELDS = {c: (("t_stage", "n_stage", "m_stage") if f == "tnm" else (f,)) for f, c in _FIELD_CODES.items()}
_SPAN = re.compile("\x01([\x11-\x19])(.*?)\x02", re.S)


def _p(s: str, field: str) -> str:
    """A gold-bearing phrase: protected from OCR noise and recorded as evidence for `field`."""
    return f"{_PS}{_FIELD_CODES[field]}{s}{_PE}"


def _spans(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """(clean text, [(start, end, field), ...]): where the text states each field's gold value."""
    out, spans, last, pos = [], [], 0, 0
    for m in _SPAN.finditer(marked):
        out.append(marked[last:m.start()])
        pos += m.start() - last
        for f in _CODE_FIELDS[m[1]]:
            spans.append((pos, pos + len(m[2]), f))
        out.append(m[2])
        pos += len(m[2])
        last = m.end()
    out.append(marked[last:])
    return "".join(out), spans


def _pick(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _stage_token(rng, cat: str, prefix: str, substage: bool) -> str:
    sub = rng.choice(_SUBSTAGES.get(cat, "")) if substage and cat in _SUBSTAGES and rng.random() < 0.4 else ""
    return f"{prefix}{cat}{sub}"


def _size_forms(rng, s: float) -> str:
    mm = round(s * 10)
    others = sorted({max(0.1, round(rng.uniform(0.35, 0.95) * s, 1)) for _ in range(2)} - {s}, reverse=True)
    others = [o for o in others if o < s] or [round(s / 2, 1) if s >= 0.2 else 0.1]
    dims = [s] + others
    k = rng.random()
    if k < 0.3:
        return f"{_fmt(s)} cm"
    if k < 0.5:
        return f"{mm} mm"
    if k < 0.75:
        order = dims[:]
        rng.shuffle(order)
        return " x ".join(_fmt(d) for d in order) + " cm"
    if k < 0.85:
        return " x ".join(str(round(d * 10)) for d in dims) + " mm"
    return f"{_fmt(s)} cm in greatest dimension"


def _grade_form(rng, system: str, g: int) -> str:
    if system == "gleason":
        p1, p2 = rng.choice(_GLEASON[g])
        return rng.choice([f"Gleason score {p1}+{p2}={p1 + p2} (Grade Group {g})", f"Gleason {p1}+{p2}={p1 + p2}",
                           f"ISUP Grade Group {g}", f"Gleason score {p1 + p2} ({p1}+{p2}), grade group {g}"])
    if system == "nottingham":
        s = rng.choice({1: (3, 4, 5), 2: (6, 7), 3: (8, 9)}[g])
        return rng.choice([f"Nottingham grade {g}", f"Nottingham histologic grade {g} (score {s}/9)",
                           f"Nottingham score {s}/9",
                           f"grade {_ROMAN[g]}", _WORDS[g]])
    if system == "isup":
        return rng.choice([f"WHO/ISUP grade {g}", f"Fuhrman nuclear grade {g}", f"ISUP nuclear grade {_ROMAN[g]}",
                           f"G{g}"])
    if system == "figo":
        return rng.choice([f"FIGO grade {g}", f"FIGO grade {g} of 3", _WORDS[g]])
    if system == "who_cns":
        return rng.choice([f"CNS WHO grade {g}", f"WHO grade {_ROMAN[g]}"])
    return rng.choice([_WORDS[g], f"grade {g}", f"G{g}", f"grade {_ROMAN[g]}", f"G{g} ({_WORDS[g]})"])


def _biomarker_text(rng, pieces) -> str:
    forms = []
    for marker, val in pieces:
        if marker == "PSA":
            forms.append(rng.choice([f"PSA {val} ng/mL", f"PSA of {val} ng/mL",
                                     f"prostate-specific antigen {val} ng/mL", f"PSA: {val}"]))
        else:
            forms.append(rng.choice(MARKER_FORMS[marker][0 if val else 1]))
    if len(forms) > 1 and all(" " not in f for f in forms) and rng.random() < 0.6:
        return "/".join(forms)
    return rng.choice([", ", "; "]).join(forms)


# ----------------------------------------------------------------------------- patient sampling
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


# ----------------------------------------------------------------------------- rendering
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
    hpi = [(f"{who} "
            f"{rng.choice(['referred for', 'presenting with', 'seen in consultation for', 'who presented with'])} "
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
                ("assessment", (f"{tbl['cancer'].capitalize()}, on {therapy}. Most recent imaging shows stable "
                                f"disease. {rng.choice(_PLANS)}"))]
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


# ----------------------------------------------------------------------------- OCR noise
_LUT = np.arange(256, dtype=np.uint8)
for _a, _b in (("l", "1"), ("1", "l"), ("O", "0"), ("0", "O")):
    _LUT[ord(_a)] = ord(_b)
_SUBST_MASK = np.zeros(256, dtype=bool)
_SUBST_MASK[[ord(c) for c in "l1O0"]] = True


def _finish(texts: list[str], rate: float, rng: np.random.Generator) -> list[str]:
    """Apply OCR-like noise outside protected spans (all texts in one vectorised pass); the span markers stay
    (``_spans`` reads and removes them)."""
    if rate <= 0 or not texts:
        return list(texts)
    a = np.frombuffer("\x03".join(texts).encode("ascii"), dtype=np.uint8)
    mark = (a == 1) | (a == 2)
    depth = np.cumsum((a == 1).astype(np.int32) - (a == 2).astype(np.int32))
    prot = (depth > 0) | mark | (a == 3)  # \x03 separates texts and is never touched
    prev_p = np.concatenate([[True], prot[:-1]])
    next_p = np.concatenate([prot[1:], [True]])
    nxt = np.concatenate([a[1:], [0]])
    hit = (rng.random(len(a)) < rate) & ~prot
    res = a.copy()
    sub = hit & _SUBST_MASK[a]
    res[sub] = _LUT[a[sub]]
    contract = hit & (a == ord("r")) & (nxt == ord("n")) & ~next_p  # rn -> m
    res[contract] = ord("m")
    drop = hit & (a == ord(" ")) & ~prev_p & ~next_p  # dropped spaces, never next to a gold span
    drop[1:] |= contract[:-1]
    expand = np.flatnonzero(hit & (a == ord("m")))  # m -> rn
    res[expand] = ord("r")
    res = np.insert(res, expand + 1, ord("n"))
    drop = np.insert(drop, expand + 1, False)
    return res[~drop].tobytes().decode("ascii").split("\x03")


# ----------------------------------------------------------------------------- general notes
_GENERAL = [
    ("Hypertension follow-up.", "Reports good adherence to lisinopril; home readings 130s/80s. Occasional headaches.",
     ("Essential hypertension, suboptimally controlled. Increase lisinopril to 20 mg daily; low-salt diet; "
      "recheck in 4 weeks.")),
    ("Diabetes visit.", "Type 2 diabetes on metformin; reports polyuria improved, no hypoglycemic episodes.",
     ("Type 2 diabetes mellitus without complications. HbA1c 7.4%. Continue metformin, add empagliflozin; "
      "foot exam today.")),
    ("Admission for pneumonia.", "Three days of productive cough, fever to 38.9 C and pleuritic chest pain.",
     "Community-acquired pneumonia, right lower lobe infiltrate on chest X-ray. Start ceftriaxone and azithromycin."),
    ("Knee pain consult.", "Chronic bilateral knee pain, worse with stairs; morning stiffness under 30 minutes.",
     ("Primary osteoarthritis of both knees. Physical therapy, weight loss, topical diclofenac; "
      "consider steroid injection.")),
    ("COPD exacerbation.", "Increased dyspnea and sputum for 4 days; uses albuterol 6 times daily.",
     "Acute exacerbation of COPD. Prednisone 40 mg for 5 days, doxycycline, nebulized bronchodilators."),
    ("Heart failure follow-up.", "Weight up 2 kg this week, two-pillow orthopnea, ankle swelling.",
     "Chronic systolic heart failure, mild volume overload. Increase furosemide; daily weights; low-sodium diet."),
    ("Urinary symptoms.", "Dysuria and frequency for 2 days, no flank pain, no fever.",
     "Acute uncomplicated cystitis. Nitrofurantoin for 5 days; increase fluids."),
    ("Asthma check.", "Night-time cough twice a week, rescue inhaler use increased with pollen season.",
     "Moderate persistent asthma, not well controlled. Start inhaled budesonide-formoterol; review inhaler technique."),
    ("Headache evaluation.", "Recurrent unilateral throbbing headaches with photophobia, 3 per month.",
     "Migraine without aura. Sumatriptan as needed; headache diary; sleep hygiene."),
    ("Low back pain.", "Lumbar pain after lifting boxes one week ago, no leg weakness, no bladder symptoms.",
     ("Acute mechanical low back pain without red flags. NSAIDs, activity as tolerated, "
      "physical therapy if persistent.")),
]


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
