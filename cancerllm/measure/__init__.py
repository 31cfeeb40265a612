"""Measurement primitives, below training: the CPU thread policy and the machine's identity and matmul peak
(hardware.py), peak RSS / GPU memory and `measure()` (memory.py), and the FLOPs convention, FLOPs per token and
MFU (flops.py). Every training stage records these (cancerllm.training); the efficiency chapter
(cancerllm.efficiency) and the benchmark report them."""

from .flops import flops_per_token, matmul_parameters, mfu, model_flops_per_token, trainable_parameters
from .hardware import (configure_threads, cpu_model, hardware_label, matmul_peak_gflops, peak_gflops, physical_cores,
                       refresh_peak)
from .memory import Measurement, current_rss_gb, measure, peak_rss_gb, process_peak_rss_gb, reset_peak_memory

__all__ = ["Measurement", "configure_threads", "cpu_model", "current_rss_gb", "flops_per_token", "hardware_label",
           "matmul_parameters", "matmul_peak_gflops", "measure", "mfu", "model_flops_per_token", "peak_gflops",
           "peak_rss_gb", "physical_cores", "process_peak_rss_gb", "refresh_peak", "reset_peak_memory",
           "trainable_parameters"]
