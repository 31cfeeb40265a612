"""The reading framing at a mid-size model on a GPU: one prepared script for a lent H100/H200.

What it runs (the library calls the notebooks make; nothing GPU-specific re-implemented):
  params/demo.yaml's framing (sentence-level phenotype QA answered with the phrase as written, copy-constrained
  decoding, diagnosis from the diagnosis-bearing sections, the three ablation arms on the same budget) with a
  Mistral built from a config at ~150M parameters instead of the demo's 1.3M, trained in bf16 ->
  cohort -> tokenizer + base -> CPT (general, cancer) -> instruction sets -> SFT (3 arms) -> note-level
  extraction of every phenotype field + the diagnosis per test report -> reference-scorer F1 beside rule and
  TF-IDF, paired differences, counterfactual evidence-following.
Records wall time per phase, peak GPU memory, training tokens/s and the per-report extraction cost. Results are
written to --out after every phase, so a run cut short still leaves what it measured.

    python benchmarks/gpu_reading.py --out gpu.json           # on the GPU machine
    python benchmarks/gpu_reading.py --tiny --out /tmp/g.json  # CPU smoke check of the same path (a minute)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from cancerllm import evaluation, inference, pipeline, robustness  # noqa: E402
from cancerllm.config import load_params  # noqa: E402
from cancerllm.data import load_cohort  # noqa: E402
from gpu_paper_path import _peak_gb, _reset  # noqa: E402 (this folder: the GPU memory helpers both scripts use)

#: ~150M parameters (Mistral shape, GQA); lr lowered from the demo's (3e-3 suits a 1.3M model, not this one)
MID = ["hidden_size=1024", "num_hidden_layers=12", "num_attention_heads=16", "num_key_value_heads=8",
       "intermediate_size=2816", "initializer_range=0.02", "bf16=true", "cpt_learning_rate=6e-4",
       "cpt_per_device_train_batch_size=32", "sft_learning_rate=3e-4", "eval_batch_size=128"]
TINY = ["hidden_size=64", "num_hidden_layers=2", "num_attention_heads=4", "num_key_value_heads=2",
        "intermediate_size=128", "n_patients=40", "n_general_notes=40", "n_unlabelled_patients=40",
        "cpt_max_steps=2", "sft_max_steps=4", "save_steps=2", "eval_steps=2", "max_eval_instances=24",
        "bootstrap_samples=50", "bf16=false"]




def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    root = tempfile.mkdtemp(prefix="gpu_reading_")
    overrides = ["data_source=synthetic", "run_name=gpu", f"runs_root={root}", *(TINY if args.tiny else MID),
                 *args.extra]
    cfg = load_params(Path(__file__).resolve().parent.parent / "params" / "demo.yaml", overrides)
    res: dict = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
                 "torch": torch.__version__, "params_overrides": overrides, "phases": {}}

    def dump():
        text = json.dumps(res, indent=2, default=float)
        if args.out:
            Path(args.out).write_text(text)
        return text

    t_all = time.perf_counter()
    cohort = load_cohort(cfg)
    from cancerllm import training

    corpora = training.cpt_corpora(cohort, cfg.seed)
    t0 = time.perf_counter()
    model, tok = pipeline.prepare_base(cfg, corpora)
    res["model_parameters"] = sum(p.numel() for p in model.parameters())
    res["phases"]["tokenizer_and_base"] = {"seconds": round(time.perf_counter() - t0, 1)}
    dump()

    del model
    sets = pipeline.instruction_sets(cfg, cohort, tok)
    pipeline.save_sets(sets, cfg.stage_path(pipeline.SFT_STAGE) / "instructions")  # the normaliser reads them
    res["phases"]["sft"] = {"examples": len(sets["sft_train"])}
    test, reading = sets["test"], pipeline.reading(cfg)
    n_reports = int(test["patient_id"].nunique())
    preds = evaluation.predict_baselines(sets["train"], test, cfg.seed)
    # one arm at a time, each scored as soon as it is tuned: a run cut short keeps its finished arms
    for name in ("cancer_cpt", "no_cpt", "general_cpt"):
        arm = dataclasses.replace(cfg, ablation_models=[name])
        if name != "no_cpt":
            _reset()
            t0 = time.perf_counter()
            m = pipeline.continued_pretraining(arm, pipeline.load_base(cfg)[0], tok, corpora)
            res["phases"].setdefault("cpt", {"ppl_base": m["base"]["ppl"]})[name] = {
                "seconds_incl_ppl": round(time.perf_counter() - t0, 1), "peak_gpu_gb": _peak_gb(),
                **{k: m[name].get(k) for k in ("seconds", "steps", "tokens_per_second", "train_loss", "ppl")}}
        _reset()
        m = pipeline.instruction_tuning(arm, sets)[name]
        res["phases"]["sft"][name] = {"peak_gpu_gb": _peak_gb(), **{
            k: m.get(k) for k in ("seconds", "steps", "tokens_per_second", "train_loss", "best_checkpoint")}}
        _reset()
        model, tokenizer = pipeline.load_tuned(cfg, name)
        if torch.cuda.is_available():
            model = model.to("cuda", torch.bfloat16)
        t0 = time.perf_counter()
        _, preds[name], det = inference.predict(model, tokenizer, test, cfg.max_new_tokens, cfg.eval_batch_size,
                                                desc=name, return_details=True, **reading)
        sec = time.perf_counter() - t0
        del model
        res["phases"].setdefault("extraction", {})[name] = {
            "seconds": round(sec, 2), "reports": n_reports, "questions": len(test),
            "seconds_per_report": round(sec / max(n_reports, 1), 3), "passage_prompts": det["passage_prompts"],
            "generated": det["generated"], "peak_gpu_gb": _peak_gb()}
        scores = evaluation.score(test, preds, cfg.bootstrap_samples, cfg.seed)
        res["scores"] = {t: evaluation.comparison_table(scores, t).round(1).astype(str).to_dict(orient="index")
                         for t in evaluation.TASKS}
        arms = [a for a in cfg.ablation_models if a in preds]
        read = evaluation.reading_table(test, preds)
        res["reading"] = read.astype(str).to_dict(orient="index")
        res["reading_summary"] = evaluation.reading_summary(read, arms)
        res["per_field_f1"] = evaluation.by_group(evaluation.instance_table(test, preds), "field").round(1).to_dict(
            orient="index")
        res["elapsed_seconds"] = round(time.perf_counter() - t_all, 1)
        dump()
    paired = evaluation.paired_tests(test, preds, n_boot=cfg.bootstrap_samples, seed=cfg.seed)
    res["paired"] = paired.astype(str).to_dict(orient="records")
    res["ablation_summary"] = evaluation.ablation_summary(paired)
    dump()

    t0 = time.perf_counter()
    cf, _ = robustness.counterfactual_set(test, cfg.counterfactual_max_instances, cfg.seed)
    if len(cf):
        bed = cf.reset_index(drop=True).assign(condition="counterfactual", source_id=lambda d: d["id"])
        rates = robustness.counterfactual_rates(bed, evaluation.predict_ablation(cfg, bed), cfg.bootstrap_samples, cfg.seed)
        res["counterfactual"] = {"seconds": round(time.perf_counter() - t0, 1),
                                 "rates": rates.round(1).set_index("system").to_dict(orient="index")}
    res["total_seconds"] = round(time.perf_counter() - t_all, 1)
    text = dump()
    print(text)
    return res


if __name__ == "__main__":
    main()
