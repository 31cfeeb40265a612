"""Figures. Every function returns a matplotlib Figure with a title, labelled axes (with units) and the data
source in the title, so a reader can tell synthetic from real at a glance.
Used in notebooks/00_data_profiling.ipynb (and later chapters), always as `plots.<function>`.

Where the code lives: the shared style — seaborn theme, column width and smallest font, colours, legend and
empty-panel helpers, `data_label`, `save` — in style.py; one module per chapter's figures: profiling.py (00),
training.py (10, 20), evaluation.py (30), calibration.py (35), robustness.py (40), efficiency.py (50),
retrieval.py (60). Every public name is re-exported here.
"""

from .calibration import coverage_risk_curves, reliability_diagrams
from .efficiency import extraction_panels, inference_panels, lora_full_bars, scaling_frontier, stage_cost_bars
from .evaluation import _top_confusion as _top_confusion  # the labels a confusion panel keeps (used by tests)
from .evaluation import confusion_grid, forest, heatmap
from .profiling import abbreviation_bars, cohort_bars, label_status_bars, label_value_grid, length_histograms
from .retrieval import RETRIEVER_COLORS, k_sweep, retrieval_gain
from .robustness import evidence_bars, robustness_curves
from .style import (ARM_COLORS, COLUMN_WIDTH, FIG_WIDTH, MIN_FONT, MODEL_COLORS, SPLIT_COLORS, data_label, model_color,
                    save)
from .training import loss_curves, perplexity_bars

__all__ = ["ARM_COLORS", "COLUMN_WIDTH", "FIG_WIDTH", "MIN_FONT", "MODEL_COLORS", "RETRIEVER_COLORS", "SPLIT_COLORS",
           "abbreviation_bars", "cohort_bars", "confusion_grid", "coverage_risk_curves", "data_label", "evidence_bars",
           "extraction_panels", "forest", "heatmap", "inference_panels", "k_sweep", "label_status_bars",
           "label_value_grid", "length_histograms", "lora_full_bars", "loss_curves", "model_color", "perplexity_bars",
           "reliability_diagrams", "retrieval_gain", "robustness_curves", "save", "scaling_frontier", "stage_cost_bars"]
