"""What the book's landing page shows a reader, generated at book-build time from the run's files (never typed):
the results table and a three-sentence summary from stage 30's metrics.json, and the executed notebooks with
their code cells collapsed. Used by ``runner.build_book`` (writes book/results_summary.md, which book/intro.md
includes).
"""

from __future__ import annotations

import json
from pathlib import Path

from .provenance import data_description, read_manifest

# HEADLINE repeats cancerllm/evaluation/scoring.py's (tests/test_report.py checks): importing that module would load
# torch and transformers (~10 s) into every book build and this module's tests.
EVAL_STAGE = "30_evaluation"
HEADLINE = "rouge_l_reference"  # the metric the reference code actually ran for its "ROUGE-L"

TASK_NAMES = {"phenotype_extraction": "phenotype extraction", "diagnosis_generation": "diagnosis generation"}
#: The systems of the landing-page table, in the order a reader compares them, with the names it shows.
SYSTEMS = {"no_cpt": "`no_cpt`", "general_cpt": "`general_cpt`", "cancer_cpt": "`cancer_cpt`", "rule": "rule baseline",
           "tfidf_logreg": "TF-IDF + log. regression"}
SHORT = {"no_cpt": "no_cpt", "general_cpt": "general_cpt", "cancer_cpt": "cancer_cpt", "rule": "the rule baseline",
         "tfidf_logreg": "TF-IDF"}
FEW = 30  # fewer test questions than this: the CI is wide, and the table says so


def ci_text(value: float, low: float, high: float, signed: bool = False) -> str:
    """The one way the book prints a score with its 95% CI: "20.8 (15.8–25.8)". A gain (``signed``) carries its
    sign, "+2.1 (−0.5 to +4.6)", and a CI with a negative end reads "low to high" (an en dash between two minus
    signs would be unreadable); minus signs are typographic. Used by the landing page (``results_table``) and by
    the score tables of chapters 30 (``evaluation.comparison_table``) and 60 (``retrieval.f1_table``,
    ``retrieval.gain_display``)."""
    fmt = "{:+.1f}" if signed else "{:.1f}"
    v, lo, hi = (fmt.format(x).replace("-", "−") for x in (value, low, high))
    return f"{v} ({lo} to {hi})" if signed or min(low, high) < 0 else f"{v} ({lo}–{hi})"


def _cell(m: dict) -> str:
    return ci_text(m["f1"], m["ci_low"], m["ci_high"])


def _f1(metrics: dict, task: str, system: str, metric: str = HEADLINE) -> float | None:
    m = metrics.get(task, {}).get(system, {}).get(metric)
    return None if m is None else float(m["f1"])


def _signed(d: float) -> str:
    return f"{d:+.1f}".replace("-", "−")  # a typographic minus, as the book's other tables print it


def _gap(d: float, other: str) -> str:
    return f"{abs(d):.1f} points {'above' if d > 0 else 'below'} {other}" if d else f"level with {other}"


def versus(metrics: dict, system: str, other: str, label: str, metric: str = HEADLINE) -> str | None:
    """'3.2 points below TF-IDF on phenotype extraction (83.8 vs 87.0) and 24.6 points below it on diagnosis
    generation (...)': `system` against `other` (named `label`) on every task both were scored on; None if none."""
    gaps = []
    for t, name in TASK_NAMES.items():
        c, b = _f1(metrics, t, system, metric), _f1(metrics, t, other, metric)
        if c is not None and b is not None:
            gaps.append(f"{_gap(round(c - b, 1), label if not gaps else 'it')} on {name} ({c:.1f} vs {b:.1f})")
    return " and ".join(gaps) if gaps else None


def few_warning(n: dict) -> str | None:
    """The warning a score table carries when a task (`n`: task -> test questions) has fewer than FEW questions;
    None when none has. Used by ``results_table`` and ``subsample_note``, each in its own emphasis."""
    few = [f"{TASK_NAMES[t]} (n = {n[t]})" for t in TASK_NAMES if t in n and n[t] < FEW]
    return (f"Fewer than {FEW} test questions on {' and '.join(few)}: confidence intervals there are wide, and "
            f"differences of a few points are noise.") if few else None


def subsample_note(n: dict, n_full: dict, chapter: str = "chapter 30") -> str:
    """The line beside a chapter's clean scores when it scores a subsample of the test set (chapters 40 and 60):
    n per task (test questions scored here) of n_full (chapter 30's), so its numbers differ from chapter 30's for
    the same models; a warning when a task has fewer than FEW."""
    tasks = [t for t in TASK_NAMES if t in n]
    if not tasks:
        return "*No test questions were scored in this chapter.*"
    sizes = "; ".join(f"{TASK_NAMES[t]} n = {n[t]} of {n_full.get(t, '?')}" for t in tasks)
    whole = all(n[t] == n_full.get(t) for t in tasks)
    text = (f"*Test questions scored here: {sizes}. " +
            (f"This is all of {chapter}'s test set, so its clean scores match {chapter}'s.*" if whole else
             f"This is a subsample of {chapter}'s test set, so its clean scores differ from {chapter}'s for the same "
             f"models.*"))
    few = few_warning({t: n[t] for t in tasks})
    return text + (f" **{few}**" if few else "")


