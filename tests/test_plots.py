"""Figures are legible at the book's column width: no text under plots.MIN_FONT pt once the figure (its tight bbox,
as the notebook shows it) is shrunk to plots.COLUMN_WIDTH inches, legends outside every panel, no empty panel,
axis labels no longer than their axis. Synthetic data shaped like the run tables the notebooks pass in."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from cancerllm import plots, stats

SYSTEMS = ["no_cpt", "general_cpt", "cancer_cpt", "rule", "tfidf_logreg"]
TASKS = ["phenotype_extraction", "diagnosis_generation"]
SOURCE = "REAL data: tcga_first_cohort"  # titles as long as a real run's
HARDWARE = "AMD EPYC 7B13 64-Core Processor, 2 threads"


def _sweep():
    rows = [dict(condition=c, rate=r, task=t, system=s, metric="rouge_l_reference", f1=f, f1_ci_low=f - 10,
                 f1_ci_high=f + 10, n=40)
            for c in ("misspelling", "ocr") for r in (0.0, 0.1, 0.3, 0.5) for t in TASKS
            for f, s in zip((20, 18, 22, 50, 65), SYSTEMS)]
    return pd.DataFrame(rows)


def _gains():
    return pd.DataFrame([dict(system=s, task=t, retriever=r, k=2, noise=0.0, diff=d, ci_low=d - 5, ci_high=d + 5,
                              n=45 if t == TASKS[0] else 9)
                         for t in TASKS for r in ("bm25", "tfidf", "char_ngram")
                         for s, d in zip(SYSTEMS[:3], (-14.0, 0.0, 0.5))])


def _scores60():
    rows = [dict(condition="no retrieval", retriever="none", k=0, noise=0.0, task=t, system="cancer_cpt",
                 metric="rouge_l_reference", f1=21, f1_ci_low=10, f1_ci_high=35, n=45) for t in TASKS]
    rows += [dict(condition=f"{r} k={k}", retriever=r, k=k, noise=0.0, task=t, system=s, metric="rouge_l_reference",
                  f1=40, f1_ci_low=30, f1_ci_high=50, n=45)
             for t in TASKS for r, ks in (("bm25", (1, 2, 4)), ("tfidf", (2,)), ("char_ngram", (2,)))
             for k in ks for s in ("cancer_cpt", "knn")]
    return pd.DataFrame(rows)


def _confusions():
    rng = np.random.default_rng(0)
    stages = ["T1", "T2", "T3", "T4", "not mentioned", "pT 3", "pTN", "pTNM", "pNO"]
    diag = [f"Long diagnosis name number {i} carcinoma" for i in range(20)]
    out = {}
    for fld, labels in (("t_stage", stages), ("n_stage", stages), ("m_stage", stages[:5]), ("diagnosis", diag)):
        gold = rng.choice(labels, 90).tolist()
        pred = [g if rng.random() < 0.5 else rng.choice(labels) for g in gold]
        out[fld] = stats.confusion(gold, pred)
    return out


def _status(not_mentioned=0):
    return pd.DataFrame({"stated": [880, 332, 892], "not mentioned": [not_mentioned] * 3, "no label": [12, 560, 0],
                         "distinct values": [55, 6, 4]}, index=pd.Index(["histologic_type", "grade", "t_stage"],
                                                                       name="field"))


def _counts(n_fields):
    vals = ["Infiltrating Ductal Carcinoma", "Head & Neck Squamous Cell Carcinoma",
            "Thyroid Papillary Carcinoma - Classical/usual", "G2", "(no label)"]
    return pd.DataFrame([dict(field=f"field_{i}", value=v, patients=100 - 10 * j)
                         for i in range(n_fields) for j, v in enumerate(vals)])


def _lora():
    return pd.DataFrame({"step_seconds": [2.2, 2.7], "peak_rss_gb": [1.86, 2.31], "params_trainable": [1811584, 311296],
                         "checkpoint_mb": [6.91, 1.19]}, index=["full", "LoRA"])


def _inference():
    rows = [("batch size", "1", 231, 0.07), ("batch size", "4", 525, 0.12), ("batch size", "16", 1265, 0.2),
            ("batch size", "64", 470, 2.2), ("reference loop", "sequential, batch 1", 300, None),
            ("KV cache", "off", 320, None), ("KV cache", "on", 518, None),
            ("prompt length", "32 tokens", 1110, None), ("prompt length", "128 tokens", 1250, None)]
    return pd.DataFrame(rows, columns=["experiment", "setting", "tokens/s", "latency per batch (s)"])


def _extraction():
    rows = [("reports", "1", 1, 17, 0.17), ("reports", "8", 8, 124, 1.1), ("batch size", "8", 8, 124, 1.6),
            ("batch size", "64", 8, 124, 1.1), ("one report at a time", "report 1", 1, 17, 0.19),
            ("one report at a time", "report 2", 1, 9, 0.14), ("reference loop", "batch 1, no reuse", 2, 32, 4.1),
            ("ours, free decoding", "batch 64", 2, 32, 0.32), ("model size (reading pass)", "0.45M", 2, 32, 0.11),
            ("model size (reading pass)", "4.17M", 2, 32, 0.53)]
    df = pd.DataFrame(rows, columns=["experiment", "setting", "reports", "passages", "seconds"])
    return df.assign(**{"seconds per report": df["seconds"] / df["reports"]})


FIGURES = {
    "extraction_panels": lambda: plots.extraction_panels(_extraction(), HARDWARE),
    "label_status_bars": lambda: plots.label_status_bars(_status(), SOURCE),
    "label_value_grid_odd": lambda: plots.label_value_grid(_counts(5), SOURCE),
    "label_value_grid_even": lambda: plots.label_value_grid(_counts(8), SOURCE),
    "confusion_grid": lambda: plots.confusion_grid(_confusions(), "cancer_cpt", SOURCE),
    "robustness_curves": lambda: plots.robustness_curves(_sweep(), "rouge_l_reference", SOURCE),
    "retrieval_gain": lambda: plots.retrieval_gain(_gains(), SOURCE),
    "k_sweep": lambda: plots.k_sweep(_scores60(), SOURCE),
    "lora_full_bars": lambda: plots.lora_full_bars(_lora(), HARDWARE),
    "inference_panels": lambda: plots.inference_panels(_inference(), HARDWARE),
}


@pytest.fixture(params=sorted(FIGURES))
def drawn(request):
    fig = FIGURES[request.param]()
    fig.set_dpi(100)  # what the notebook's inline backend uses
    fig.canvas.draw()
    yield fig, fig.canvas.get_renderer()
    plt.close(fig)


def _texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
            and (t.axes is None or t.axes.get_visible())]


def test_rendered_text_at_least_min_font(drawn):
    fig, renderer = drawn
    width = fig.get_tightbbox(renderer).width  # inches, as saved with bbox_inches="tight"
    scale = min(1.0, plots.COLUMN_WIDTH / width)
    small = sorted({(round(t.get_fontsize() * scale, 1), t.get_text()[:30]) for t in _texts(fig)
                    if t.get_fontsize() * scale < plots.MIN_FONT - 1e-6})
    assert not small, f"figure {width:.1f} in wide: text under {plots.MIN_FONT} pt at the column width: {small[:5]}"


def test_legends_outside_every_panel(drawn):
    fig, renderer = drawn
    legends = [leg for leg in fig.findobj(matplotlib.legend.Legend) if leg.get_visible()]
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer)), \
                    f"legend {[t.get_text() for t in leg.get_texts()][:3]} overlaps panel {ax.get_title()!r}"


def test_no_empty_panel(drawn):
    fig, _ = drawn
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        has_data = ax.lines or ax.patches or ax.collections or ax.images or \
            any("no" in t.get_text() for t in ax.texts)  # _no_data writes why the panel is empty
        twin_data = any(o is not ax and o.bbox.bounds == ax.bbox.bounds and o.lines for o in fig.axes)
        assert has_data or twin_data, f"empty panel {ax.get_title()!r}"


def test_axis_labels_fit_their_axis(drawn):
    """A y label longer than its panel runs into the title or off the figure (chapter 40's clipped label)."""
    fig, renderer = drawn
    for ax in fig.axes:
        if ax.get_visible() and ax.get_ylabel():
            label_h = ax.yaxis.label.get_window_extent(renderer).height
            assert label_h <= 1.05 * ax.get_window_extent(renderer).height, f"y label {ax.get_ylabel()!r} too long"


def test_label_status_bars_drops_an_always_zero_status():
    fig = plots.label_status_bars(_status(not_mentioned=0), SOURCE)
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert labels == ["stated", "no label"]
    assert "not mentioned: 0 patients in every field" in fig.legends[0].get_title().get_text()
    plt.close(fig)
    fig = plots.label_status_bars(_status(not_mentioned=3), SOURCE)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["stated", "not mentioned", "no label"]
    plt.close(fig)


def test_confusion_keeps_the_most_frequent_labels_and_sums_the_rest():
    gold = ["Z common"] * 6 + ["A rare", "B rare", "C rare"]
    pred = ["Z common"] * 5 + ["A rare"] + ["Z common"] * 3
    m = plots._top_confusion(stats.confusion(gold, pred), max_labels=3)
    assert list(m.index) == ["A rare", "Z common", "(other)"]  # alphabetical "A rare" first, the bulk kept
    assert int(m.to_numpy().sum()) == len(gold)
    assert m.loc["Z common", "Z common"] == 5 and m.loc["(other)", "Z common"] == 2


def test_label_value_grid_fills_every_slot():
    fig = plots.label_value_grid(_counts(5), SOURCE)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 5
    last = fig.axes[-1].get_window_extent()
    assert last.width > 1.8 * fig.axes[0].get_window_extent().width  # the odd one out spans the row
    plt.close(fig)
