"""The command line as a user runs it: `python -m cancerllm ...` in a subprocess from the repo root."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cancerllm.cli import main

ROOT = Path(__file__).resolve().parents[1]


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}


def _params(tmp_path: Path, body: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def _tiny(runs_root: Path, extra: str = "") -> str:
    return f"run_name: clitest\nruns_root: {runs_root}\nn_patients: 20\nn_general_notes: 10\n{extra}"


def _answers(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- real subprocesses
# Each `python -m cancerllm` start pays the pandas import (seconds), so the subprocess cases are started
# together once per module and each test checks its own result. `score` runs in process: importing
# cancerllm.metrics (nltk -> scipy) costs ~10 s per interpreter, and test_metrics.py pays it already.
@pytest.fixture(scope="module")
def sub(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    missing = d / "data" / "notes.csv"
    cases = {
        "validate_unknown": ["validate", _params(d, _tiny(d / "runs_a", "n_patinets: 5\n"), "unknown.yaml")],
        "validate_ok": ["validate", _params(d, _tiny(d / "runs_b"), "ok.yaml")],
        "run_bad_key": ["run", _params(d, _tiny(d / "runs_c", "bogus_key: 1\n"), "badkey.yaml")],
        "validate_missing_data": ["validate", _params(
            d, _tiny(d / "runs_d", f"data_source: custom\ncustom_data_path: {missing}\n"), "missing.yaml")],
    }
    procs = {
        name: subprocess.Popen([sys.executable, "-m", "cancerllm", *map(str, args)], cwd=ROOT, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, args in cases.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return {"dir": d, "missing": missing, "args": cases, **results}


def test_validate_unknown_key_exits_2_with_one_line(sub):
    proc, path = sub["validate_unknown"], sub["args"]["validate_unknown"][1]
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"error: {path}: unknown key 'n_patinets' (valid keys are the Config fields in cancerllm/config/fields.py)\n"


def test_validate_tiny_synthetic_ok(sub):
    proc, path = sub["validate_ok"], sub["args"]["validate_ok"][1]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith(f"ok: {path} — synthetic (synthetic), 20 patients, ")
    assert proc.stdout.endswith(" notes\n")
    n_notes = int(proc.stdout.rsplit(", ", 1)[1].split()[0])
    assert 40 <= n_notes <= 60  # a clinical note and a pathology report per patient, some follow-ups
    assert not (sub["dir"] / "runs_b").exists(), "validate must not write anything"


def test_run_bad_key_exits_2_and_writes_nothing(sub):
    proc, path = sub["run_bad_key"], sub["args"]["run_bad_key"][1]
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"error: {path}: unknown key 'bogus_key' (valid keys are the Config fields in cancerllm/config/fields.py)\n"
    assert not (sub["dir"] / "runs_c").exists()


def test_validate_custom_missing_data_file(sub):
    proc = sub["validate_missing_data"]
    assert proc.returncode == 2
    assert proc.stderr == f"error: {sub['missing']}: file not found\n"


# ----------------------------------------------------------------------------- in process (same code path)
def test_validate_wrong_type_exits_2(tmp_path, capsys):
    path = _params(tmp_path, _tiny(tmp_path / "runs"))
    assert main(["validate", str(path), "--set", "bf16=1"]) == 2
    assert capsys.readouterr().err == f"error: {path}: key 'bf16' must be bool, got int 1\n"


def test_validate_missing_params_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none.yaml'}: params file not found\n"


def test_validate_custom_bad_row(tmp_path, capsys, write_notes):
    data = write_notes({"patient_id": ["P1", "P2"], "note_id": ["N1", "N2"], "note_type": ["clinical_note"] * 2,
                        "text": ["ok", " "]}, "notes.csv")
    path = _params(tmp_path, _tiny(tmp_path / "runs", f"data_source: custom\ncustom_data_path: {data}\n"))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {data}: row 2: empty text\n"


def test_validate_custom_ok(tmp_path, capsys, write_notes):
    # a labelled patient in each split a run needs (two unlabelled patients left dev or test empty: refused, see
    # test_bad_input.py)
    data = write_notes({"patient_id": ["P1", "P2", "P2", "P3"], "note_id": ["N1", "N2", "N3", "N4"],
                        "note_type": ["clinical_note"] * 4, "text": ["a", "b", "c", "d"],
                        "split": ["train", "dev", "dev", "test"], "t_stage": ["T1", "T2", None, "T3"]}, "notes.jsonl")
    path = _params(tmp_path, _tiny(tmp_path / "runs", f"data_source: custom\ncustom_data_path: {data}\n"))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"ok: {path} — notes (real), 3 patients, 4 notes\n"


@pytest.mark.parametrize("name", ["notes.csv", "notes.jsonl"])
def test_sample_data_writes_a_file_that_validates(tmp_path, capsys, name):
    """`sample-data` writes the custom-notes schema; `validate` with data_source=custom accepts it as written."""
    import pandas as pd

    from cancerllm.data.loaders import read_table

    out = tmp_path / "sub" / name
    assert main(["sample-data", str(out), "--patients", "20"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (20 synthetic patients, custom-notes schema)")
    df = read_table(out)
    assert list(df.columns[:5]) == ["patient_id", "note_id", "note_type", "text", "split"]
    assert df["patient_id"].nunique() == 20 and set(df["split"]) == {"train", "dev", "test"}
    assert df.groupby("patient_id")["t_stage"].nunique().max() == 1  # labels agree across a patient's rows
    assert pd.notna(df["diagnosis"]).all()
    path = _params(tmp_path, _tiny(tmp_path / "runs"))
    assert main(["validate", str(path), "--set", "data_source=custom", "--set", f"custom_data_path={out}"]) == 0
    assert capsys.readouterr().out == f"ok: {path} — notes (real), 20 patients, {len(df)} notes\n"


def test_sample_data_refuses_too_few_patients_and_unknown_suffix(tmp_path, capsys):
    assert main(["sample-data", str(tmp_path / "a.csv"), "--patients", "3"]) == 2
    assert "need at least 10 patients" in capsys.readouterr().err
    assert main(["sample-data", str(tmp_path / "a.txt")]) == 2
    assert "unsupported file type" in capsys.readouterr().err and not (tmp_path / "a.txt").exists()


def test_book_check_without_a_built_book_exits_2(tmp_path, capsys):
    path = _params(tmp_path, _tiny(tmp_path / "runs"))
    assert main(["book-check", str(path)]) == 2
    html = tmp_path / "runs" / "clitest" / "book" / "_build" / "html"
    assert capsys.readouterr().err == f"error: {html}: no index.html; build the book first (`python -m cancerllm book`)\n"


def test_book_without_run_exits_2(tmp_path, capsys):
    path = _params(tmp_path, _tiny(tmp_path / "runs"))
    assert main(["book", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'runs' / 'clitest'}: no executed notebook for stage ")
    assert err.endswith("; run `python -m cancerllm run` first\n")


def test_score_prints_metric_table(tmp_path, capsys):
    gold = _answers(tmp_path / "gold.jsonl", [{"id": 1, "answers": ["T2"]}, {"id": 2, "answers": ["breast cancer"]}])
    pred = _answers(tmp_path / "pred.jsonl", [{"id": 2, "answers": ["breast cancer"]}, {"id": 1, "answers": ["T2"]}])
    assert main(["score", str(gold), str(pred)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1"]
    assert lines[1].split() == ["metric"]
    rows = {ln.split()[0]: [float(x) for x in ln.split()[1:]] for ln in lines[2:]}
    assert list(rows) == ["exact_match", "bleu2", "rouge_l_reference", "rouge_l", "clinical_exact_match",
                          "clinical_bleu2", "clinical_rouge_l_reference", "clinical_rouge_l"]
    for name in ["exact_match", "rouge_l_reference", "rouge_l"]:
        assert rows[name] == [100.0, 100.0, 100.0]


def test_score_mismatch_names_missing_ids(tmp_path, capsys):
    gold = _answers(tmp_path / "gold.jsonl", [{"id": 1, "answers": ["T2"]}])
    pred = _answers(tmp_path / "pred.jsonl", [{"id": 3, "answers": ["T2"]}])
    assert main(["score", str(gold), str(pred)]) == 2  # bad input: exit 2, like every command (issue 15)
    assert capsys.readouterr().err == f"error: id sets differ: missing from {pred}: ['1']; missing from {gold}: ['3']\n"


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("usage: cancerllm")


# ----------------------------------------------------------------------------- the conftest network guard
def test_network_guard_blocks_remote_and_allows_loopback():
    with pytest.raises(RuntimeError, match=r"^network access attempted in a test: 192\.0\.2\.1$"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(RuntimeError, match=r"^network access attempted in a test: 203\.0\.113\.5$"):
            s.connect(("203.0.113.5", 443))
        with pytest.raises(RuntimeError, match="network access attempted in a test: example.org"):
            s.connect_ex(("example.org", 443))
    finally:
        s.close()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        client = socket.create_connection(server.getsockname(), timeout=5)
        client.close()
    finally:
        server.close()


def test_sample_data_leaves_no_file_when_its_check_fails(tmp_path, monkeypatch):
    """A written sample that does not load back is removed (nothing half-written), and the error is the loader's."""
    from cancerllm.data import loaders
    from cancerllm.errors import DataError

    def refuse(path, fractions, seed):
        raise DataError(f"{path}: refused")

    monkeypatch.setattr(loaders, "load_custom", refuse)
    out = tmp_path / "s.csv"
    with pytest.raises(DataError, match="refused"):
        loaders.write_sample_notes(out, 12)
    assert not out.exists()
