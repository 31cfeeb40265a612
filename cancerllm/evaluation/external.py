"""External validation: a finished run's Config read from its own directory (``run_config``), and every trained
model of that run and the refit baselines scored on a file the run never saw (``external_validation``)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import pipeline
from ..instructions import TASKS
from .predict import predict_ablation, predict_baselines, save_predictions
from .scoring import metrics_json, score


def run_config(run_dir: Path):
    """The Config of a finished run directory, from its manifest's params but located at `run_dir` itself (a copied
    or moved run directory is read from where it is, never from the place its params name), or one clear
    RunDirError / FileNotFoundError. Used by ``external_validation`` and the benchmarks' probes of a finished run."""
    from ..config import make_config
    from ..errors import RunDirError
    from ..provenance import read_manifest

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: is a file, not a run directory")
    try:
        manifest = read_manifest(run_dir)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{run_dir / 'manifest.json'}: damaged (not valid JSON)") from None
    if not manifest:
        raise FileNotFoundError(f"{run_dir}: no manifest.json — not a run directory")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("params"), dict):
        raise RunDirError(f"{run_dir / 'manifest.json'}: no recorded params; re-run `python -m cancerllm run`")
    here = run_dir.resolve()
    return make_config({**manifest["params"], "runs_root": str(here.parent), "run_name": here.name},
                       source=str(run_dir / "manifest.json"))


def external_validation(run_dir: Path, data_path: Path, out_dir: Path | None = None) -> Path:
    """Score every trained model of a finished run, and the rule and TF-IDF baselines refit on the run's own
    training split, on another file: the custom-notes schema, or the TCGA reports' CSV format
    (``loaders.is_tcga_format``). All its patients are test instances (a split column is ignored). Writes
    metrics.json (same shape as chapter 30's) and predictions into out_dir (default run_dir/external/<file stem>).
    Models are loaded from `run_dir` itself: the manifest gives the params, never the location (a copied or moved
    run directory must not be scored with the models of the run it was copied from)."""
    from ..data.loaders import check_cohort, is_tcga_format, load_custom, read_tcga_reports
    from ..errors import DataError, RunDirError
    from ..instructions import build_instructions
    from ..provenance import write_json

    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    if str(data_path) == "mtsamples-oncology":  # the public demo of external validation (weak labels)
        from ..data.external import mtsamples_oncology

        data_path = Path(run_dir) / "external" / "mtsamples_oncology.csv"
        mtsamples_oncology(cfg.data_dir, data_path)
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / "external" / Path(data_path).stem
    clash = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)  # checked before any model loads
    if clash is not None and not clash.is_dir():
        raise DataError(f"{clash}: is a file; --out must name a folder")
    if is_tcga_format(Path(data_path)):
        cohort = check_cohort(read_tcga_reports(Path(data_path), keep_split=False), str(data_path))
    else:
        cohort = load_custom(Path(data_path), [0.0, 0.0, 1.0], cfg.seed)
    cohort.notes["split"], cohort.labels["split"] = "test", "test"
    if not cohort.fields and cohort.labels["diagnosis"].isna().all():  # known before any model loads
        raise DataError(f"{data_path}: no labelled instances (needs phenotype label columns or a diagnosis column)")
    train = pipeline.load_sets(cfg).get("train")  # what the run's baselines were fitted on (stage 20 saves it)
    if train is None:
        raise RunDirError(f"{cfg.stage_path(pipeline.SFT_STAGE) / 'instructions' / 'train.jsonl'}: missing — the "
                          "run's instruction tuning stage has not finished")
    _, tokenizer = pipeline.load_base(cfg)
    test = build_instructions(cohort, "test", tokenizer, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
    if test.empty:
        raise DataError(f"{data_path}: no labelled instances (needs phenotype label columns or a diagnosis column)")
    preds = {**predict_ablation(cfg, test), **predict_baselines(train, test, cfg.seed)}
    scores = score(test, preds, cfg.bootstrap_samples, cfg.seed)
    save_predictions(out_dir, test, preds)
    n = {t: int((test["task"] == t).sum()) for t in TASKS}
    write_json(out_dir / "metrics.json", metrics_json(scores, n))
    return out_dir / "metrics.json"
