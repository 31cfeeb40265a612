"""Smoke run: every notebook, in order, on tiny params through the real CLI (papermill), then the book build.

Checks the stage outputs a reader depends on (metrics.json keys, figure files), the provenance manifest,
that a second `run` skips finished stages, and that the built HTML has the chapters with their figures.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cancerllm.config import STAGES

REPO = Path(__file__).resolve().parents[1]
FIGURES = {
    "00_data_profiling": ["cohort.png", "lengths.png", "label_status.png", "label_values.png", "abbreviations.png"],
    "10_continued_pretraining": ["perplexity.png", "cpt_loss.png"],
    "20_instruction_tuning": ["sft_loss.png"],
    "30_evaluation": ["forest.png", "per_field.png", "per_cancer_type.png", "confusion.png"],
    "35_calibration": ["reliability.png", "coverage.png"],
    "40_robustness": ["robustness_curves.png", "evidence.png"],
    "50_efficiency": ["stage_costs.png", "scaling.png", "lora_vs_full.png", "inference.png", "extraction.png"],
    "60_retrieval": ["retrieval_gain.png", "k_sweep.png"],
}
pytestmark = pytest.mark.slow


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cancerllm", *args], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=1500)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    params = root / "tiny.yaml"
    params.write_text(yaml.safe_dump({"run_name": "smoke", "runs_root": str(root / "runs")}))
    proc = _cli("run", str(params))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return params, root / "runs" / "smoke"


def test_every_stage_ran_and_wrote_outputs(tiny_run):
    _, run_dir = tiny_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [s for s in STAGES if manifest["stages"][s]["status"] == "done"] == STAGES
    assert manifest["data_is_real"] is False and manifest["cohort"] == "synthetic"
    assert len(manifest["params_hash"]) == 16 and manifest["packages"]["trl"]
    for stage, figs in FIGURES.items():
        for fig in figs:
            assert (run_dir / stage / fig).stat().st_size > 5000, f"{stage}/{fig} missing or empty"
        nb = json.loads((run_dir / "notebooks" / f"{stage}.ipynb").read_text())
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors


def test_stage_metrics(tiny_run):
    _, run_dir = tiny_run
    prof = json.loads((run_dir / "00_data_profiling" / "metrics.json").read_text())
    assert prof["patients"] == 40 and prof["leakage"]["patients in more than one split"] == 0
    cpt = json.loads((run_dir / "10_continued_pretraining" / "metrics.json").read_text())["cpt"]
    assert set(cpt) == {"base", "general_cpt", "cancer_cpt"}
    assert cpt["cancer_cpt"]["ppl"]["cancer"] < cpt["base"]["ppl"]["cancer"]
    sft = json.loads((run_dir / "20_instruction_tuning" / "metrics.json").read_text())["sft"]
    assert set(sft) == {"no_cpt", "general_cpt", "cancer_cpt"} and all(v["steps"] == 10 for v in sft.values())
    ev = json.loads((run_dir / "30_evaluation" / "metrics.json").read_text())
    for task in ("phenotype_extraction", "diagnosis_generation"):
        assert set(ev[task]) == {"no_cpt", "general_cpt", "cancer_cpt", "zero_shot", "rule", "tfidf_logreg"}
        m = ev[task]["cancer_cpt"]["rouge_l_reference"]
        assert set(m) == {"precision", "recall", "f1", "ci_low", "ci_high"}
        assert m["ci_low"] <= m["f1"] <= m["ci_high"]
        assert "clinical_exact_match" in ev[task]["rule"]
    n_test = prof["patients_per_split"]["test"]  # 8 phenotype questions + 1 diagnosis per test patient (< cap 120)
    assert ev["n_instances"] == {"phenotype_extraction": 8 * n_test, "diagnosis_generation": n_test}
    preds = (run_dir / "30_evaluation" / "predictions" / "cancer_cpt.jsonl").read_text().splitlines()
    assert len(preds) == 9 * n_test and set(json.loads(preds[0])) >= {"id", "gold", "answers"}
    cal = json.loads((run_dir / "35_calibration" / "metrics.json").read_text())
    rows = {(r["task"], r["system"], r["confidence"]): r for r in cal["calibration"]}
    lms = [(s, k) for s in ("no_cpt", "general_cpt", "cancer_cpt") for k in ("sequence", "normalised")]
    assert set(rows) == {(t, s, k) for t in ("phenotype_extraction", "diagnosis_generation")
                         for s, k in [*lms, ("tfidf_logreg", "sequence")]}
    assert all(0 <= r["ECE"] <= 100 and 0 <= r["deferred %"] <= 100 and r["temperature"] > 0 for r in rows.values())
    assert rows[("diagnosis_generation", "cancer_cpt", "sequence")]["n"] == n_test
    noise = pd.read_csv(run_dir / "40_robustness" / "calibration_under_noise.csv")
    assert set(noise["system"]) == {"no_cpt", "general_cpt", "cancer_cpt", "tfidf_logreg"}


def test_second_run_skips_finished_stages(tiny_run):
    params, run_dir = tiny_run
    before = json.loads((run_dir / "manifest.json").read_text())["stages"]
    proc = _cli("run", str(params))
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert after == before  # nothing re-executed: same recorded seconds


def test_book_builds_with_figures(tiny_run):
    params, run_dir = tiny_run
    proc = _cli("book", str(params))
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = run_dir / "book" / "_build" / "html"
    for stage in STAGES:
        page = (html / "chapters" / f"{stage}.html").read_text()
        assert "Provenance of this page" in page and "synthetic (generated) text" in page
        assert page.count("<img") >= len(FIGURES[stage]), stage
    assert "mathjax/tex-chtml.js" in (html / "methods.html").read_text()
    assert "synthetic (generated) text" in (html / "intro.html").read_text()


def test_external_validation_on_unseen_file(tiny_run, tmp_path):
    from cancerllm.data.synthetic import generate_cohort

    _, run_dir = tiny_run
    other = generate_cohort(12, seed=777)  # patients the run never saw, in the custom-notes schema
    notes = other.notes.merge(other.labels.drop(columns="split"), on="patient_id").drop(columns="split")
    data = tmp_path / "other_hospital.csv"
    notes.to_csv(data, index=False)
    proc = _cli("evaluate", "--run", str(run_dir), "--data", str(data), "--out", str(tmp_path / "ext"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = json.loads((tmp_path / "ext" / "metrics.json").read_text())
    assert ev["n_instances"] == {"phenotype_extraction": 8 * 12, "diagnosis_generation": 12}
    for task in ("phenotype_extraction", "diagnosis_generation"):
        assert set(ev[task]) == {"no_cpt", "general_cpt", "cancer_cpt", "rule", "tfidf_logreg"}
        for metric in ("exact_match", "bleu2", "rouge_l_reference", "rouge_l", "clinical_exact_match"):
            m = ev[task]["cancer_cpt"][metric]
            assert set(m) == {"precision", "recall", "f1", "ci_low", "ci_high"} and 0 <= m["f1"] <= 100


def test_external_validation_on_tcga_format_file(tiny_run, tmp_path):
    """Reports in the TCGA file's format (reports_labeled_dev.csv's columns; its split column ignored) are
    scored like chapter 30: every LM and both baselines, refit on the run's own training split."""
    from cancerllm.data.synthetic import generate_cohort

    _, run_dir = tiny_run
    other = generate_cohort(10, seed=778)
    rep = other.notes[other.notes["note_type"] == "pathology_report"].merge(other.labels, on="patient_id")
    data = tmp_path / "reports_other_site.csv"
    pd.DataFrame({"patient_id": rep["patient_id"], "patient_filename": rep["note_id"], "text": rep["text"],
                  "cancer_type": rep["cancer_type"], "cancer_type_name": rep["diagnosis"],
                  "t_stage": rep["t_stage"], "n_stage": rep["n_stage"], "m_stage": rep["m_stage"],
                  "histological_type_cdr": rep["histologic_type"], "histological_grade_cdr": rep["grade"],
                  "split": "train"}).to_csv(data, index=False)  # a split column that must be ignored
    proc = _cli("evaluate", "--run", str(run_dir), "--data", str(data), "--out", str(tmp_path / "ext"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = json.loads((tmp_path / "ext" / "metrics.json").read_text())
    assert ev["n_instances"] == {"phenotype_extraction": 5 * 10, "diagnosis_generation": 10}
    assert set(ev["diagnosis_generation"]) == {"no_cpt", "general_cpt", "cancer_cpt", "rule", "tfidf_logreg"}
    preds = (tmp_path / "ext" / "predictions" / "tfidf_logreg.jsonl").read_text().splitlines()
    assert len(preds) == 60
    # nothing depends on which reports come with a report: half of them, shuffled, get the same answers
    from cancerllm.evaluation import external_validation

    half = tmp_path / "half_shuffled.csv"
    pd.read_csv(data).sample(frac=0.5, random_state=1).to_csv(half, index=False)
    external_validation(run_dir, half, tmp_path / "ext_half")
    for system in ("cancer_cpt", "rule", "tfidf_logreg"):
        whole = {x["id"]: x["answers"] for x in map(json.loads, (tmp_path / "ext" / "predictions" / f"{system}.jsonl")
                                                    .read_text().splitlines())}
        part = [json.loads(x) for x in (tmp_path / "ext_half" / "predictions" / f"{system}.jsonl").read_text().splitlines()]
        assert len(part) == 30 and all(x["answers"] == whole[x["id"]] for x in part), system


def test_chapter_35_reuses_chapter_30s_test_answers_as_a_fresh_prediction_gives_them(tiny_run):
    """Chapter 35 reads the test split's answers and confidences from chapter 30's predictions instead of
    predicting again: for the last arm, a fresh ``predict_ablation`` gives the same answers and confidences."""
    from cancerllm import evaluation as ev
    from cancerllm import pipeline

    _, run_dir = tiny_run
    cfg = ev.run_config(run_dir)
    test = pipeline.load_sets(cfg)["test"]
    saved = ev.saved_confident(cfg, test, run_dir / "30_evaluation" / "predictions")
    assert saved is not None
    arm = cfg.ablation_models[-1]
    conf: dict = {}
    fresh = ev.predict_systems(cfg, test, [arm], confidence=conf)
    assert saved[arm]["answers"] == fresh[arm]
    for kind in ("sequence", "normalised"):
        assert saved[arm][kind] == pytest.approx(conf[arm][kind], abs=1e-6)
