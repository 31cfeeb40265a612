"""Each chapter's generated finding (cancerllm/findings.py), the subsample note of chapters 40 and 60 and the book's
one CI format (cancerllm/report.py), from hand-made metrics: the exact numbers and words must appear."""

from __future__ import annotations

import json

import pandas as pd

from cancerllm import findings, report
from cancerllm.robustness import sample_note


def _m(f1, lo, hi):
    return {"f1": f1, "ci_low": lo, "ci_high": hi}


def test_ci_text_is_the_landing_page_format():
    assert report.ci_text(20.84, 15.8, 25.76) == "20.8 (15.8–25.8)"
    assert report.ci_text(2.1, -0.5, 4.6, signed=True) == "+2.1 (−0.5 to +4.6)"
    assert report.ci_text(-54.2, -69.8, -36.3) == "−54.2 (−69.8 to −36.3)"  # no dash between two minus signs


def test_subsample_note_gives_n_of_n_and_warns_below_few():
    note = report.subsample_note({"phenotype_extraction": 43, "diagnosis_generation": 5},
                                 {"phenotype_extraction": 240, "diagnosis_generation": 30})
    assert note.startswith("*Test questions scored here: phenotype extraction n = 43 of 240; diagnosis generation "
                           "n = 5 of 30. This is a subsample of chapter 30's test set")
    assert "Fewer than 30 test questions on diagnosis generation (n = 5)" in note
    assert "phenotype extraction (n = 43)" not in note
    whole = report.subsample_note({"phenotype_extraction": 40}, {"phenotype_extraction": 40})
    assert "all of chapter 30's test set" in whole and "Fewer" not in whole


def test_robustness_sample_note_counts_the_clean_condition():
    bed = pd.DataFrame({"condition": ["misspelling"] * 3 + ["ocr"] * 3, "rate": [0.0] * 3 + [0.5] * 3,
                        "task": ["phenotype_extraction", "phenotype_extraction", "diagnosis_generation"] * 2})
    test = pd.DataFrame({"task": ["phenotype_extraction"] * 50 + ["diagnosis_generation"] * 9})
    note = sample_note(bed, test)
    assert "phenotype extraction n = 2 of 50; diagnosis generation n = 1 of 9" in note and "Fewer than 30" in note


def test_profiling_finding():
    m = {"patients": 300, "notes": 653, "median_words_per_note": 140.0, "general_notes": 2300,
         "patients_per_split": {"train": 210, "dev": 30, "test": 60},
         "leakage": {"patients in more than one split": 0, "exact duplicate texts across splits": 0}}
    assert findings.profiling_finding(m) == (
        "The cohort has 300 patients (210 train, 30 dev, 60 test) with 653 notes (median 140 words), plus 2300 general "
        "clinical notes for continued pretraining. No patient, exact duplicate or near-duplicate note crosses the "
        "splits.")
    m["leakage"]["exact duplicate texts across splits"] = 2
    assert "Leakage found: exact duplicate texts across splits: 2" in findings.profiling_finding(m)


def test_cpt_finding():
    m = {"cpt": {"base": {"ppl": {"cancer": 2363.25}},
                 "cancer_cpt": {"ppl": {"cancer": 3.39}, "steps": 300},
                 "general_cpt": {"ppl": {"cancer": 120.11}, "steps": 300}}}
    assert findings.cpt_finding(m) == (
        "Continued pretraining lowered held-out cancer-text perplexity from 2,363.2 (base model) to 3.4 with "
        "cancer_cpt (300 steps) and to 120.1 with general_cpt (300 steps). Cancer text lowers it **more** than general "
        "clinical text does, as the paper's recipe assumes.")


