"""Peak memory: process RSS (Linux VmHWM, resettable) and the GPU allocator's peak, and `measure()`, which times a
block and records both."""

from __future__ import annotations

import platform
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch


def _vm_hwm_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**30


def peak_rss_gb() -> float:
    """This process's peak resident memory (GiB) since start or the last `reset_peak_memory` (Linux VmHWM;
    elsewhere `ru_maxrss`, which cannot be reset)."""
    kb = _vm_hwm_kb()
    if kb is None:
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kb = ru / 1024 if platform.system() == "Darwin" else ru  # macOS reports bytes, Linux kilobytes
    return kb / 2**20


_EARLIER_PEAK_GB = [0.0]  # the process peak before the last reset, so the whole-process peak is never lost


def process_peak_rss_gb() -> float:
    """Peak resident memory of the whole process (GiB), across any `reset_peak_memory` calls."""
    return max(_EARLIER_PEAK_GB[0], peak_rss_gb())


def reset_peak_memory() -> bool:
    """Restart peak tracking: the GPU allocator's peak, and on Linux the process's VmHWM (writing 5 to
    /proc/self/clear_refs). Returns False when the RSS peak could not be reset."""
    _EARLIER_PEAK_GB[0] = process_peak_rss_gb()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Measurement:
    """What `measure()` recorded: wall seconds, peak RSS (GiB; and its rise over the RSS at entry), GPU peak."""
    seconds: float = 0.0
    peak_rss_gb: float = 0.0
    rss_start_gb: float = 0.0
    peak_gpu_gb: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def peak_rss_delta_gb(self) -> float:
        return max(0.0, self.peak_rss_gb - self.rss_start_gb)


@contextmanager
def measure(sample_interval: float = 0.05):
    """Time a block and record its peak memory:

        with measure() as m:
            ...
        m.seconds, m.peak_rss_gb, m.peak_rss_delta_gb, m.peak_gpu_gb

    The RSS peak comes from the kernel's high-water mark reset at entry; where it cannot be reset a
    background thread samples RSS every `sample_interval` s instead."""
    m = Measurement(rss_start_gb=current_rss_gb())
    exact = reset_peak_memory()
    stop, samples = threading.Event(), [m.rss_start_gb]
    sampler = None
    if not exact:
        def _sample():
            while not stop.wait(sample_interval):
                samples.append(current_rss_gb())
        sampler = threading.Thread(target=_sample, daemon=True)
        sampler.start()
    t0 = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - t0
        if sampler is not None:
            stop.set()
            sampler.join()
        m.peak_rss_gb = peak_rss_gb() if exact else max(samples + [current_rss_gb()])
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            m.peak_gpu_gb = torch.cuda.max_memory_allocated() / 2**30
