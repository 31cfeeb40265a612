"""An external-validation cohort from public data: MTSamples "Hematology - Oncology" notes with the diagnosis
weakly labelled from their titles (sample_name + description) as a TCGA cancer-type name.

Weak labels, our design: a keyword table maps a title to one TCGA cancer type; notes whose title names no
TCGA type (benign, haematological, ambiguous) are left out. The notes come from another source and writing
style than TCGA reports, so this tests transfer, like the paper's independent-cohort evaluation.
Used by `python -m cancerllm evaluate --data mtsamples-oncology`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .loaders import ONCOLOGY_SPECIALTY, load_mtsamples, read_table

#: (title pattern, TCGA code) — first match wins; order puts specific forms before generic ones
KEYWORDS = [
    # lung only when the histology is named (NSCLC alone could be LUAD or LUSC; small cell is neither)
    (r"squamous cell carcinoma of the lung|lung.*squamous", "LUSC"),
    (r"lung.*adenocarcinoma|adenocarcinoma of the lung", "LUAD"),
    (r"breast|mastectomy|ductal carcinoma", "BRCA"),
    (r"rectal|rectum", "READ"),
    (r"colon|colorectal|sigmoid", "COAD"),
    (r"prostat", "PRAD"),
    (r"thyroid", "THCA"),
    (r"bladder|urothelial", "BLCA"),
    (r"renal cell|kidney", "KIRC"),
    (r"melanoma", "SKCM"),
    (r"pancrea", "PAAD"),
    (r"hepatocellular|liver cancer", "LIHC"),
    (r"gastric|stomach", "STAD"),
    (r"esophag", "ESCA"),
    (r"cervi", "CESC"),
    (r"tongue|head and neck|laryn|oral cavity", "HNSC"),
    (r"mesothelioma", "MESO"),
    (r"testic", "TGCT"),
]


def weak_label(title: str, names: dict) -> str | None:
    t = title.lower()
    for pattern, code in KEYWORDS:
        if re.search(pattern, t):
            return names[code]
    return None


def mtsamples_oncology(data_dir: Path, out_path: Path) -> pd.DataFrame:
    """Write the weakly labelled cohort as a custom-schema CSV (patient_id, note_id, note_type, text, diagnosis)."""
    names = dict(read_table(Path(data_dir) / "tcga-reports" / "labels" / "tcga_cancer_type_names.csv")
                 .iloc[:, :2].itertuples(index=False, name=None))
    df = load_mtsamples(data_dir)
    onc = df[df["all_specialties_for_text"].fillna("").str.contains(ONCOLOGY_SPECIALTY, regex=False)]
    titles = onc["sample_name"].fillna("") + " " + onc["description"].fillna("")
    labels = titles.map(lambda t: weak_label(t, names))
    keep = onc[labels.notna()]
    out = pd.DataFrame({"patient_id": "MTS-" + keep["transcription_sha1"].str[:12],
                        "note_id": "MTS-" + keep["transcription_sha1"].str[:12] + "-N1",
                        "note_type": "clinical_note", "text": keep["transcription"],
                        "diagnosis": labels[labels.notna()].to_numpy()})
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(out_path, index=False)
    return out
