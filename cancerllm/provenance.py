"""Run manifest and provenance: git commit, params, input hashes, package versions, hardware, times.

The runner writes `runs/<run_name>/manifest.json`; every chapter shows `provenance_box` from it.
Used in every notebook (provenance box) and by cancerllm.runner.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from .config import REPO_ROOT, Config
from .errors import RunDirError

PACKAGES = ["torch", "transformers", "trl", "peft", "datasets", "accelerate", "tokenizers", "papermill",
            "jupyter-book", "scikit-learn", "pandas", "numpy", "matplotlib", "seaborn", "nltk"]


def git_state() -> dict:
    """Commit hash and whether the working tree has uncommitted changes ('unknown' outside a checkout)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=20)
    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": "unknown", "dirty": None}
    if head.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(cfg: Config) -> list[Path]:
    """The data files a run reads (none for the embedded synthetic cohort)."""
    if cfg.data_source == "tcga":
        return [cfg.data_dir / "tcga-reports" / "reports_labeled_dev.csv", cfg.data_dir / "mtsamples" / "mtsamples_dev.csv.gz"]
    if cfg.data_source == "custom":
        return [cfg.custom_path]
    return []


def input_hashes(cfg: Config) -> dict:
    return {str(p): file_sha256(p) for p in input_files(cfg) if p.is_file()}


def hardware() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "machine": platform.machine()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    return info


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def new_manifest(cfg: Config, is_real: bool, cohort_name: str) -> dict:
    return {
        "run_name": cfg.run_name, "data_source": cfg.data_source, "cohort": cohort_name,
        "data_is_real": is_real, "params_hash": cfg.params_hash(), "params": cfg.to_dict(), "seed": cfg.seed,
        "git": git_state(), "inputs": input_hashes(cfg), "packages": package_versions(), "hardware": hardware(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": None, "stages": {},
    }


def write_json(path: Path, obj) -> None:
    """Atomic JSON write (temp file + rename): a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


#: Key fragments of measurements that differ between identical runs (wall time, memory, utilisation). They are
#: kept out of metrics.json so two runs with the same params and seed give byte-identical metrics files.
VOLATILE = ("seconds", "per_second", "rss", "mfu", "latency", "gflops", "tflops", "runtime", "peak_")


def _split_volatile(obj):
    """(deterministic part, volatile part) of a nested dict/list; lists are kept whole on the stable side."""
    if not isinstance(obj, dict):
        return obj, None
    stable, vol = {}, {}
    for k, v in obj.items():
        if any(frag in str(k).lower() for frag in VOLATILE):
            vol[k] = v
            continue
        s, t = _split_volatile(v)
        stable[k] = s
        if t:
            vol[k] = t
    return stable, vol


def write_metrics(out_dir: Path, metrics: dict) -> None:
    """A stage's results: metrics.json (deterministic: same params + seed on CPU fp32 -> same bytes) and
    timings.json (wall time, throughput, memory, utilisation — read by notebooks/50_efficiency.ipynb)."""
    stable, vol = _split_volatile(metrics)
    write_json(Path(out_dir) / "metrics.json", stable)
    write_json(Path(out_dir) / "timings.json", vol or {})


def read_metrics(out_dir: Path) -> dict:
    """metrics.json with timings.json merged back in (the inverse of `write_metrics`)."""
    def merge(a, b):
        for k, v in (b or {}).items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    out_dir = Path(out_dir)
    stable = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    timings = out_dir / "timings.json"
    return merge(stable, json.loads(timings.read_text(encoding="utf-8")) if timings.is_file() else {})


def read_manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def data_description(man: dict) -> str:
    """Whether a run's data was real or synthetic, as the loader recorded it in the manifest."""
    real = man.get("data_is_real")
    return "REAL patient text" if real else "synthetic (generated) text" if real is False else "unknown"


def commit_description(man: dict) -> str:
    """Short commit hash of the run, flagged when the working tree had uncommitted changes."""
    git = man.get("git", {})
    return str(git.get("commit", "unknown"))[:10] + (" (uncommitted changes)" if git.get("dirty") else "")


def provenance_box(cfg: Config):
    """A short Markdown box for the top of a chapter: data (synthetic/real), run, commit, params hash."""
    from IPython.display import Markdown

    man = read_manifest(cfg.run_dir)
    lines = [
        "```{admonition} Provenance of this page",
        ":class: note",
        f"- **Data**: `{man.get('cohort', cfg.data_source)}` — {data_description(man)}",
        f"- **Run**: `{cfg.run_name}`, params hash `{cfg.params_hash()}`, seed {cfg.seed}",
        (f"- **Code**: commit `{commit_description(man)}`; torch {man.get('packages', {}).get('torch', '?')},"
         f" transformers {man.get('packages', {}).get('transformers', '?')},"
         f" trl {man.get('packages', {}).get('trl', '?')}"),
        (f"- **Hardware**: {man.get('hardware', {}).get('cpu_count', '?')} CPU cores,"
         f" GPU: {man.get('hardware', {}).get('cuda') or 'none'}"),
        "- Every number on this page was **measured here** unless a table says *reported by the paper*.",
        "```",
    ]
    return Markdown("\n".join(lines))


def open_run_dir(run_dir: Path) -> dict:
    """The manifest of an existing run directory ({} for a new or empty one), or one clear RunDirError."""
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return {}
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise RunDirError(f"{run_dir}: exists but has no manifest.json, so it is not a cancerllm run directory; "
                          f"remove it or choose another run_name")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{path}: damaged (not valid JSON); remove the run directory or choose another run_name") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stages"), dict):
        raise RunDirError(f"{path}: damaged (no 'stages' record); remove the run directory or choose another run_name")
    return manifest
