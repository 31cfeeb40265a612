"""Probe: histology spelled with and without the model's own diagnosis of the report (normalise.CONTEXT_FIELDS),
same weights, same test instances, every phenotype field scored too. Usage:
    python benchmarks/probe_histology_context.py runs/tcga [ARM ...]
Decided (2026-12-08, runs/tcga at ea61551, cancer_cpt): histology F1 45.7 -> 49.5 (exact 29.9 -> 36.7%), phenotype
38.3 -> 39.3 with the context: adopted. The synthetic cohort's labels do not name the organ (demo stage 30 identical).
"""
import sys
import numpy as np
from cancerllm import inference, pipeline
from cancerllm.evaluation import run_config
from cancerllm.metrics import corpus_prf
import transformers; transformers.logging.set_verbosity_error()
cfg = run_config(sys.argv[1])
sets = pipeline.load_sets(cfg)
test = sets["test"]
kw = pipeline.reading(cfg)
norm = kw["normaliser"]
f = lambda G, P: round(corpus_prf(G, P, "rouge_l_reference")["f1"], 1)
for name in sys.argv[2:] or cfg.ablation_models:
    model, tok = pipeline.load_tuned(cfg, name)
    keep = dict(norm.in_context)
    _, with_ctx = inference.predict(model, tok, test, cfg.max_new_tokens, cfg.eval_batch_size, **kw)
    norm.in_context = {}
    _, without = inference.predict(model, tok, test, cfg.max_new_tokens, cfg.eval_batch_size, **kw)
    norm.in_context = keep
    for fld in ("histologic_type",):
        m = (test.field == fld).values
        G = [list(a) for a in test.answers[m]]
        print(name, fld, len(G), "with", f(G, [p for p, k in zip(with_ctx, m) if k]), "without", f(G, [p for p, k in zip(without, m) if k]),
              "exact with", round(100 * np.mean([g == p for g, p in zip(G, [p for p, k in zip(with_ctx, m) if k])]), 1),
              "without", round(100 * np.mean([g == p for g, p in zip(G, [p for p, k in zip(without, m) if k])]), 1), flush=True)
    ph = (test.task == "phenotype_extraction").values
    G = [list(a) for a in test.answers[ph]]
    print(name, "phenotype", len(G), "with", f(G, [p for p, k in zip(with_ctx, ph) if k]), "without", f(G, [p for p, k in zip(without, ph) if k]), flush=True)
