"""Probe: can the demo-shaped model learn diagnosis generation (treatment site + assessment -> ICD title) from the
demo's 210 labelled diagnoses alone?

Tunes a fresh random model (no CPT, no phenotype QA) on the train split's diagnosis instances only, then scores
greedy diagnoses on the train split (memorisation) and the test split (generalisation) against TF-IDF fitted on
the same train split. `--augment 1` adds, per instance, each section of its input alone and the sections
shuffled (same labels: a test of whether the model can be made to key on the site words). Usage:
  python benchmarks/probe_diagnosis.py --steps 150 [--augment 1]
Prints one JSON line (last line). Decided that diagnosis is not a budget problem; not part of the book.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cancerllm import baselines, inference, instructions, modeling, training
from cancerllm.config import make_config
from cancerllm.data.synthetic import generate_cohort
from cancerllm.metrics import corpus_prf

ap = argparse.ArgumentParser()
ap.add_argument("--patients", type=int, default=300)
ap.add_argument("--steps", type=int, default=150)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--hidden", type=int, default=128)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--augment", type=int, default=0, help="1 = add each input section alone and the sections shuffled")
ap.add_argument("--unlabelled", type=int, default=0, help="unlabelled patients' notes added to the cancer CPT corpus")
ap.add_argument("--cpt-steps", type=int, default=0, help="cancer CPT steps before tuning (0 = none)")
ap.add_argument("--cpt-block", type=int, default=256)
ap.add_argument("--cpt-batch", type=int, default=8)
ap.add_argument("--out", default="/tmp/probe/diagnosis")
a = ap.parse_args()

cfg = make_config({"n_patients": a.patients, "sft_max_steps": a.steps, "sft_per_device_train_batch_size": a.batch,
                   "sft_learning_rate": a.lr, "hidden_size": a.hidden, "num_hidden_layers": a.layers,
                   "intermediate_size": 3 * a.hidden, "sft_adapter": "full", "eval_steps": max(a.steps // 2, 1),
                   "save_steps": max(a.steps // 2, 1), "cpt_max_steps": max(a.cpt_steps, 1), "cpt_use_lora": False, "cpt_block_size": a.cpt_block,
                   "cpt_per_device_train_batch_size": a.cpt_batch, "cpt_learning_rate": 1e-3, "runs_root": a.out})
cohort = generate_cohort(a.patients, seed=cfg.seed, n_general_notes=a.patients, n_unlabelled=a.unlabelled)
corpora = training.cpt_corpora(cohort, cfg.seed)
tok = modeling.train_tokenizer(corpora["cancer"]["train"] + corpora["general"]["train"] + instructions.frame_texts(),
                               cfg.vocab_size, split_digits=True)
model = modeling.build_small_model(cfg, tok)
t0 = time.time()
if a.cpt_steps > 0:
    model, _ = training.run_cpt(cfg, model, tok, corpora["cancer"]["train"], Path(a.out) / "cpt")
t_cpt = round(time.time() - t0, 1)
notes = {s: instructions.build_instructions(cohort, s, tok, 256, 24, "short") for s in ("train", "test")}
dx = {s: d[d.task == "diagnosis_generation"].reset_index(drop=True) for s, d in notes.items()}


train = pd.concat([dx["train"], instructions.section_views(dx["train"], "short", cfg.seed)], ignore_index=True) \
    if a.augment else dx["train"]
t0 = time.time()
model, _ = training.run_sft(cfg, model, tok, train, dx["train"].sample(32, random_state=0), Path(a.out) / "sft")
res = {"args": vars(a), "tuning_rows": len(train), "labelled": len(dx["train"]),
       "titles": int(dx["train"].response.nunique()), "t_sft": round(time.time() - t0, 1), "t_cpt": t_cpt}
for split, d in dx.items():
    _, preds = inference.predict(model, tok, d, 32, 64)
    gold = [list(x) for x in d.answers]
    res[f"{split}_f1"] = round(corpus_prf(gold, preds, "rouge_l_reference")["f1"], 1)
    res[f"{split}_exact"] = round(100 * float(np.mean([g == p for g, p in zip(gold, preds)])), 1)
    res[f"{split}_distinct"] = len({", ".join(p) for p in preds})
tfidf = baselines.predict_all(notes["train"], dx["test"], cfg.seed)["tfidf_logreg"]
res["test_tfidf_f1"] = round(corpus_prf([list(x) for x in dx["test"].answers], tfidf, "rouge_l_reference")["f1"], 1)
print(json.dumps(res))
