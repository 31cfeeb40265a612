"""Cost measurement: wall time, tokens/s, peak memory, parameters, model FLOPs per token and utilisation (MFU).

Where the code lives:
  ../measure/     the primitives, below training: CPU thread policy, the machine's identity and matmul peak
                  (hardware.py), peak RSS / GPU memory and `measure()` (memory.py), the FLOPs convention,
                  FLOPs per token and MFU (flops.py); re-exported here
  experiments.py  the efficiency chapter's measured experiments (training-cost runs, sweeps)
  extraction.py   what extracting a report costs, ours against the reference's one-prompt loop
  report.py       its tables, summaries, metrics.json and the paper's reported claims

Used in cancerllm.bench and notebooks/50_efficiency.ipynb.
"""

from .. import measure as _measure
from ..measure import *  # the primitives, re-exported for the chapter and bench
from .experiments import (comparison_shape, generation_prompts, inference_sweep, lora_vs_full, precision_compare,
                          retrieval_cost, scaling_sweep, sft_texts, stage_costs, train_run)
from .extraction import extraction_costs, extraction_per_arm, extraction_summary, report_instances, year_of_reports
from .report import (REPORTED, chapter_metrics, hardware_info, hardware_table, inference_summary, lora_summary,
                     precision_summary, reported_table, scaling_summary)

STAGE = "50_efficiency"

__all__ = ["REPORTED", "STAGE", "chapter_metrics", "comparison_shape", "extraction_costs",
           "extraction_per_arm", "extraction_summary", "generation_prompts", "hardware_info", "hardware_table",
           "inference_summary", "inference_sweep", "lora_summary", "lora_vs_full", "precision_compare",
           "precision_summary", "report_instances", "reported_table", "retrieval_cost", "scaling_summary",
           "scaling_sweep", "sft_texts", "stage_costs", "train_run", "year_of_reports"]
__all__ += _measure.__all__
