"""Probe: does the small demo-shaped model read its notes under the sentence-level QA framing?

Trains one model (optionally after a CPT run) on sentence-level phenotype QA + diagnosis and scores note-level
answers against TF-IDF on the same test instances. Usage:
  python benchmarks/probe_reading.py --patients 600 --steps 600 --batch 16 --lr 3e-3 [--cpt-steps 0]
Prints one JSON line. Decides SFT budgets; not part of the book.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from cancerllm import baselines, inference, instructions, modeling, pipeline, training
from cancerllm.config import make_config
from cancerllm.data.synthetic import generate_cohort
from cancerllm.metrics import corpus_prf

ap = argparse.ArgumentParser()
ap.add_argument("--patients", type=int, default=600)
ap.add_argument("--steps", type=int, default=600)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--neg", type=float, default=2.0)
ap.add_argument("--cpt-steps", type=int, default=0)
ap.add_argument("--hidden", type=int, default=128)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--test-patients", type=int, default=40)
ap.add_argument("--dx-repeat", type=int, default=1)
ap.add_argument("--unlabelled", type=int, default=0)
ap.add_argument("--cpt-corpus", default="cancer")
ap.add_argument("--digits", type=int, default=1, help="1 = split numbers into digits (modeling.train_tokenizer)")
ap.add_argument("--cf-max", type=int, default=96, help="counterfactual instances scored (0 = none)")
ap.add_argument("--phrases", type=int, default=1, help="1 = passages answered with the phrase as written + "
                "normalise.AnswerNormaliser (the book's framing); 0 = answered with the label itself")
ap.add_argument("--out", default="/tmp/probe/run")
ap.add_argument("--copy", type=int, default=0, help="1 = copy-constrained decoding of passage answers")
ap.add_argument("--load", default="", help="skip tuning: load the tuned model from this folder")
ap.add_argument("--dump", default="", help="write per-row gold / answer / passage phrases here (jsonl)")
a = ap.parse_args()

cfg = make_config({"n_patients": a.patients, "sft_max_steps": a.steps, "sft_per_device_train_batch_size": a.batch,
                   "sft_learning_rate": a.lr, "hidden_size": a.hidden, "num_hidden_layers": a.layers,
                   "intermediate_size": 3 * a.hidden, "sft_adapter": "full", "eval_steps": max(a.steps // 4, 1),
                   "save_steps": max(a.steps // 4, 1), "cpt_max_steps": max(a.cpt_steps, 1), "cpt_use_lora": False,
                   "cpt_learning_rate": 1e-3, "cpt_per_device_train_batch_size": 8, "cpt_block_size": 256,
                   "runs_root": a.out})
cohort = generate_cohort(a.patients, seed=cfg.seed, n_general_notes=a.patients + a.unlabelled, n_unlabelled=a.unlabelled)
corpora = training.cpt_corpora(cohort, cfg.seed)
tok = modeling.train_tokenizer(corpora["cancer"]["train"] + corpora["general"]["train"] + instructions.frame_texts(),
                               cfg.vocab_size, split_digits=bool(a.digits))
model = modeling.build_small_model(cfg, tok)
t0 = time.time()
if a.cpt_steps > 0:
    model, _ = training.run_cpt(cfg, model, tok, corpora[a.cpt_corpus]["train"], Path(a.out) / "cpt")
t_cpt = time.time() - t0
style = "short"
ph = instructions.sentence_examples(cohort, "train", style, a.neg, cfg.seed)

def labels_only(df):  # --phrases 0, the old framing: every positive passage answered with the note's label
    return df if a.phrases else df.assign(response=df.gold.fillna(df.response), completion=df.gold.fillna(df.completion))


ph = labels_only(ph)
dx = instructions.build_instructions(cohort, "train", tok, 256, 24, style)
dxr = dx[dx.task == "diagnosis_generation"]
train = instructions.cap_examples(__import__("pandas").concat([ph] + [dxr] * a.dx_repeat), -1, cfg.seed)
dev_ph = labels_only(instructions.sentence_examples(cohort, "dev", style, a.neg, cfg.seed))
dev = dev_ph.sample(min(96, len(dev_ph)), random_state=0)
ntok = sum(len(x) for x in tok(list(train.prompt + train.completion))["input_ids"])
t0 = time.time()
if a.load:
    model, m = modeling.load_model(a.load)[0], {"log_history": []}
else:
    model, m = training.run_sft(cfg, model, tok, train, dev, Path(a.out) / "sft")
t_sft = time.time() - t0
test = instructions.build_instructions(cohort, "test", tok, 256, 24, style)
pids = sorted(test.patient_id.unique())[: a.test_patients]
test = test[test.patient_id.isin(pids)].reset_index(drop=True)
t0 = time.time()
from cancerllm.normalise import AnswerNormaliser

norm = AnswerNormaliser().fit(ph) if a.phrases else None
raw, preds, det = inference.predict(model, tok, test, 24, 64, return_details=True, normaliser=norm, copy=bool(a.copy))
t_inf = time.time() - t0
trainnote = instructions.build_instructions(cohort, "train", tok, 256, 24, style)
base = baselines.predict_all(trainnote, test, cfg.seed)
res = {"args": vars(a), "train_examples": len(train), "train_tokens_epoch": ntok, "epochs": a.steps * a.batch / len(train),
       "t_cpt": round(t_cpt, 1), "t_sft": round(t_sft, 1), "t_inf": round(t_inf, 1),
       "passage_prompts": det["passage_prompts"], "generated": det["generated"],
       "dev_loss": min([h["eval_loss"] for h in m["log_history"] if "eval_loss" in h] or [None])}
for task in instructions.TASKS:
    mask = (test.task == task).to_numpy()
    g = [list(x) for x in test.answers[mask]]
    for name, p in [("lm", preds), ("tfidf", base["tfidf_logreg"]), ("rule", base["rule"])]:
        sub = [p[i] for i in np.flatnonzero(mask)]
        res[f"{task[:5]}_{name}"] = round(corpus_prf(g, sub, "rouge_l_reference")["f1"], 1)
    res[f"{task[:5]}_distinct"] = len({", ".join(preds[i]) for i in np.flatnonzero(mask)})
mask = (test.task == "phenotype_extraction").to_numpy()
for f in cohort.fields:
    idx = np.flatnonzero((test.field == f).to_numpy())
    res[f"acc_{f}"] = round(100 * float(np.mean([[x.lower() for x in test.answers[i]] == [x.lower() for x in preds[i]]
                                                 for i in idx])), 1)
    res[f"f_{f}"] = round(corpus_prf([list(test.answers[i]) for i in idx], [preds[i] for i in idx], "rouge_l_reference")["f1"], 1)
# counterfactual evidence-following (chapter 40's testbed, every editable test row up to --cf-max)
from cancerllm import robustness
from cancerllm.robustness.scoring import _same

cf, _ = robustness.counterfactual_set(test, a.cf_max, cfg.seed)
if len(cf):
    cf = cf.reset_index(drop=True)
    _, cfp = inference.predict(model, tok, cf, 24, 64, normaliser=norm, copy=bool(a.copy))
    res["cf_n"] = len(cf)
    res["cf_evidence"] = round(100 * float(np.mean([_same(g, p) for g, p in zip(cf.answers, cfp)])), 1)
    res["cf_prior"] = round(100 * float(np.mean([_same(g, p) for g, p in zip(cf.original_answers, cfp)])), 1)
    for f in sorted(set(cf.field)):
        idx = np.flatnonzero((cf.field == f).to_numpy())
        res[f"cf_{f}"] = round(100 * float(np.mean([_same(cf.answers[i], cfp[i]) for i in idx])), 1)
if a.dump:
    with open(a.dump, "w") as fh:
        rows = [r for r in range(len(test)) if test.task[r] == "phenotype_extraction"]
        for r, d in zip(rows, det["rows"]):
            fh.write(json.dumps({"set": "test", "field": test.field[r], "gold": list(test.answers[r]),
                                 "pred": preds[r], "phrases": d["phrases"]}) + "\n")
        for i in range(len(cf)):
            fh.write(json.dumps({"set": "cf", "field": cf.field[i], "gold": list(cf.answers[i]),
                                 "orig": list(cf.original_answers[i]), "pred": cfp[i]}) + "\n")
print(json.dumps(res))
