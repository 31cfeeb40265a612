"""Execute the notebooks of a profile with papermill into runs/<run_name>/, and build the Jupyter Book.

A run directory holds: manifest.json, notebooks/<stage>.ipynb (executed), and <stage>/ (each stage's
metrics.json, timings.json, figures, predictions, checkpoints). Stages hand results to each other through these
files. A stage whose params and input files did not change since it finished is skipped; `force` recomputes it.
A stage writes into .staging/<stage> and is moved into place only on success; a killed run resumes from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .config import REPO_ROOT, STAGES, Config, params_diff, recorded_names
from .errors import ParamsError, RunDirError
from .provenance import (commit_description, data_description, input_hashes, new_manifest, open_run_dir,
                         read_manifest, write_json)
from .report import copy_collapsed, run_results_md
from .safe_weights import check_staged_checkpoints

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK_SRC = REPO_ROOT / "book"


class StageError(RuntimeError):
    """A notebook failed; the message names the stage and the executed notebook to open."""


def stage_dir(cfg: Config, stage: str) -> Path:
    """Where a stage writes its outputs (its staging directory while the runner executes it; see
    Config.stage_path). Used in every notebook."""
    d = cfg.stage_path(stage)
    d.mkdir(parents=True, exist_ok=True)
    return d


def available_stages() -> list[str]:
    return [s for s in STAGES if (NOTEBOOKS / f"{s}.ipynb").is_file()]


#: Params that only one analysis chapter reads: changing them reruns that chapter alone. Every other param can
#: change what stages 00-30 compute, so it is part of every stage's key (and those stages cascade).
ANALYSIS_PARAMS = {"35_calibration": ("calibration_",), "40_robustness": ("robustness_",), "50_efficiency": ("efficiency_",), "60_retrieval": ("retriev",)}
NOT_RESULTS = ("run_name", "runs_root")  # where a run lives does not change what it computes
#: params added after runs were recorded, left out of the key while unset (empty / false): a run recorded before
#: they existed keeps its stage keys
UNSET_SINCE = ("arms", "arms_zero_shot", "arms_few_shot")


def stage_key(params: dict, inputs: dict, stage: str) -> str:
    """Content hash of what a stage's results depend on: the params it reads and the input files' hashes.
    Works on a manifest's stored params too, so runs recorded by older code are recognised; renamed keys are
    hashed under the names runs were recorded with (`config.recorded_names`), so a rename changes no key."""
    def foreign(key):
        return key in NOT_RESULTS or any(key.startswith(pre) for st, pres in ANALYSIS_PARAMS.items() if st != stage
                                         for pre in pres)
    # no external arms = the key a run had before `arms` existed: upgrading does not recompute finished runs
    kept = {k: v for k, v in recorded_names(params).items() if not foreign(k) and not (k in UNSET_SINCE and not v)}
    blob = json.dumps({"params": kept, "inputs": inputs}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@contextlib.contextmanager
def _lock(run_dir: Path):
    """One live run per directory. A lock left by a process that no longer runs marks an interrupted run: say so
    and carry on (its finished stages are kept, the interrupted stage resumes from its last checkpoint)."""
    lock = run_dir / ".lock"
    if lock.is_file():
        try:
            pid = int(lock.read_text().split()[0])
        except (ValueError, IndexError):
            pid = -1
        if pid > 0 and pid != os.getpid() and _alive(pid):
            raise RunDirError(f"{run_dir}: another run (pid {pid}) is using this run directory; wait for it or "
                              f"choose another run_name")
        print(f"note: {run_dir} holds an interrupted run (pid {pid} no longer running); resuming it", file=sys.stderr)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _promote(staging: Path, final: Path) -> None:
    """Move a finished stage's staging directory into place (old outputs, if any, are removed only after)."""
    trash = final.parent / f".trash-{final.name}"
    shutil.rmtree(trash, ignore_errors=True)
    if final.exists():
        final.rename(trash)
    staging.rename(final)
    shutil.rmtree(trash, ignore_errors=True)


