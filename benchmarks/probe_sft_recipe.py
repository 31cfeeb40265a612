"""Probe: one ablation arm re-tuned from a finished run's CPT result with a changed SFT recipe (any Config keys)
and/or another trainer seed (`--seed N`: only the order the tuning examples are drawn in; the data, the init and
the recipe stay the run's), scored like the book: reference-scorer F1 on the run's own capped dev and test
instances (phenotype and diagnosis), on every test diagnosis (the book scores a capped, field-balanced subset),
and counterfactual evidence-following on chapter 40's cases; beside TF-IDF and rule fitted on the same train
split. With no key and the run's seed it reproduces the run's arm exactly.
Usage: python benchmarks/probe_sft_recipe.py runs/demo cancer_cpt [--seed N] [key=value ...]
Prints one JSON line (last line). Minutes: one SFT run of the arm plus its predictions.
"""
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from cancerllm import inference, instructions, pipeline, training
from cancerllm import robustness as rb
from cancerllm.config import parse_override
from cancerllm.data.loaders import load_cohort
from cancerllm.evaluation import predict_baselines, run_config
from cancerllm.metrics import corpus_prf

run, arm, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
base_cfg = run_config(run)
seed = int(rest[rest.index("--seed") + 1]) if "--seed" in rest else base_cfg.seed
overrides = dict(parse_override(o) for o in rest if "=" in o)
out = Path("/tmp/probe_sft") / "_".join([f"seed-{seed}", *(f"{k}-{v}" for k, v in overrides.items())]) / arm
shutil.rmtree(out, ignore_errors=True)  # never resume an earlier probe's checkpoints (trained on other code's examples)
cfg = replace(base_cfg, **overrides)
cohort = load_cohort(cfg)
model, tok = pipeline.load_init(base_cfg, arm)
t0 = time.time()
sets = pipeline.instruction_sets(cfg, cohort, tok)  # the run's seed: the same tuning examples for every --seed
model, met = training.run_sft(replace(cfg, seed=seed), model, tok, sets["sft_train"], sets["sft_dev"], out)
sft_s = round(time.time() - t0, 1)
run_sets = pipeline.load_sets(base_cfg)  # the run's own capped dev and test instances
test = run_sets["test"]
full = instructions.build_instructions(cohort, "test", tok, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
dx_all = full[full.task == "diagnosis_generation"].reset_index(drop=True)
bed = rb.build_testbed(test, [0.0], False, 1, base_cfg.seed, base_cfg.counterfactual_max_instances)
bed = bed[bed.condition == "counterfactual"].reset_index(drop=True)
model.eval()
kw = pipeline.reading(cfg)


def predict(df):
    return inference.predict(model, tok, df, cfg.max_new_tokens, cfg.eval_batch_size, **kw)[1]


P, D, V = predict(test), predict(dx_all), predict(run_sets["dev"])
B = predict_baselines(sets["train"], test, cfg.seed)
BD = predict_baselines(sets["train"], dx_all, cfg.seed)


def f1(df, preds, task):
    m = (df.task == task).to_numpy()
    return round(corpus_prf([list(g) for g, k in zip(df.answers, m) if k], [p for p, k in zip(preds, m) if k],
                            "rouge_l_reference")["f1"], 1)


outcomes = rb.counterfactual_outcomes(bed, {arm: [list(p) for p in predict(bed)]})
res = {"arm": arm, "seed": seed, "overrides": overrides, "sft_seconds": sft_s, "steps": met["steps"],
       "best": met.get("best_checkpoint"), "sft_examples": len(sets["sft_train"]),
       "phenotype": {arm: f1(test, P, "phenotype_extraction"), **{k: f1(test, v, "phenotype_extraction") for k, v in B.items()}},
       "diagnosis_capped": {arm: f1(test, P, "diagnosis_generation"), **{k: f1(test, v, "diagnosis_generation") for k, v in B.items()}},
       "diagnosis_all": {arm: f1(dx_all, D, "diagnosis_generation"), **{k: f1(dx_all, v, "diagnosis_generation") for k, v in BD.items()}},
       "dev_phenotype": f1(run_sets["dev"], V, "phenotype_extraction"),
       "dev_diagnosis": f1(run_sets["dev"], V, "diagnosis_generation"),
       "evidence_following": round(100 * (outcomes.outcome == "evidence").mean(), 1), "n_counterfactual": len(bed),
       "distinct_phenotype": len({tuple(p) for p, t in zip(P, test.task) if t == "phenotype_extraction"})}
print(json.dumps(res))
