"""Probe: one ablation arm re-tuned from a finished run's CPT result with a changed SFT recipe (any Config keys),
scored on the run's own test instances (phenotype and diagnosis, reference-scorer F1) and on every test diagnosis
(the book scores a capped, field-balanced subset), beside TF-IDF and rule fitted on the same train split.
Usage: python benchmarks/probe_sft_recipe.py runs/demo cancer_cpt [key=value ...]
Prints one JSON line (last line). Minutes: one SFT run of the arm plus its test predictions.
"""
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cancerllm import inference, instructions, pipeline, training
from cancerllm.config import parse_override
from cancerllm.data.loaders import load_cohort
from cancerllm.evaluation import predict_baselines, run_config
from cancerllm.metrics import corpus_prf

run, arm, overrides = sys.argv[1], sys.argv[2], dict(parse_override(o) for o in sys.argv[3:])
base_cfg = run_config(run)
out = Path("/tmp/probe_sft") / "_".join(f"{k}-{v}" for k, v in overrides.items()) / arm
cfg = replace(base_cfg, **overrides)
cohort = load_cohort(cfg)
model, tok = pipeline.load_init(base_cfg, arm)
t0 = time.time()
sets = pipeline.instruction_sets(cfg, cohort, tok)
model, met = training.run_sft(cfg, model, tok, sets["sft_train"], sets["sft_dev"], out)
sft_s = round(time.time() - t0, 1)
test = pipeline.load_sets(base_cfg)["test"]  # the run's own capped test instances
full = instructions.build_instructions(cohort, "test", tok, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
dx_all = full[full.task == "diagnosis_generation"].reset_index(drop=True)
model.eval()
kw = pipeline.reading(cfg)
_, P = inference.predict(model, tok, test, cfg.max_new_tokens, cfg.eval_batch_size, **kw)
_, D = inference.predict(model, tok, dx_all, cfg.max_new_tokens, cfg.eval_batch_size, **kw)
B = predict_baselines(sets["train"], test, cfg.seed)
BD = predict_baselines(sets["train"], dx_all, cfg.seed)


def f1(df, preds, task):
    m = (df.task == task).to_numpy()
    return round(corpus_prf([list(g) for g, k in zip(df.answers, m) if k], [p for p, k in zip(preds, m) if k],
                            "rouge_l_reference")["f1"], 1)


res = {"arm": arm, "overrides": overrides, "sft_seconds": sft_s, "steps": met["steps"],
       "best": met.get("best_checkpoint"), "sft_examples": len(sets["sft_train"]),
       "phenotype": {arm: f1(test, P, "phenotype_extraction"), **{k: f1(test, v, "phenotype_extraction") for k, v in B.items()}},
       "diagnosis_capped": {arm: f1(test, P, "diagnosis_generation"), **{k: f1(test, v, "diagnosis_generation") for k, v in B.items()}},
       "diagnosis_all": {arm: f1(dx_all, D, "diagnosis_generation"), **{k: f1(dx_all, v, "diagnosis_generation") for k, v in BD.items()}},
       "distinct_phenotype": len({tuple(p) for p, t in zip(P, test.task) if t == "phenotype_extraction"})}
print(json.dumps(res))
