"""Reproducibility and crash recovery through the real CLI, at tiny size (stages 00–30):

- two identical runs (same params and seed, CPU fp32) write byte-identical metrics.json files;
- a run killed with SIGKILL during instruction tuning (the runner, papermill and its kernel all killed) resumes
  when re-run: finished stages are skipped, training continues from the last checkpoint in the stage's staging
  directory, and the run ends with the same metrics as the uninterrupted run;
- nothing of the killed stage is visible where later stages read (it lived in .staging/).
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ["00_data_profiling", "10_continued_pretraining", "20_instruction_tuning", "30_evaluation"]
pytestmark = pytest.mark.slow


def _params(root: Path, name: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"run_name": name, "runs_root": str(root / "runs"), "n_patients": 30,
                                    "n_general_notes": 20, "ablation_models": ["no_cpt", "cancer_cpt"],
                                    "max_eval_instances": 60, "bootstrap_samples": 100}))
    return path


def _run(params: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cancerllm", "run", str(params), "--only", *STAGES, *extra],
                          cwd=REPO, capture_output=True, text=True, check=False, timeout=1200)


def _metrics(run_dir: Path) -> dict:
    return {s: (run_dir / s / "metrics.json").read_bytes() for s in STAGES}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    proc = _run(_params(root, "a"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "runs" / "a"


def test_identical_runs_write_byte_identical_metrics(reference_run, tmp_path):
    proc = _run(_params(tmp_path, "b"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _metrics(reference_run), _metrics(tmp_path / "runs" / "b")
    assert [s for s in STAGES if a[s] != b[s]] == []
    sft = json.loads(a["20_instruction_tuning"])["sft"]["no_cpt"]
    assert "seconds" not in sft and sft["steps"] == 10  # timings live in timings.json, not in metrics.json
    assert "seconds" in json.loads((reference_run / "20_instruction_tuning" / "timings.json").read_text())["sft"]["no_cpt"]


def _signal_tree(proc: subprocess.Popen, sig: int) -> None:
    """Send `sig` to the runner and everything it started (the kernel runs in its own session)."""
    parent = psutil.Process(proc.pid)
    for p in [*parent.children(recursive=True), parent]:
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def _kill_at_checkpoint(proc: subprocess.Popen, state: Path, deadline: float) -> None:
    """SIGKILL the run just after the Trainer wrote `state` (a checkpoint's trainer_state.json, its last file).
    Short SFT steps run in milliseconds, so the run is frozen (SIGSTOP) the moment the file appears — before it
    can reach the next checkpoint — and let go for a few ms at a time until the file is whole."""
    while not state.is_file():
        assert proc.poll() is None, "run ended before the checkpoint the test waits for"
        assert time.time() < deadline, "no SFT checkpoint within 15 minutes"
        time.sleep(0.01)
    _signal_tree(proc, signal.SIGSTOP)
    for _ in range(200):
        try:
            json.loads(state.read_text())
            break
        except ValueError:  # caught mid-write: let it finish
            _signal_tree(proc, signal.SIGCONT)
            time.sleep(0.005)
            _signal_tree(proc, signal.SIGSTOP)
    _signal_tree(proc, signal.SIGKILL)
    proc.wait(timeout=30)


def test_killed_run_resumes_and_ends_with_the_same_metrics(reference_run, tmp_path):
    params = _params(tmp_path, "a")  # same run_name and params as the reference, another runs_root
    run_dir = tmp_path / "runs" / "a"
    ckpt = run_dir / ".staging" / "20_instruction_tuning" / "models" / "no_cpt" / "checkpoint-5"
    proc = subprocess.Popen([sys.executable, "-m", "cancerllm", "run", str(params), "--only", *STAGES], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _kill_at_checkpoint(proc, ckpt / "trainer_state.json", time.time() + 900)

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["20_instruction_tuning"]["status"] == "running"
    assert not (run_dir / "20_instruction_tuning").exists()  # the killed stage never reached its final place
    assert (run_dir / ".lock").is_file()
    before = {s: manifest["stages"][s] for s in STAGES[:2]}

    again = _run(params)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "holds an interrupted run" in again.stderr
    after = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert {s: after[s] for s in STAGES[:2]} == before  # finished stages were not re-executed
    assert after["20_instruction_tuning"]["resumed"] is True
    sft = json.loads((run_dir / "20_instruction_tuning" / "metrics.json").read_text())["sft"]["no_cpt"]
    assert sft["resumed_from"] == "checkpoint-5"
    ref = json.loads((reference_run / "30_evaluation" / "metrics.json").read_text())
    got = json.loads((run_dir / "30_evaluation" / "metrics.json").read_text())
    assert got == ref
    assert not (run_dir / ".staging" / "20_instruction_tuning").exists() and not (run_dir / ".lock").exists()


def test_run_dir_in_use_by_a_live_process_is_refused(tmp_path):
    params = _params(tmp_path, "busy")
    run_dir = tmp_path / "runs" / "busy"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"stages": {}}))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / ".lock").write_text(f"{sleeper.pid}\n")
        proc = _run(params)
    finally:
        sleeper.kill()
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {run_dir}: another run (pid {sleeper.pid}) is using this run directory; "
                                   f"wait for it or choose another run_name")
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "manifest.json"]  # nothing written


def test_directory_that_is_not_a_run_is_refused(tmp_path):
    params = _params(tmp_path, "other")
    run_dir = tmp_path / "runs" / "other"
    run_dir.mkdir(parents=True)
    (run_dir / "notes.txt").write_text("someone else's files")
    proc = subprocess.run([sys.executable, "-m", "cancerllm", "run", str(params)], cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {run_dir}: exists but has no manifest.json, so it is not a cancerllm run "
                                   f"directory; remove it or choose another run_name")
    assert [p.name for p in run_dir.iterdir()] == ["notes.txt"]


def test_damaged_manifest_is_refused(tmp_path):
    from cancerllm.errors import RunDirError
    from cancerllm.runner import open_run_dir

    (tmp_path / "manifest.json").write_text('{"stages": {"00_data_prof')  # cut off mid-write by another tool
    with pytest.raises(RunDirError) as exc:
        open_run_dir(tmp_path)
    assert str(exc.value) == (f"{tmp_path / 'manifest.json'}: damaged (not valid JSON); remove the run directory or "
                              f"choose another run_name")
    assert open_run_dir(tmp_path / "new") == {}


def test_stage_keys_follow_the_params_each_stage_reads():
    from cancerllm.config import Config
    from cancerllm.runner import stage_key

    base = Config().to_dict()
    keys = lambda p: {s: stage_key(p, {"notes.csv": "ab12"}, s) for s in
                      [*STAGES, "40_robustness", "50_efficiency", "60_retrieval"]}
    ref = keys(base)
    rob = keys({**base, "robustness_rates": [0.0, 0.5]})
    assert [s for s in ref if ref[s] != rob[s]] == ["40_robustness"]
    ret = keys({**base, "retrieval_k": 3})
    assert [s for s in ref if ref[s] != ret[s]] == ["60_retrieval"]
    sft = keys({**base, "sft_max_steps": 11})
    assert all(ref[s] != sft[s] for s in ref)  # a training param changes every stage
    assert keys({**base, "run_name": "copy", "runs_root": "/elsewhere"}) == ref
    assert {s: stage_key(base, {"notes.csv": "cd34"}, s) for s in ref} != ref  # new input data: everything reruns
