"""Probe: diagnosis decoded greedily vs chosen among the tuning split's titles by the tuned model's likelihood (same
weights, a finished run). Usage: python benchmarks/probe_diagnosis_ranking.py runs/demo [test|dev]
Decided (2026-12-06, runs/demo at 41ba89c): ranking adds ~1 F1 point (cancer_cpt 82.1 -> 83.2); not adopted.
"""
import sys
import time

import numpy as np
import torch

from cancerllm import inference, pipeline
from cancerllm.evaluation import run_config
from cancerllm.metrics import corpus_prf
run = sys.argv[1]
split = sys.argv[2] if len(sys.argv) > 2 else "test"
cfg = run_config(run)
sets = pipeline.load_sets(cfg)
dx = sets[split][sets[split].task == "diagnosis_generation"].reset_index(drop=True)
tr = sets["train"][sets["train"].task == "diagnosis_generation"]
titles = sorted(set(tr.response))
print(split, len(dx), "titles", len(titles))
gold = [list(x) for x in dx.answers]


@torch.no_grad()
def rank(model, tok, prompt):
    p = tok(prompt, add_special_tokens=True)["input_ids"]
    seqs = [p + tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in titles]
    width, pad = max(map(len, seqs)), tok.pad_token_id or 0
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
    att = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    logits = model(input_ids=ids, attention_mask=att).logits.log_softmax(-1)
    sc = []
    for i, s in enumerate(seqs):
        tgt = torch.tensor(s[len(p):])
        lp = logits[i, len(p) - 1:len(s) - 1].gather(1, tgt[:, None]).sum().item()
        sc.append(lp)
    return titles[int(np.argmax(sc))]
for name in cfg.ablation_models:
    model, tok = pipeline.load_tuned(cfg, name)
    t0 = time.time()
    _, greedy = inference.predict(model, tok, dx, cfg.max_new_tokens, cfg.eval_batch_size)
    ranked = [inference.parse_answer(rank(model, tok, pr)) for pr in dx.prompt]
    f = lambda P: round(corpus_prf(gold, P, "rouge_l_reference")["f1"], 1)
    ex = lambda P: round(100 * np.mean([g == q for g, q in zip(gold, P)]), 1)
    print(name, "greedy", f(greedy), ex(greedy), "ranked", f(ranked), ex(ranked), f"{time.time()-t0:.0f}s", flush=True)