def run(cfg: Config, only: list[str] | None = None, force: list[str] | None = None, progress=True) -> Path:
    """Validate the data and the run directory, then execute each stage notebook in order.

    - A stage is skipped when it finished with the same `stage_key` (the params it reads + input file hashes) and
      no earlier stage of 00-30 was recomputed in this call; `force` recomputes a stage (and, for 00-30, every
      later one). Changing a robustness, efficiency or retrieval param reruns that chapter alone.
    - A stage executes into run_dir/.staging/<stage> and is moved into place only when its notebook succeeds.
      After a crash or kill, re-running resumes: finished stages are skipped, the interrupted stage keeps its
      staging directory and its trainer resumes from the last checkpoint there.
    Returns the run directory."""
    import papermill as pm

    from .data import load_cohort
    from .data.schema import SPLITS

    stages = available_stages()
    unknown = [s for s in (only or []) + (force or []) if s not in stages]
    if unknown:
        raise ParamsError(f"--only/--force: unknown stage '{unknown[0]}'; stages are {stages}")
    from .model_check import check_models

    # a random 7B "small" model, or a base or arm that would not load: before anything is written
    check_models(cfg)
    cohort = load_cohort(cfg, splits=SPLITS)  # data errors surface here, before any kernel starts or directory exists
    run_dir = cfg.run_dir
    manifest = open_run_dir(run_dir)
    check_staged_checkpoints(run_dir)  # a resumed trainer must not read pickle weights (cancerllm/safe_weights.py)
    params, inputs = cfg.to_dict(), input_hashes(cfg)
    with _lock(run_dir):
        old = manifest
        manifest = new_manifest(cfg, cohort.is_real, cohort.name)  # this call's code, params, inputs, hardware
        manifest["stages"] = old.get("stages", {})
        if old.get("started") and old.get("params"):
            manifest["started"] = old["started"]
        (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "manifest.json", manifest)
        recomputed = False  # once a stage of 00-30 reruns, every later stage reads new results and reruns too
        for stage in stages:
            if only and stage not in only:
                continue
            key = stage_key(params, inputs, stage)
            out_nb = run_dir / "notebooks" / f"{stage}.ipynb"
            done = manifest["stages"].get(stage, {})
            recorded = done.get("key") or (old.get("params") and stage_key(old["params"], old.get("inputs", {}), stage))
            if (done.get("status") == "done" and recorded == key and stage not in (force or []) and not recomputed
                    and out_nb.is_file() and (run_dir / stage).is_dir()):
                continue
            staging = _staging(run_dir, stage, key, clean=stage in (force or []) or done.get("status") == "done")
            recomputed = recomputed or stage not in ANALYSIS_PARAMS
            _execute(pm, cfg, stage, staging, out_nb, manifest, progress)
            manifest["stages"][stage].update(key=key, inputs=inputs)  # the gate checks each chapter's own inputs
            _promote(staging, run_dir / stage)
            write_json(run_dir / "manifest.json", manifest)
        manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json(run_dir / "manifest.json", manifest)
        with contextlib.suppress(OSError):
            (run_dir / ".staging").rmdir()  # only when empty: an unfinished stage keeps its checkpoints there
    return run_dir


def _staging(run_dir: Path, stage: str, key: str, clean: bool) -> Path:
    """The stage's staging directory. Kept across an interruption (its checkpoints let training resume) only
    when it was made for the same stage key; otherwise, or when `clean`, it starts empty."""
    staging = run_dir / ".staging" / stage
    marker = staging / ".stage_key"
    if clean or not marker.is_file() or marker.read_text().strip() != key:
        shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n")
    return staging


