"""What the paper reports for the models it compared, matched to a run's arms by name — shown beside our numbers in
chapter 30, labelled "reported by the paper", never mixed into them.

Only what ../shared/reference/cancerllm-paper-notes.md holds, with its source tags (§5 "Results recoverable" and
§9 "Facts from the published article's summary"). The article's per-model result table was not public: for every
model except CancerLLM itself the paper's statement is a comparison, not a score, and no number is made up here.
Used in notebooks/30_evaluation.ipynb.
"""

from __future__ import annotations

import re

import pandas as pd

from .metrics import REFERENCE_METRICS

TASKS = ("phenotype_extraction", "diagnosis_generation")
NOT_PUBLIC = "no per-model score public"

#: paper model -> the names an arm may carry for it, and what the paper says per task (notes section in `source`)
PAPER_MODELS = {
    "CancerLLM (7B)": {
        "aliases": ("cancer_cpt", "cancerllm"),
        "phenotype_extraction": "F1 91.78",
        "diagnosis_generation": "F1 86.81",
        "source": "abstract v3 / npj (notes §5)",
    },
    "Mistral 7B": {
        "aliases": ("mistral", "mistral7b", "mistral7binstruct", "mistral7binstructv01"),
        "phenotype_extraction": f"below CancerLLM (\"comparable 7B models\"); {NOT_PUBLIC}",
        "diagnosis_generation": f"CancerLLM ahead by 31.7% average F1 (EM, BLEU-2, ROUGE-L); {NOT_PUBLIC}",
        "source": "npj summary (notes §9)",
    },
    "BioMistral 7B": {
        "aliases": ("biomistral", "biomistral7b"),
        "phenotype_extraction": f"below CancerLLM (\"comparable 7B models\"); {NOT_PUBLIC}",
        "diagnosis_generation": f"CancerLLM ahead by 17.92% average F1 (EM, BLEU-2, ROUGE-L); {NOT_PUBLIC}",
        "source": "npj summary (notes §9)",
    },
    "LLaMA3 8B": {
        "aliases": ("llama38b", "metallama38b", "llama38binstruct"),
        "phenotype_extraction": f"on par with CancerLLM; {NOT_PUBLIC}",
        "diagnosis_generation": f"below CancerLLM; {NOT_PUBLIC}",
        "source": "npj summary (notes §9)",
    },
    "LLaMA2 13B": {
        "aliases": ("llama213b", "llama213bhf"),
        "phenotype_extraction": f"on par with CancerLLM; {NOT_PUBLIC}",
        "diagnosis_generation": f"below CancerLLM; {NOT_PUBLIC}",
        "source": "npj summary (notes §9)",
    },
    "ClinicalCamel 70B": {
        "aliases": ("clinicalcamel", "clinicalcamel70b"),
        "phenotype_extraction": f"highest of all models (at a large time and GPU-memory cost); {NOT_PUBLIC}",
        "diagnosis_generation": f"below CancerLLM; {NOT_PUBLIC}",
        "source": "abstract v1 (notes §5), npj summary (notes §9)",
    },
    "Llama3-OpenBioLLM 70B": {
        "aliases": ("openbiollm", "openbiollm70b", "llama3openbiollm70b"),
        "phenotype_extraction": f"named as a baseline; {NOT_PUBLIC}",
        "diagnosis_generation": f"below CancerLLM (it beat models up to 70B); {NOT_PUBLIC}",
        "source": "abstract v1 (notes §5), npj summary (notes §9)",
    },
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def paper_model(arm: str) -> str | None:
    """The paper model an arm's name stands for (``PAPER_MODELS`` aliases, ignoring case, '_', '-' and '.'), or
    None: e.g. mistral, Mistral-7B, biomistral_7b, llama3_8b; cancer_cpt stands for CancerLLM."""
    key = _key(arm)
    return next((m for m, r in PAPER_MODELS.items() if key in {_key(a) for a in r["aliases"]}), None)


def beside_ours(scores: pd.DataFrame, systems: list[str]) -> pd.DataFrame:
    """One row per LM system of this run: our mean F1 over EM, BLEU-2 and the reference "ROUGE-L" (×100; the
    paper's summary compares models by that average) per task, then — for a system whose name matches a model the
    paper compared — what the paper reports for that model, in columns labelled "reported by the paper"."""
    rows = {}
    ref = scores[scores["metric"].isin(REFERENCE_METRICS) & (scores["metric"] != "rouge_l")]
    for system in systems:
        mine = ref[ref["system"] == system]
        row = {f"ours: {t} (mean F1 EM/BLEU-2/ROUGE-L)": round(float(mine[mine["task"] == t]["f1"].mean()), 1)
               if (mine["task"] == t).any() else None for t in TASKS}
        model = paper_model(system)
        rec = PAPER_MODELS.get(model, {})
        row["paper model"] = model or "—"
        for t in TASKS:
            row[f"reported by the paper: {t}"] = rec.get(t, "—")
        row["source"] = rec.get("source", "—")
        rows[system] = row
    return pd.DataFrame(rows).T
