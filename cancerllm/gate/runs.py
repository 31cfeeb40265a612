"""Gating a run: the notes it recorded (`recorded_cohort`), the gate `runner.build_book` applies
(`publishing_gate`), the memorisation check (rule 3, `check_memorisation`) and `python -m cancerllm gate`
(`gate_run`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import LeakError, RunDirError
from .rules import Hit
from .scanner import Gate, _publishable


def recorded_cohort(run_dir: Path):
    """(cohort, manifest) of a run as its manifest records it: the notes are loaded with the run's own params and
    every input file must still have the sha256 the run recorded. Whatever the current params name is ignored:
    scanning a book against other data would let any note text through. One RunDirError when that cannot be done."""
    from ..config import make_config
    from ..data import load_cohort
    from ..provenance import input_hashes, open_run_dir

    path = Path(run_dir) / "manifest.json"
    manifest = open_run_dir(Path(run_dir)) if Path(run_dir).is_dir() else {}
    if not isinstance(manifest.get("params"), dict):
        raise RunDirError(f"{path}: no recorded params, so the run's own inputs are unknown and the gate cannot "
                          f"scan it; re-run `python -m cancerllm run`")
    cfg = make_config(manifest["params"], source=str(path))
    recorded, now = manifest.get("inputs") or {}, input_hashes(cfg)
    for name in sorted(set(recorded) | set(now)):
        if recorded.get(name) != now.get(name):
            why = ("is missing" if name not in now else "is not recorded" if name not in recorded
                   else "has changed since the run (sha256 differs)")
            raise RunDirError(f"{path}: input {name} {why}; the gate scans only against the inputs the run recorded")
    for stage, rec in sorted((manifest.get("stages") or {}).items()):  # `run --only` on other data keeps old chapters
        rec = rec if isinstance(rec, dict) else {}
        stale = rec.get("status") != "done" and (Path(run_dir) / "notebooks" / f"{stage}.ipynb").is_file()
        if stale or ("inputs" in rec and rec["inputs"] != recorded):
            why = (f"is {rec.get('status')}, so its notebook is left from an earlier execution" if stale
                   else "ran on other inputs than the run records now")
            raise RunDirError(f"{path}: stage {stage} {why}; re-run it "
                              f"(`python -m cancerllm run PARAMS --force {stage}`) before gating the run")
    return load_cohort(cfg), manifest


def publishing_gate(cfg):
    """The gate for a run, or None when the run's manifest records synthetic data (synthetic books may show
    example notes). A run without a recorded answer is gated: only a loader's False opens the door. The notes
    are the run's own (`recorded_cohort`), not those of `cfg`, which only names the run directory."""
    from ..provenance import open_run_dir

    if cfg.run_dir.is_dir() and open_run_dir(cfg.run_dir).get("data_is_real") is False:
        return None
    cohort, manifest = recorded_cohort(cfg.run_dir)
    return Gate(cohort.notes, cohort.general, manifest)


def scan_run(run_dir: Path, notes, general=None, manifest: dict | None = None) -> list[Hit]:
    """Findings in a run's executed notebooks and built book against the given notes (any run, explicitly)."""
    if manifest is None:
        from ..provenance import read_manifest

        manifest = read_manifest(run_dir)
    return Gate(notes, general, manifest).scan(Path(run_dir))


def check_memorisation(run_dir: Path, manifest: dict) -> None:
    """Refuse a real-data run whose weights reproduce their training notes (cancerllm/memorisation.py): one
    LeakError line naming the first model whose recorded train − held-out verbatim-continuation rate exceeds
    `memorisation.MAX_EXCESS_RATE` (the constant, never a value recorded in the run), or saying that stage 20
    recorded no check for a model the run trained. Runs whose manifest records synthetic data pass."""
    from .. import memorisation

    stage = "20_instruction_tuning"  # pipeline.SFT_STAGE (not imported: it pulls in the training stack)
    if manifest.get("data_is_real") is False:
        return
    path = Path(run_dir) / stage / "metrics.json"
    rerun = f"re-run it (`python -m cancerllm run PARAMS --force {stage}`)"
    try:
        record = json.loads(path.read_text(encoding="utf-8")).get("memorisation")
    except (OSError, ValueError, AttributeError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("models"), dict):
        raise LeakError(f"publishing gate: {path}: no memorisation check recorded (runs made before the check "
                        f"have none); {rerun} before publishing real data")
    params = manifest.get("params") if isinstance(manifest.get("params"), dict) else {}
    arms = params.get("arms") if isinstance(params.get("arms"), dict) else {}
    for name in [*(params.get("ablation_models") or []), *arms] or sorted(record["models"]):
        rec = record["models"].get(name)
        excess = rec.get("excess") if isinstance(rec, dict) else None
        if not isinstance(excess, (int, float)) or math.isnan(excess):  # missing or NaN
            raise LeakError(f"publishing gate: {path}: no memorisation result for model {name}; {rerun}")
        if excess > memorisation.MAX_EXCESS_RATE:
            raise LeakError(f"publishing gate: model {name} continues its training notes verbatim at "
                            f"{100 * rec['train']['rate']:.1f}% vs {100 * rec['heldout']['rate']:.1f}% held-out "
                            f"(excess {100 * excess:.1f} points > {100 * memorisation.MAX_EXCESS_RATE:.0f}); "
                            f"its weights may leak notes")


def gate_run(cfg) -> int:
    """`python -m cancerllm gate PARAMS`: scan a run's notebooks and built book against the notes the run read
    (`recorded_cohort`; PARAMS only names the run directory), whatever its data (a synthetic run with
    `show_examples` fails, as it should). Raises LeakError on a finding; returns the number of files scanned."""
    if not (cfg.run_dir / "notebooks").is_dir():
        raise FileNotFoundError(f"{cfg.run_dir}: no executed notebooks; run `python -m cancerllm run` first")
    cohort, manifest = recorded_cohort(cfg.run_dir)
    Gate(cohort.notes, cohort.general, manifest).check(cfg.run_dir)
    check_memorisation(cfg.run_dir, manifest)
    return sum(1 for t in (cfg.run_dir / "notebooks", cfg.run_dir / "book" / "_build") for _ in _publishable(t))
