"""The landing page's generated results (cancerllm/report.py) and the collapsed code cells of the book's chapters,
built from hand-made metrics and notebooks: the exact numbers and words must appear."""

from __future__ import annotations

import ast
import json

from cancerllm import report
from cancerllm.config import REPO_ROOT


def _m(f1, lo, hi):
    return {"precision": f1, "recall": f1, "f1": f1, "ci_low": lo, "ci_high": hi}


def _metrics(n_dx=30):
    """A metrics.json of stage 30 in its real shape (evaluation.metrics_json), reference-scorer entries only."""
    ph = {"no_cpt": 78.6, "general_cpt": 85.7, "cancer_cpt": 83.8, "zero_shot": 5.0, "rule": 99.6, "tfidf_logreg": 67.8}
    dx = {"no_cpt": 61.2, "general_cpt": 63.7, "cancer_cpt": 61.1, "zero_shot": 0.0, "rule": 84.0, "tfidf_logreg": 85.7}
    return {
        "n_instances": {"phenotype_extraction": 240, "diagnosis_generation": n_dx},
        "phenotype_extraction": {s: {"rouge_l_reference": _m(v, v - 4.4, v + 4.3), "exact_match": _m(1.0, 0, 2)}
                                 for s, v in ph.items()},
        "diagnosis_generation": {s: {"rouge_l_reference": _m(v, v - 10.5, v + 9.6)} for s, v in dx.items()},
    }


SYNTHETIC = {"data_is_real": False, "cohort": "synthetic"}


def test_constants_agree_with_evaluation_module():
    """report.py repeats evaluation/scoring.py's headline metric rather than import it (torch): they must agree."""
    tree = ast.parse((REPO_ROOT / "cancerllm" / "evaluation" / "scoring.py").read_text(encoding="utf-8"))
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body
              if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and n.targets[0].id == "HEADLINE"}
    assert values == {"HEADLINE": report.HEADLINE}


def test_results_table_rows_numbers_and_bold_best():
    table = report.results_table(_metrics())
    lines = table.strip().splitlines()
    assert lines[0] == ("| system | phenotype extraction F1 (95% CI), n = 240 "
                        "| diagnosis generation F1 (95% CI), n = 30 |")
    assert len(lines) == 2 + 5  # header, rule, the three LMs and two baselines; zero_shot is not on the landing page
    assert lines[2] == "| `no_cpt` | 78.6 (74.2–82.9) | 61.2 (50.7–70.8) |"
    assert lines[4] == "| `cancer_cpt` | 83.8 (79.4–88.1) | 61.1 (50.6–70.7) |"
    assert lines[5] == "| rule baseline | **99.6 (95.2–103.9)** | 84.0 (73.5–93.6) |"
    assert lines[6] == "| TF-IDF + log. regression | 67.8 (63.4–72.1) | **85.7 (75.2–95.3)** |"
    assert "zero_shot" not in table and "Fewer than" not in table


def test_results_table_warns_when_few_questions():
    table = report.results_table(_metrics(n_dx=12))
    assert "n = 12" in table
    assert "*Fewer than 30 test questions on diagnosis generation (n = 12)" in table


def test_summary_sentences_are_computed_from_the_numbers():
    first, second, third = report.summary_sentences(_metrics(), SYNTHETIC)
    assert first.startswith("On synthetic (generated) notes (`synthetic`: a test bed")
    assert first.endswith("the best system is the rule baseline on phenotype extraction (F1 99.6) and TF-IDF on "
                          "diagnosis generation (F1 85.7).")
    assert second == ("The CancerLLM recipe (cancer_cpt) is 16.0 points above TF-IDF on phenotype extraction "
                      "(83.8 vs 67.8) and 24.6 points below it on diagnosis generation (61.1 vs 85.7).")
    assert third.startswith("Continued pretraining on cancer text moves F1 by +5.2 against no_cpt and −1.9 "
                            "against general_cpt on phenotype extraction; −0.1 against no_cpt and −2.6 "
                            "against general_cpt on diagnosis generation")


def test_summary_says_real_and_one_best_system():
    m = _metrics()
    m["diagnosis_generation"]["rule"]["rouge_l_reference"]["f1"] = 90.0
    first, _, _ = report.summary_sentences(m, {"data_is_real": True, "cohort": "tcga"})
    assert first == ("On real notes (`tcga`), the best system on both tasks is the rule baseline "
                     "(F1 99.6 on phenotype extraction and 90.0 on diagnosis generation).")
    unknown, _, _ = report.summary_sentences(m, {})
    assert unknown.startswith("On data whose kind (synthetic or real) the manifest does not record")


def test_summary_md_is_three_sentences_then_table(tmp_path):
    md = report.results_summary_md(_metrics(), SYNTHETIC)
    prose, caption, table = md.split("\n\n", 2)
    assert prose.count(". ") == 2 and prose.endswith(".")
    assert "synthetic (generated) text" in caption
    assert table.startswith("| system |")
    # from a run directory: its stage-30 metrics.json and manifest
    run = tmp_path / "run"
    (run / "30_evaluation").mkdir(parents=True)
    (run / "30_evaluation" / "metrics.json").write_text(json.dumps(_metrics()))
    (run / "manifest.json").write_text(json.dumps(SYNTHETIC))
    assert report.run_results_md(run) == md
    assert "has not finished" in report.run_results_md(tmp_path / "empty")


def test_collapse_code_tags_code_cells_and_keeps_removed_ones():
    nb = {"cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters", "remove-cell"]}, "source": "x = 1"},
        {"cell_type": "code", "metadata": {}, "source": "plot()"},
        {"cell_type": "code", "metadata": {"tags": ["remove-input"]}, "source": "provenance_box(cfg)"},
        {"cell_type": "code", "metadata": {"tags": ["hide-input"]}, "source": "y"},
        {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters", "remove-cell"]}, "source": "z = 2"},
    ]}
    tags = [c["metadata"].get("tags") for c in report.collapse_code(nb)["cells"]]
    assert tags == [["parameters", "remove-cell"], ["hide-input"], ["remove-input"], ["hide-input"], None,
                    ["injected-parameters", "remove-cell"]]


def test_copy_collapsed_writes_a_valid_notebook(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1"), nbformat.v4.new_markdown_cell("text")])
    src, dst = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(nb, src)
    report.copy_collapsed(src, dst)
    out = nbformat.read(dst, as_version=4)
    nbformat.validate(out)
    assert out.cells[0].metadata.tags == ["hide-input"] and "tags" not in out.cells[1].metadata