def test_sft_finding_takes_the_lowest_dev_loss():
    hist = [{"loss": 2.0, "step": 1.0}, {"eval_loss": 0.5, "step": 150.0}, {"eval_loss": 0.4, "step": 300.0},
            {"eval_loss": 0.45, "step": 450.0}]
    m = {"sft": {"no_cpt": {"log_history": hist, "steps": 450},
                 "cancer_cpt": {"log_history": [{"eval_loss": 0.3, "step": 1200.0}], "steps": 1200},
                 "general_cpt": {"log_history": [], "steps": 1200}}}
    assert findings.sft_finding(m) == (
        "Lowest dev loss per model: no_cpt 0.400 at step 300 of 450; cancer_cpt 0.300 at step 1,200 of 1,200; "
        "general_cpt (no dev loss logged). The lowest is cancer_cpt's; dev loss is not the test score (chapter 30 is).")


def test_evaluation_finding_compares_with_both_baselines():
    ph = {"cancer_cpt": 87.6, "tfidf_logreg": 67.8, "rule": 99.6}
    dx = {"cancer_cpt": 82.1, "tfidf_logreg": 85.7, "rule": 96.5}
    m = {"n_instances": {"phenotype_extraction": 240, "diagnosis_generation": 20},
         "phenotype_extraction": {s: {"rouge_l_reference": _m(v, v - 4, v + 4)} for s, v in ph.items()},
         "diagnosis_generation": {s: {"rouge_l_reference": _m(v, v - 9, v + 9)} for s, v in dx.items()}}
    assert findings.evaluation_finding(m) == (
        "cancer_cpt is 19.8 points above TF-IDF on phenotype extraction (87.6 vs 67.8) and 3.6 points below it on "
        "diagnosis generation (82.1 vs 85.7); it is 12.0 points below the rule baseline on phenotype extraction "
        "(87.6 vs 99.6) and 14.4 points below it on diagnosis generation (82.1 vs 96.5). (F1 ×100 on 240 phenotype "
        "extraction and 20 diagnosis generation test questions; fewer than 30 on diagnosis generation, so its gaps "
        "are noisy.)")


def test_calibration_finding_uses_the_kind_chosen_on_dev():
    row = {"system": "cancer_cpt", "task": "phenotype_extraction", "n": 240, "accuracy %": 84.58,
           "kept accuracy %": 92.92, "deferred %": 11.67}
    m = {"target": 0.95, "calibration": [
        {**row, "confidence": "sequence", "dev ECE": 26.5, "ECE": 29.1, "ECE CI": "24.4–34.1"},
        {**row, "confidence": "normalised", "dev ECE": 9.9, "ECE": 9.4, "ECE CI": "7.2–13.0"}]}
    assert findings.calibration_finding(m) == (
        "For cancer_cpt, on phenotype extraction (n = 240) its test ECE is 9.4 (95% CI 7.2–13.0; normalised "
        "confidence), and the threshold chosen on dev keeps 88.3% of answers at 92.9% accuracy (all answers: 84.6%), "
        "deferring 11.7%. The threshold aims at 95% accuracy on the answers kept.")


def test_robustness_finding():
    cf = {"evidence_following": 80.47, "evidence_following_ci_low": 73.44, "evidence_following_ci_high": 86.74,
          "n": 128}
    cell = {"phenotype_extraction": {"cancer_cpt": {**_m(77.9, 60, 90), "n": 21}}}
    noisy = {"phenotype_extraction": {"cancer_cpt": {**_m(64.2, 40, 80), "n": 21}}}
    m = {"rates": [0.0, 0.1, 0.5], "counterfactual": {"cancer_cpt": cf, "rule": {**cf, "evidence_following": 100.0}},
         "f1": {"misspelling": {"0": cell, "0.5": noisy}, "ocr": {"0": cell}}}
    assert findings.robustness_finding(m) == (
        "On 128 counterfactual notes cancer_cpt answers the edited value in 80.5% of cases (95% CI 73.4–86.7); the "
        "rule baseline 100.0. Its F1 moves on phenotype extraction (n = 21) from 77.9 on clean notes to 64.2 (−13.7) "
        "with 50% of words misspelled.")


