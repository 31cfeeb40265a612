"""Threads and hardware: the CPU thread policy, the machine's identity for figure titles, and its MEASURED
matmul peak (FLOP/s) that every utilisation figure is relative to — not a datasheet number."""

from __future__ import annotations

import os
import platform
import time

import torch


def physical_cores() -> int:
    """Physical CPU cores this process may use: hyper-threads share one core's FMA units (they add nothing to
    matmul peak), and a container's CPU affinity or cgroup quota caps what the host reports."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:  # pragma: no cover - psutil is a dependency
        n = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        n = min(n, len(os.sched_getaffinity(0)))
    try:  # cgroup v2 quota, e.g. "200000 100000" = 2 CPUs
        with open("/sys/fs/cgroup/cpu.max", encoding="utf-8") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


_THREADS_SET = [False]  # whether this process's thread count was already chosen (by policy or explicitly)


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads and return the count. `n` given: exactly that. Otherwise, the first call in a
    process applies the policy — `CANCERLLM_THREADS`, else (unless the user set `OMP_NUM_THREADS`, which is
    respected) the physical cores — and later calls leave whatever was chosen alone, so a training stage never
    undoes a caller's explicit choice. The one place for the thread policy: training stages, the efficiency
    chapter and the benchmark call it. (On a CPU shared with other busy processes, fewer threads can be much
    faster: set CANCERLLM_THREADS=1; see benchmarks/README.md.)"""
    if n is None and _THREADS_SET[0]:
        return torch.get_num_threads()
    _THREADS_SET[0] = True
    n = n or int(os.environ.get("CANCERLLM_THREADS") or 0)
    if not n and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    n = n or physical_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_label() -> str:
    """Short label for figure titles: the GPU, or the CPU model with the thread count torch uses."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{cpu_model()}, {torch.get_num_threads()} threads"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak_gflops(dtype=torch.float32, device=None, sizes=None, reps: int = 3, budget_s: float = 1.5) -> float:
    """Best GFLOP/s of an n x n @ n x n matmul (2 n^3 FLOPs) over `sizes` and `reps`, at torch's current
    thread count. A size is skipped once its predicted time (the last size's, scaled by n^3) would overrun
    `budget_s`, so slow dtypes (bf16 on a CPU without bf16 instructions) stop early at a small size. CPU sizes
    start small because such emulated bf16 GEMMs run fastest there; fp32 peaks at the large sizes."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = sizes or ((2048, 4096, 8192) if device.type == "cuda" else (64, 128, 256, 512, 1024, 2048))
    best, spent, last = 0.0, 0.0, None
    for n in sizes:
        if last is not None and spent + last[1] * (n / last[0]) ** 3 * (reps + 1) > budget_s:
            break
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        times = []
        for _ in range(reps + 1):  # the first is a warm-up (allocation, kernel selection)
            _sync(device)
            t = time.perf_counter()
            a @ b
            _sync(device)
            times.append(time.perf_counter() - t)
        spent += sum(times)
        last = (n, min(times[1:]))
        best = max(best, 2 * n**3 / max(last[1], 1e-12) / 1e9)
    return round(best, 2)


_PEAKS: dict = {}  # (dtype, device, threads) -> GFLOP/s, measured once per process


def peak_gflops(dtype=torch.float32, device=None, budget_s: float = 3.0) -> float:
    """`matmul_peak_gflops`, measured once per process, dtype, device and thread count (the first caller's
    `budget_s` decides how large the matmuls may get; later calls return the cached value)."""
    device = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    key = (str(dtype), device, torch.get_num_threads())
    if key not in _PEAKS:
        _PEAKS[key] = matmul_peak_gflops(dtype, device, budget_s=budget_s)
    return _PEAKS[key]


def refresh_peak(dtype=torch.float32, device=None, budget_s: float = 1.0) -> float:
    """Measure the peak again and keep the larger of the cached and the new value: on a shared machine a single
    measurement can come out low (another process had the cores), which would inflate MFU. Training stages call
    this after training, so a run's MFU is relative to the best the machine showed before or after it."""
    old = peak_gflops(dtype, device)
    device = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    key = (str(dtype), device, torch.get_num_threads())
    _PEAKS[key] = max(old, matmul_peak_gflops(dtype, device, budget_s=budget_s))
    return _PEAKS[key]
