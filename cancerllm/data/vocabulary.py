"""The synthetic generator's data tables (no code but what builds them): the 17 cancer types (``CANCER_TABLE``,
one ``_t(...)`` row per type: sites, histologies, grading system, size range, TNM, biomarkers, ...), the cancer
words (``CANCER_TERMS``), the biomarker wordings (``MARKER_FORMS``), the distractors (prior cancers, family
history) and the phrases the notes are written with (section headers, ROS, exam, plans, general notes).
Used by ``data.synthetic`` and by the robustness chapter's counterfactual testbed.
"""

from __future__ import annotations

from .schema import CANCER_TYPES

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
