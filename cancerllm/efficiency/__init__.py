"""Cost measurement: wall time, tokens/s, peak memory, parameters, model FLOPs per token and utilisation (MFU).

Where the code lives:
  hardware.py     CPU thread policy, the machine's identity, the measured matmul peak (FLOP/s)
  memory.py       peak RSS / GPU memory and `measure()`
  flops.py        the FLOPs convention (read its docstring), FLOPs per token, MFU
  experiments.py  the efficiency chapter's measured experiments (training-cost runs, sweeps)
  extraction.py   what extracting a report costs, ours against the reference's one-prompt loop
  report.py       its tables, summaries, metrics.json and the paper's reported claims

Used in cancerllm.training (every training stage records these), cancerllm.bench and
notebooks/50_efficiency.ipynb.
"""

from .experiments import (comparison_shape, generation_prompts, inference_sweep, lora_vs_full, precision_compare, retrieval_cost,
                          scaling_sweep, sft_texts, stage_costs, train_run)
from .extraction import extraction_costs, extraction_per_arm, extraction_summary, report_instances
from .flops import flops_per_token, matmul_parameters, mfu, model_flops_per_token, trainable_parameters
from .hardware import (configure_threads, cpu_model, hardware_label, matmul_peak_gflops, peak_gflops,
                       physical_cores, refresh_peak)
from .memory import (Measurement, current_rss_gb, measure, peak_rss_gb, process_peak_rss_gb,
                     reset_peak_memory)
from .report import (REPORTED, chapter_metrics, hardware_info, hardware_table, inference_summary, lora_summary,
                     precision_summary, reported_table, scaling_summary)

STAGE = "50_efficiency"

__all__ = ["REPORTED", "STAGE", "Measurement", "chapter_metrics", "comparison_shape", "configure_threads",
           "extraction_costs", "extraction_per_arm", "extraction_summary", "report_instances",
           "cpu_model", "current_rss_gb", "flops_per_token", "generation_prompts", "hardware_info", "hardware_label", "hardware_table",
           "inference_summary", "inference_sweep", "lora_summary", "lora_vs_full", "matmul_parameters",
           "matmul_peak_gflops", "measure", "mfu", "model_flops_per_token", "peak_gflops", "peak_rss_gb", "physical_cores", "precision_compare",
           "precision_summary", "process_peak_rss_gb", "refresh_peak", "reported_table", "reset_peak_memory",
           "retrieval_cost", "scaling_summary", "scaling_sweep", "sft_texts", "stage_costs",
           "train_run", "trainable_parameters"]
