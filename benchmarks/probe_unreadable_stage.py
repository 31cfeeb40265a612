"""Probe: T/N/M/grade phrases no reader reads kept out of the note-level vote (same weights, same instances; fields
predicted one at a time, so histology here has no diagnosis context). Usage:
    python benchmarks/probe_unreadable_stage.py runs/demo cancer_cpt
Written when the vote still took such phrases: with ``AnswerNormaliser.states_value`` in ``inference.predict`` both
modes give the filtered answers. Decided (2026-12-08): demo cancer_cpt phenotype 87.5 -> 90.5 (T 93.3 -> 100, N 83.3 ->
100); TCGA cancer_cpt 38.3 -> 39.6 (grade 39.5 -> 50.0): adopted.
"""
import sys
from cancerllm import inference, pipeline
from cancerllm.inference import notes
from cancerllm.evaluation import run_config
from cancerllm.metrics import corpus_prf
from cancerllm.normalise import read_phrase
from cancerllm.instructions import NOT_RELEVANT
import transformers; transformers.logging.set_verbosity_error()
cfg = run_config(sys.argv[1]); sets = pipeline.load_sets(cfg); test = sets["test"]; kw = pipeline.reading(cfg)
f = lambda G, P: round(corpus_prf(G, P, "rouge_l_reference")["f1"], 1)
orig = notes.assemble
FIELD = {"cur": None}
def filtered(answers, weights=None, normalise=None):
    if FIELD["cur"] in ("t_stage", "n_stage", "m_stage", "grade"):
        answers = [a if (not a or ", ".join(a).lower() == NOT_RELEVANT or read_phrase(FIELD["cur"], ", ".join(a))) else [NOT_RELEVANT] for a in answers]
    return orig(answers, weights, normalise)
for name in sys.argv[2:]:
    model, tok = pipeline.load_tuned(cfg, name)
    res = {}
    for mode in ("as is", "unreadable out"):
        notes.assemble = orig if mode == "as is" else filtered
        outs = []
        # one field at a time so the wrapper knows the field
        preds = [None] * len(test)
        for fld, grp in test.groupby("field"):
            FIELD["cur"] = fld
            _, p = inference.predict(model, tok, grp, cfg.max_new_tokens, cfg.eval_batch_size, **kw)
            for i, a in zip(grp.index, p): preds[test.index.get_loc(i)] = a
        ph = (test.task == "phenotype_extraction").values
        G = [list(a) for a in test.answers]
        res[mode] = {"phenotype": f([g for g, k in zip(G, ph) if k], [p for p, k in zip(preds, ph) if k])}
        for fld in ("t_stage", "n_stage", "m_stage", "grade"):
            m = (test.field == fld).values
            if m.any(): res[mode][fld] = f([g for g, k in zip(G, m) if k], [p for p, k in zip(preds, m) if k])
    print(name, res, flush=True)