def _execute(pm, cfg: Config, stage: str, staging: Path, out_nb: Path, manifest: dict, progress: bool) -> None:
    """Run one notebook with papermill into <stage>.partial.ipynb, outputs into `staging`; record it."""
    run_dir = cfg.run_dir
    partial = out_nb.with_suffix(".partial.ipynb")
    resumed = manifest["stages"].get(stage, {}).get("status") in ("running", "failed")
    manifest["stages"][stage] = {"status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "resumed": resumed}
    write_json(run_dir / "manifest.json", manifest)
    t0 = time.perf_counter()
    os.environ["CANCERLLM_STAGING"] = f"{stage}={staging}"  # inherited by the kernel papermill starts
    try:
        pm.execute_notebook(str(NOTEBOOKS / f"{stage}.ipynb"), str(partial), parameters=notebook_parameters(cfg),
                            cwd=str(NOTEBOOKS), progress_bar=progress, kernel_name="python3")
    except pm.PapermillExecutionError as exc:
        manifest["stages"][stage] = {"status": "failed", "error": exc.ename}
        write_json(run_dir / "manifest.json", manifest)
        raise StageError(f"stage {stage} failed ({exc.ename}) — see {partial}") from None
    finally:
        os.environ.pop("CANCERLLM_STAGING", None)
    _hide_injected_parameters(partial)
    partial.replace(out_nb)
    manifest["stages"][stage] = {"status": "done", "seconds": round(time.perf_counter() - t0, 1), "resumed": resumed}


def notebook_parameters(cfg: Config) -> dict:
    """What papermill injects into a notebook's two parameters: no profile file and, as `overrides`, every param
    where `cfg` differs from the Config defaults (`config.params_diff`). The notebook's `load_params(params_file,
    overrides)` then builds exactly `cfg`; the executed notebook records the params it ran with, and a profile
    edited while a run goes on cannot reach that run's later stages."""
    return {"params_file": None, "overrides": params_diff(cfg)}


def _hide_injected_parameters(path: Path) -> None:
    """The book shows results, not the parameter cell papermill injects: tag it remove-cell."""
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
        f"| Run | `{cfg.run_name}` |", "|---|---|",  # the run's name is the header: an empty one showed as a blank bar
        f"| Data | `{man.get('cohort', cfg.data_source)}` — {data_description(man)} |",
        f"| Params hash | `{man.get('params_hash', '?')}` |",
        f"| Code | commit `{commit_description(man)}` |",
        f"| Started / finished | {man.get('started', '?')} / {man.get('finished', '?')} |",
    ]
    for stage, rec in man.get("stages", {}).items():
        lines.append(f"| Stage `{stage}` | {rec.get('status')}, {rec.get('seconds', '?')} s |")
    return "\n".join(lines) + "\n"


def build_book(cfg: Config) -> Path:
    """Copy the run's executed notebooks next to the book sources (code cells collapsed: `report.collapse_code`),
    write the landing page's generated run and results summaries (`run_summary_md`, `report.run_results_md`), and
    build HTML offline.

    Any Sphinx warning or a cell error stored in a notebook fails the build (non-zero exit).
    Real data (the manifest's `data_is_real` is not false): the publishing gate (cancerllm/gate.py) scans the
    executed notebooks before building and everything under book/_build after, and the models must pass the
    memorisation check (`gate.check_memorisation`); a finding raises LeakError and leaves no built HTML.
    Returns the path of the built index.html.
    """
    from .gate import check_memorisation, publishing_gate

    run_dir = cfg.run_dir
    missing = [s for s in available_stages() if not (run_dir / "notebooks" / f"{s}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: no executed notebook for stage {missing[0]}; run `python -m cancerllm run` first")
    work = run_dir / "book"
    gate = publishing_gate(cfg)  # None for synthetic runs: their books may show example notes
    if gate is not None:
        gate.check(run_dir, [run_dir / "notebooks"], remove=work / "_build")
        check_memorisation(run_dir, read_manifest(run_dir))  # weights that reproduce notes: no book either
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(BOOK_SRC, work, ignore=shutil.ignore_patterns("_build"))
    (work / "chapters").mkdir(exist_ok=True)
    for stage in available_stages():  # code folded behind a toggle: the chapters read as a report
        copy_collapsed(run_dir / "notebooks" / f"{stage}.ipynb", work / "chapters" / f"{stage}.ipynb")
    (work / "run_summary.md").write_text(run_summary_md(cfg), encoding="utf-8")
    (work / "results_summary.md").write_text(run_results_md(run_dir), encoding="utf-8")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(work), "--warningiserror", "--keep-going", "--quiet"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"jupyter-book build failed for {work}:\n{tail}")
    if gate is not None:
        gate.check(run_dir, [work / "_build"], remove=work / "_build")
    return work / "_build" / "html" / "index.html"