def test_efficiency_finding_reads_merged_timings():
    m = {"hardware": {"device": "AMD EPYC", "physical_cores": 2},
         "stage_costs": {"cpt_cancer_cpt": {"stage": "CPT", "seconds": 78.1},
                         "sft_cancer_cpt": {"stage": "SFT", "seconds": 228.3}},
         "lora_vs_full": {"lora": {"params_trainable": 311296, "params_total": 1610880, "step_seconds": 0.5425},
                          "full": {"step_seconds": 0.3579}},
         "inference": {"batch_size_1": {"experiment": "batch size", "setting": 1, "tokens_per_second": 238.3},
                       "batch_size_64": {"experiment": "batch size", "setting": 64, "tokens_per_second": 1939.5},
                       "loop": {"experiment": "reference loop", "tokens_per_second": 248.2}}}
    assert findings.efficiency_finding(m) == (
        "Training this run's 2 models took 306 s on 2 cores of AMD EPYC (CPT 78 s, instruction tuning 228 s). LoRA "
        "trains 19% of the weights at 1.52× the step time of full fine-tuning. Batched generation peaks at 1,940 "
        "tokens/s (batch 64), 7.8× the reference code's one prompt at a time.")
    m["extraction"] = {"reports_8": {"experiment": "reports", "reports": 8, "seconds_per_report": 0.139},
                       "reports_1": {"experiment": "reports", "reports": 1, "seconds_per_report": 0.174},
                       "ref": {"experiment": "reference loop", "seconds": 4.067, "answers_as_ours": "18/18"},
                       "ours": {"experiment": "ours, free decoding", "seconds": 0.317}}
    assert findings.efficiency_finding(m).endswith(
        "Extracting a report (every field and the diagnosis) costs 0.14 s, 12.8× faster than the reference's "
        "one-prompt loop with the same answers on 18/18 instances.")


def test_retrieval_finding():
    g = {"system": "cancer_cpt", "k": 2, "noise": 0.0, "ci_low": -30.0, "ci_high": -2.0}
    m = {"gains": [{**g, "task": "phenotype_extraction", "retriever": "bm25", "diff": -16.9, "n": 43},
                   {**g, "task": "phenotype_extraction", "retriever": "tfidf", "diff": -14.9, "n": 43},
                   {**g, "task": "diagnosis_generation", "retriever": "bm25", "diff": 13.1, "n": 5, "ci_low": 1.0},
                   {**g, "task": "diagnosis_generation", "retriever": "bm25", "diff": 50.0, "n": 5, "noise": 0.3}]}
    assert findings.retrieval_finding(m) == (
        "With k = 2 retrieved examples, cancer_cpt's F1 changes by −16.9 (bm25) to −14.9 (tfidf) on phenotype "
        "extraction (n = 43) and by +13.1 (bm25) on diagnosis generation (n = 5, too few to tell). 1 of 3 clean-note "
        "gains (every model and retriever) have a 95% CI above 0.")


def test_chapter_finding_never_raises(tmp_path):
    stage = tmp_path / "30_evaluation"
    assert "has written no metrics.json" in findings.chapter_finding(stage)
    stage.mkdir()
    (stage / "metrics.json").write_text(json.dumps({"phenotype_extraction": {"cancer_cpt": {}}}))
    assert findings.chapter_finding(stage) == "**Finding.** This run has no baseline score to compare cancer_cpt with."
    cpt = tmp_path / "10_continued_pretraining"
    cpt.mkdir()
    (cpt / "metrics.json").write_text(json.dumps({"cpt": {}}))
    assert findings.chapter_finding(cpt).startswith("*Finding not available: this stage's metrics.json lacks")
    assert set(findings.FINDINGS) == {"00_data_profiling", "10_continued_pretraining", "20_instruction_tuning",
                                      "30_evaluation", "35_calibration", "40_robustness", "50_efficiency",
                                      "60_retrieval"}


def test_findings_import_neither_torch_nor_pandas():
    import subprocess
    import sys

    code = "import sys, cancerllm.findings; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