def results_table(metrics: dict, metric: str = HEADLINE) -> str:
    """Markdown table: one row per system in SYSTEMS that the run scored, one column per task: reference-scorer F1
    ×100 with its 95% bootstrap CI, the best F1 of each column in bold, the number of test questions in the header
    (and a warning below the table when a task has fewer than FEW)."""
    tasks = [t for t in TASK_NAMES if t in metrics]
    n = metrics.get("n_instances", {})
    head = ["system", *[f"{TASK_NAMES[t]} F1 (95% CI), n = {n.get(t, '?')}" for t in tasks]]
    best = {t: max((v for s in SYSTEMS if (v := _f1(metrics, t, s, metric)) is not None), default=None) for t in tasks}
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, label in SYSTEMS.items():
        if not any(system in metrics[t] for t in tasks):
            continue
        cells = []
        for t in tasks:
            m = metrics[t].get(system, {}).get(metric)
            if m is None:
                cells.append("— (not scored)")
                continue
            text = _cell(m)
            cells.append(f"**{text}**" if round(m["f1"], 1) == round(best[t], 1) else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    few = few_warning({t: n[t] for t in tasks if isinstance(n.get(t), int)})
    return "\n".join(lines) + "\n" + (f"\n*{few}*\n" if few else "")


def summary_sentences(metrics: dict, manifest: dict, metric: str = HEADLINE) -> list[str]:
    """Three sentences computed from the numbers: (1) the data (synthetic or real, from the manifest) and the best
    system per task; (2) cancer_cpt − TF-IDF per task, with its sign; (3) the continued-pretraining ablation
    (cancer_cpt − no_cpt and − general_cpt per task)."""
    tasks = [t for t in TASK_NAMES if t in metrics]
    real, cohort = manifest.get("data_is_real"), manifest.get("cohort", "?")
    data = (f"On real notes (`{cohort}`)" if real else
            f"On synthetic (generated) notes (`{cohort}`: a test bed for the method, not evidence about real clinical "
            f"text)" if real is False else "On data whose kind (synthetic or real) the manifest does not record")
    best = {}  # task -> (system, F1) of the highest F1 among SYSTEMS
    for t in tasks:
        scored = {s: v for s in SYSTEMS if (v := _f1(metrics, t, s, metric)) is not None}
        if scored:
            top = max(scored, key=scored.get)
            best[t] = (top, scored[top])
    tops = {s for s, _ in best.values()}
    if not best:
        first = f"{data}, no system was scored."
    elif len(tops) == 1 and len(best) > 1:
        first = (f"{data}, the best system on both tasks is {SHORT[tops.pop()]} (F1 "
                 + " and ".join(f"{v:.1f} on {TASK_NAMES[t]}" for t, (_, v) in best.items()) + ").")
    else:
        first = (f"{data}, the best system is "
                 + " and ".join(f"{SHORT[s]} on {TASK_NAMES[t]} (F1 {v:.1f})" for t, (s, v) in best.items()) + ".")
    gaps = versus(metrics, "cancer_cpt", "tfidf_logreg", "TF-IDF", metric)
    second = f"The CancerLLM recipe (cancer_cpt) is {gaps}." if gaps else \
        "This run has no cancer_cpt or no TF-IDF score to compare."
    abl = []
    for t in tasks:
        c = _f1(metrics, t, "cancer_cpt", metric)
        parts = [f"{_signed(c - v)} against {other}" for other in ("no_cpt", "general_cpt")
                 if c is not None and (v := _f1(metrics, t, other, metric)) is not None]
        if parts:
            abl.append(f"{' and '.join(parts)} on {TASK_NAMES[t]}")
    third = ("Continued pretraining on cancer text moves F1 by " + "; ".join(abl) +
             " (the paper finds cancer_cpt ahead of both; chapter 30 gives paired confidence intervals).") if abl else \
        "This run has no continued-pretraining ablation to compare."
    return [first, second, third]


def results_summary_md(metrics: dict, manifest: dict, metric: str = HEADLINE) -> str:
    """The landing page's results section: three generated sentences, then ``results_table``."""
    scorer = ("reference scorer's \"ROUGE-L\" (unigram-set) F1 ×100" if metric == HEADLINE else f"{metric} F1 ×100")
    return (" ".join(summary_sentences(metrics, manifest, metric)) + "\n\n"
            f"Test-set {scorer}, 95% bootstrap confidence interval in parentheses; best per task in bold; data: "
            f"{data_description(manifest)}. The language models are one small model instruction-tuned three ways: "
            f"`no_cpt` from the base model, `general_cpt` after continued pretraining (CPT) on general clinical text, "
            f"`cancer_cpt` after CPT on cancer text (CancerLLM's recipe).\n\n" + results_table(metrics, metric))


def run_results_md(run_dir: Path) -> str:
    """``results_summary_md`` for a run directory: its stage-30 metrics.json and manifest."""
    path = Path(run_dir) / EVAL_STAGE / "metrics.json"
    if not path.is_file():
        return f"*No results: stage {EVAL_STAGE} has not finished in this run.*\n"
    return results_summary_md(json.loads(path.read_text(encoding="utf-8")), read_manifest(run_dir))


#: Tags that already decide how a cell's source shows (removed or already collapsed): left as they are.
SOURCE_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell"}


def collapse_code(nb: dict) -> dict:
    """Tag every code cell `hide-input` (Jupyter Book: the source folds behind a "Show code cell source" toggle,
    outputs stay visible) unless a tag in SOURCE_TAGS already decides how it shows. The notebook dict is changed in
    place and returned."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if not SOURCE_TAGS.intersection(tags):
            tags.append("hide-input")
    return nb


def copy_collapsed(src: Path, dst: Path) -> None:
    """Copy an executed notebook into the book with its code cells collapsed (``collapse_code``)."""
    nb = json.loads(Path(src).read_text(encoding="utf-8"))
    Path(dst).write_text(json.dumps(collapse_code(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
