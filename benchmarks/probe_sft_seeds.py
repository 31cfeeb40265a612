"""Probe: how much of an arm's score is the run? One ablation arm re-tuned from a finished run's CPT result with a
different trainer seed (the order the tuning examples are drawn in; the data, the init and the recipe stay the
run's, unless key=value overrides change the recipe), scored like the book: reference-scorer "ROUGE-L" F1 on the
run's capped dev and test instances (phenotype, diagnosis), on every test diagnosis, and counterfactual
evidence-following on the chapter 40 cases.
Usage: python benchmarks/probe_sft_seeds.py runs/demo cancer_cpt SEED [key=value ...]
Prints one JSON line (last line). Minutes: one SFT run of the arm plus its predictions.
"""
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from cancerllm import inference, instructions, pipeline, training
from cancerllm import robustness as rb
from cancerllm.config import parse_override
from cancerllm.data.loaders import load_cohort
from cancerllm.evaluation import run_config
from cancerllm.metrics import corpus_prf

run, arm, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
overrides = dict(parse_override(o) for o in sys.argv[4:])
base = run_config(run)
cfg = replace(base, **overrides)
cohort = load_cohort(base)
model, tok = pipeline.load_init(base, arm)
sets = pipeline.instruction_sets(cfg, cohort, tok)  # the run's seed: the same tuning examples for every SFT seed
out = Path("/tmp/probe_sft_seeds") / "_".join([arm, f"seed{seed}", *(f"{k}-{v}" for k, v in overrides.items())])
t0 = time.time()
model, met = training.run_sft(replace(cfg, seed=seed), model, tok, sets["sft_train"], sets["sft_dev"], out)
sft_s = round(time.time() - t0, 1)
model.eval()
run_sets = pipeline.load_sets(base)
full = instructions.build_instructions(cohort, "test", tok, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
dx_all = full[full.task == "diagnosis_generation"].reset_index(drop=True)
bed = rb.build_testbed(run_sets["test"], [0.0], False, 1, base.seed, base.counterfactual_max_instances)
bed = bed[bed.condition == "counterfactual"].reset_index(drop=True)
kw = pipeline.reading(cfg)


def predict(df):
    return inference.predict(model, tok, df, cfg.max_new_tokens, cfg.eval_batch_size, **kw)[1]


def f1(df, preds, task):
    m = (df.task == task).to_numpy()
    return round(corpus_prf([list(g) for g, k in zip(df.answers, m) if k], [p for p, k in zip(preds, m) if k],
                            "rouge_l_reference")["f1"], 1)


scores = {}
for name in ("dev", "test"):
    P = predict(run_sets[name])
    scores[f"{name}_phenotype"] = f1(run_sets[name], P, "phenotype_extraction")
    scores[f"{name}_diagnosis"] = f1(run_sets[name], P, "diagnosis_generation")
scores["test_diagnosis_all"] = f1(dx_all, predict(dx_all), "diagnosis_generation")
outcomes = rb.counterfactual_outcomes(bed, {arm: [list(p) for p in predict(bed)]})
scores["evidence_following"] = round(100 * (outcomes.outcome == "evidence").mean(), 1)
print(json.dumps({"arm": arm, "seed": seed, "overrides": overrides, "sft_seconds": sft_s, "steps": met["steps"],
                  "best": met.get("best_checkpoint"), "n_counterfactual": len(bed), **scores}))
