"""Probe: diagnosis tuned to answer "site: <treatment-site phrase as written>; diagnosis: <title>" instead of the
title alone (the model copies the site words next to where it writes the title). Same tuning rows, steps and
CPT init as a finished run's cancer_cpt arm; scores the title part on the run's test diagnoses. Usage:
  python benchmarks/probe_diagnosis_site_first.py runs/demo [--arm cancer_cpt] [--out /tmp/probe/site_first]
Prints one JSON line (last line). Not part of the book.
Decided (2026-12-06, runs/demo at 41ba89c, cancer_cpt, 1200 steps): test F1 82.7, exact 60% against 82.1 / 65% for
the title alone; the copied site does not fix the cross-type confusions. Not adopted.
"""
import argparse
import json
import re
from pathlib import Path

import numpy as np

from cancerllm import inference, pipeline, training
from cancerllm.evaluation import run_config
from cancerllm.metrics import corpus_prf

ap = argparse.ArgumentParser()
ap.add_argument("run")
ap.add_argument("--arm", default="cancer_cpt")
ap.add_argument("--out", default="/tmp/probe/site_first")
a = ap.parse_args()

cfg = run_config(a.run)
sets = pipeline.load_sets(cfg)
SITE = re.compile(r"(?im)^[ \t]*(?:treatment site|tx site|site of treatment)[ \t]*[:\-]?[ \t]*(.*)$")


def site_phrase(context: str) -> str:
    m = SITE.search(context)
    if not m:
        return "none"
    if m.group(1).strip():
        return m.group(1).strip()
    rest = [x.strip() for x in context[m.end():].splitlines() if x.strip()]
    return rest[0] if rest else "none"


def site_first(df):
    df = df.copy()
    dx = df.task == "diagnosis_generation"
    df.loc[dx, "completion"] = [f"site: {site_phrase(c)}; diagnosis: {r}" for c, r in
                                zip(df.loc[dx, "context"], df.loc[dx, "response"])]
    return df


train, dev = site_first(sets["sft_train"]), site_first(sets["sft_dev"])
model, tok = pipeline.load_init(cfg, a.arm)
model, _ = training.run_sft(cfg, model, tok, train, dev, Path(a.out) / a.arm)
test = sets["test"][sets["test"].task == "diagnosis_generation"].reset_index(drop=True)
out = inference.generate(model, tok, list(test.prompt), 2 * cfg.max_new_tokens, cfg.eval_batch_size)
preds = [inference.parse_answer(o.split("diagnosis:", 1)[1] if "diagnosis:" in o else o) for o in out]
gold = [list(x) for x in test.answers]
print(json.dumps({"arm": a.arm, "n": len(test), "steps": cfg.sft_max_steps,
                  "f1": round(corpus_prf(gold, preds, "rouge_l_reference")["f1"], 1),
                  "exact": round(100 * float(np.mean([g == p for g, p in zip(gold, preds)])), 1),
                  "distinct": len({", ".join(p) for p in preds}), "examples": out[:3]}))
