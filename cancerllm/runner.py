"""Execute the notebooks of a profile with papermill into runs/<run_name>/, and build the Jupyter Book.

A run directory holds: manifest.json, notebooks/<stage>.ipynb (executed), and <stage>/ (each stage's
metrics.json, figures, predictions, checkpoints). Stages hand results to each other through these files.
A stage whose params did not change since it finished is skipped; `force` recomputes it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from .config import REPO_ROOT, STAGES, Config
from .provenance import commit_description, data_description, new_manifest, read_manifest, write_json

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK_SRC = REPO_ROOT / "book"


class StageError(RuntimeError):
    """A notebook failed; the message names the stage and the executed notebook to open."""


def stage_dir(cfg: Config, stage: str) -> Path:
    """Where a stage writes its outputs. Used in every notebook."""
    d = cfg.run_dir / stage
    d.mkdir(parents=True, exist_ok=True)
    return d


def available_stages() -> list[str]:
    return [s for s in STAGES if (NOTEBOOKS / f"{s}.ipynb").is_file()]


def run(cfg: Config, only: list[str] | None = None, force: list[str] | None = None, progress=True) -> Path:
    """Validate the data, then execute each stage notebook in order. Returns the run directory."""
    import papermill as pm

    from .data import load_cohort

    stages = available_stages()
    unknown = [s for s in (only or []) + (force or []) if s not in stages]
    if unknown:
        raise ValueError(f"unknown stage '{unknown[0]}'; stages are {stages}")
    cohort = load_cohort(cfg)  # data errors surface here, before any kernel starts or directory exists
    run_dir = cfg.run_dir
    manifest = read_manifest(run_dir)
    if manifest.get("params_hash") != cfg.params_hash():
        manifest = new_manifest(cfg, cohort.is_real, cohort.name)
    manifest["data_is_real"] = cohort.is_real
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "manifest.json", manifest)
    for stage in stages:
        if only and stage not in only:
            continue
        done = manifest["stages"].get(stage, {})
        if done.get("status") == "done" and stage not in (force or []) and (run_dir / "notebooks" / f"{stage}.ipynb").is_file():
            continue
        out_nb = run_dir / "notebooks" / f"{stage}.ipynb"
        partial = out_nb.with_suffix(".partial.ipynb")
        manifest["stages"][stage] = {"status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_json(run_dir / "manifest.json", manifest)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(NOTEBOOKS / f"{stage}.ipynb"), str(partial), parameters=cfg.to_dict(),
                                cwd=str(NOTEBOOKS), progress_bar=progress, kernel_name="python3")
        except pm.PapermillExecutionError as exc:
            manifest["stages"][stage] = {"status": "failed", "error": exc.ename}
            write_json(run_dir / "manifest.json", manifest)
            raise StageError(f"stage {stage} failed ({exc.ename}) — see {partial}") from None
        _hide_injected_parameters(partial)
        partial.replace(out_nb)
        manifest["stages"][stage] = {"status": "done", "seconds": round(time.perf_counter() - t0, 1)}
        write_json(run_dir / "manifest.json", manifest)
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json(run_dir / "manifest.json", manifest)
    return run_dir


def _hide_injected_parameters(path: Path) -> None:
    """The book shows results, not the 80-line parameter dump papermill injects: tag it remove-cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def run_summary_md(cfg: Config) -> str:
    """The landing page's "what this run used" table, from the manifest (numbers never typed by hand)."""
    man = read_manifest(cfg.run_dir)
    lines = [
        "| | |", "|---|---|",
        f"| Run | `{cfg.run_name}` |",
        f"| Data | `{man.get('cohort', cfg.data_source)}` — {data_description(man)} |",
        f"| Params hash | `{man.get('params_hash', '?')}` |",
        f"| Code | commit `{commit_description(man)}` |",
        f"| Started / finished | {man.get('started', '?')} / {man.get('finished', '?')} |",
    ]
    for stage, rec in man.get("stages", {}).items():
        lines.append(f"| Stage `{stage}` | {rec.get('status')}, {rec.get('seconds', '?')} s |")
    return "\n".join(lines) + "\n"


def build_book(cfg: Config) -> Path:
    """Copy the run's executed notebooks next to the book sources and build HTML offline.

    Any Sphinx warning or a cell error stored in a notebook fails the build (non-zero exit).
    Returns the path of the built index.html.
    """
    run_dir = cfg.run_dir
    missing = [s for s in available_stages() if not (run_dir / "notebooks" / f"{s}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: no executed notebook for stage {missing[0]}; run `python -m cancerllm run` first")
    work = run_dir / "book"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(BOOK_SRC, work, ignore=shutil.ignore_patterns("_build"))
    (work / "chapters").mkdir(exist_ok=True)
    for stage in available_stages():
        shutil.copy2(run_dir / "notebooks" / f"{stage}.ipynb", work / "chapters" / f"{stage}.ipynb")
    (work / "run_summary.md").write_text(run_summary_md(cfg), encoding="utf-8")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(work), "--warningiserror", "--keep-going", "--quiet"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"jupyter-book build failed for {work}:\n{tail}")
    return work / "_build" / "html" / "index.html"
