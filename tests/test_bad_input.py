"""The bad-input matrix in one place: each case gets one test that asserts the exact message.

Params and data cases go through the real command line (`cli.main`, the code path of `python -m cancerllm`):
`validate` and `run` both answer exit code 2 with that one line on stderr, print nothing on stdout, and no run
directory is created. Model cases answer before any kernel starts; the adapter and disk-space cases are the
library's checks inside the training chapters (tiny random models, no training step is taken).
"""

from __future__ import annotations

import json
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from cancerllm.cli import main
from cancerllm.data.schema import NOTE_TYPES

ROWS = [  # three patients, four notes; P1's two notes share the T2 label
    {"patient_id": "P1", "note_id": "N1", "note_type": "clinical_note", "text": "Breast mass, T2 N0.", "t_stage": "T2"},
    {"patient_id": "P1", "note_id": "N2", "note_type": "pathology_report", "text": "Ductal carcinoma.",
     "t_stage": "T2"},
    {"patient_id": "P2", "note_id": "N3", "note_type": "clinical_note", "text": "Lung nodule.", "t_stage": "T1a"},
    {"patient_id": "P3", "note_id": "N4", "note_type": "clinical_note", "text": "Gleason 3+4.", "t_stage": None},
]


def _rows(**changes):
    """ROWS with changes given as col_row=value, e.g. text_2="" sets row 2's text (rows counted from 1)."""
    rows = [dict(r) for r in ROWS]
    for key, value in changes.items():
        col, row = key.rsplit("_", 1)
        rows[int(row) - 1][col] = value
    return rows


def _params(tmp_path: Path, extra: str = "") -> Path:
    """tmp_path/p.yaml: a small synthetic run under tmp_path/runs; `extra` lines add keys or replace these."""
    base = {"run_name": "bad", "runs_root": tmp_path / "runs", "n_patients": 12, "n_general_notes": 6}
    replaced = {line.split(":", 1)[0] for line in extra.splitlines()}
    path = tmp_path / "p.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in base.items() if k not in replaced) + extra, encoding="utf-8")
    return path


def _custom(tmp_path: Path, data: Path) -> Path:
    return _params(tmp_path, f"data_source: custom\ncustom_data_path: {data}\n")


def _tree(root: Path) -> set:
    return {p.relative_to(root) for p in root.rglob("*")}


def _refused(capsys, params: Path, message: str, overrides=(), commands=("validate", "run")) -> None:
    """`validate` and `run` (or `commands`): exit 2, exactly `error: <message>` on stderr, nothing written."""
    sets = [a for o in overrides for a in ("--set", o)]
    before = _tree(params.parent)
    for command in commands:
        assert main([command, str(params), *sets]) == 2, command
        out, err = capsys.readouterr()
        assert (out, err) == ("", f"error: {message}\n"), command
    assert not (params.parent / "runs").exists(), "a refused input must not create a run directory"
    assert _tree(params.parent) == before, "a refused input must not write anything"


# ----------------------------------------------------------------------------- data files
def test_missing_file(tmp_path, capsys):
    data = tmp_path / "nowhere" / "notes.csv"
    _refused(capsys, _custom(tmp_path, data), f"{data}: file not found")


def test_non_utf8_file(tmp_path, capsys):
    data = tmp_path / "latin1.csv"
    data.write_bytes(b"patient_id,note_id,note_type,text\nP1,N1,clinical_note,caf\xe9 au lait\n")
    _refused(capsys, _custom(tmp_path, data), f"{data}: not UTF-8 text (line 2, byte 57); re-save the file as UTF-8")


def test_unreadable_file(tmp_path, capsys):
    data = tmp_path / "broken.parquet"
    data.write_bytes(b"not a parquet file")
    main(["validate", str(_custom(tmp_path, data))])
    err = capsys.readouterr().err  # the reader's own reason follows; the line is checked up to it
    assert err.startswith(f"error: {data}: unreadable (") and err.endswith(")\n") and err.count("\n") == 1
    assert main(["run", str(_custom(tmp_path, data))]) == 2 and capsys.readouterr().err == err
    assert not (tmp_path / "runs").exists()


def test_unsupported_file_type(tmp_path, capsys):
    data = tmp_path / "notes.xlsx"
    data.write_bytes(b"PK")
    _refused(capsys, _custom(tmp_path, data), f"{data}: unsupported file type; use .csv, .csv.gz, .jsonl or .parquet")


def test_missing_required_column(tmp_path, capsys, write_notes):
    data = write_notes([{k: v for k, v in r.items() if k != "text"} for r in ROWS], "nocol.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: missing required column 'text'")


def test_empty_text(tmp_path, capsys, write_notes):
    data = write_notes(_rows(text_3="   "), "empty.jsonl")
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 3: empty text")


def test_duplicate_note_ids(tmp_path, capsys, write_notes):
    data = write_notes(_rows(note_id_4="N2"), "dup.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 4: duplicate note_id 'N2'")


def test_patient_in_two_splits(tmp_path, capsys, write_notes):
    rows = [{**r, "split": s} for r, s in zip(ROWS, ["train", "test", "dev", "test"])]
    data = write_notes(rows, "leak.parquet")
    _refused(capsys, _custom(tmp_path, data), f"{data}: patient 'P1' appears in more than one split")


def test_label_outside_allowed_set(tmp_path, capsys, write_notes):
    data = write_notes(_rows(t_stage_1="T7", t_stage_2="T7"), "t7.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: patient 'P1': t_stage label 'T7' is outside the allowed set")


def test_unknown_note_type(tmp_path, capsys, write_notes):
    data = write_notes(_rows(note_type_2="discharge"), "type.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 2: note_type 'discharge' is not one of {NOTE_TYPES}")


def test_data_path_is_a_directory(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    _refused(capsys, _custom(tmp_path, tmp_path / "notes"), f"{tmp_path / 'notes'}: is a directory, not a data file")


def test_header_only_csv(tmp_path, capsys):
    data = tmp_path / "header.csv"
    data.write_text("patient_id,note_id,note_type,text\n", encoding="utf-8")
    _refused(capsys, _custom(tmp_path, data), f"{data}: no data rows (only a header)")


def test_empty_jsonl(tmp_path, capsys):
    data = tmp_path / "empty.jsonl"
    data.write_text("", encoding="utf-8")
    _refused(capsys, _custom(tmp_path, data), f"{data}: missing required column 'patient_id'")


@pytest.mark.parametrize("changes,message", [
    ({"text_2": 5}, "row 2: text must be a string, got int 5"),
    ({"text_3": ["Lung", "nodule"]}, "row 3: text must be a string, got list ['Lung', 'nodule']"),
    ({"t_stage_1": 2, "t_stage_2": 2, "t_stage_3": 1, "t_stage_4": 3}, "row 1: t_stage must be a string, got int 2"),
    ({"note_type_4": {"kind": "clinical_note"}}, "row 4: note_type must be a string, got dict {'kind': 'clinical_note'}"),
    ({"note_id_2": ""}, "row 2: empty note_id"),
    ({"patient_id_3": None}, "row 3: empty patient_id"),
    ({"patient_id_2": 1.5}, "row 2: patient_id must be text or an integer, got float 1.5"),
    ({"patient_id_1": True}, "row 1: patient_id must be text or an integer, got bool True"),
], ids=["int-text", "list-text", "int-label", "dict-note-type", "empty-note-id", "null-patient-id",
        "float-patient-id", "bool-patient-id"])
def test_jsonl_cell_types(tmp_path, capsys, write_notes, changes, message):
    data = write_notes(_rows(**changes), "cells.jsonl")
    _refused(capsys, _custom(tmp_path, data), f"{data}: {message}")


def test_empty_patient_id_in_csv(tmp_path, capsys, write_notes):
    data = write_notes(_rows(patient_id_2=""), "noid.csv")  # used to become the patient 'nan'
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 2: empty patient_id")


def test_patient_id_with_surrounding_whitespace(tmp_path, capsys, write_notes):
    data = write_notes(_rows(patient_id_2=" P1"), "space.csv")  # used to be a second patient beside 'P1'
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 2: patient_id ' P1' has leading or trailing whitespace")


def test_note_id_with_surrounding_whitespace(tmp_path, capsys, write_notes):
    data = write_notes(_rows(note_id_3="N2\t"), "tab.csv")  # 'N2' and 'N2\t' were two notes
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 3: note_id 'N2\\t' has leading or trailing whitespace")


@pytest.mark.parametrize("column,value", [
    ("grade", "grade 9"), ("tumor_size", "large"), ("biomarker_status", "ER+"), ("diagnosis", "12345"),
    ("cancer_type", "breast\ncancer"), ("histologic_type", " adenocarcinoma"), ("tumor_site", "x" * 201),
], ids=["grade", "tumor-size", "biomarker", "diagnosis-no-letter", "cancer-type-two-lines",
        "histology-leading-space", "site-too-long"])
def test_label_outside_field_vocabulary(tmp_path, capsys, write_notes, column, value):
    data = write_notes(_rows(**{f"{column}_3": value}), "vocab.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: patient 'P2': {column} label {value!r} is outside the "
                                              f"allowed set")


def test_id_with_a_line_break_stays_one_line(tmp_path, capsys, write_notes):
    data = write_notes(_rows(note_id_2="N\n1", note_id_3="N\n1"), "newline.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 3: duplicate note_id 'N\\n1'")


def test_note_type_with_a_line_break_stays_one_line(tmp_path, capsys, write_notes):
    data = write_notes(_rows(note_type_2="clinical\nnote"), "type2.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: row 2: note_type 'clinical\\nnote' is not one of {NOTE_TYPES}")


@pytest.mark.parametrize("value,message", [
    ("", "row 2: empty split (one of ['train', 'dev', 'test'])"),
    ("Train", "row 2: split 'Train' is not one of ['train', 'dev', 'test']"),
], ids=["empty", "capitalised"])
def test_bad_split_value(tmp_path, capsys, write_notes, value, message):
    rows = [{**r, "split": s} for r, s in zip(ROWS, ["train", value, "dev", "test"])]
    data = write_notes(rows, "split.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: {message}")


def test_custom_split_without_a_patient(tmp_path, capsys, write_notes):
    rows = [{**r, "split": s} for r, s in zip(ROWS, ["train", "train", "test", "test"])]
    data = write_notes(rows, "nodev.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: no patient in the dev split (train 1, dev 0, test 2 "
                                              f"patients); a run needs at least one patient in each of "
                                              f"['train', 'dev', 'test']")


def test_custom_split_without_a_label(tmp_path, capsys, write_notes):
    rows = [{**r, "split": s} for r, s in zip(ROWS, ["train", "train", "dev", "test"])]  # P3 (test) has no label
    data = write_notes(rows, "nolabel.csv")
    _refused(capsys, _custom(tmp_path, data), f"{data}: no labelled patient in the test split (no phenotype label "
                                              f"or diagnosis); a run tunes on train, picks checkpoints on dev and "
                                              f"scores test")


def test_synthetic_split_without_a_patient(tmp_path, capsys):
    path = _params(tmp_path, "split_fractions: [0.8, 0.0, 0.2]\n")
    _refused(capsys, path, "synthetic cohort: no patient in the dev split (train 10, dev 0, test 2 patients); a run "
                           "needs at least one patient in each of ['train', 'dev', 'test']")


def test_tcga_file_checked_to_the_row(tmp_path, capsys):
    import pandas as pd

    src = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tcga-reports" / "reports_labeled_dev.csv"
    if not src.is_file():
        pytest.skip("TCGA-Reports not in ../shared/data")
    df = pd.read_csv(src, dtype=str, keep_default_na=False, na_values=[""]).head(20)
    df.loc[4, "patient_id"] = df.loc[3, "patient_id"] + " "  # a second patient that differs only by a space
    data = tmp_path / "shared" / "tcga-reports" / "reports_labeled_dev.csv"
    data.parent.mkdir(parents=True)
    df.to_csv(data, index=False)
    path = _params(tmp_path, f"data_source: tcga\nshared_data_dir: {tmp_path / 'shared'}\n")
    _refused(capsys, path, f"{data}: row 5: patient_id {df.loc[4, 'patient_id']!r} has leading or trailing whitespace")


# ----------------------------------------------------------------------------- params
def test_missing_params_file(tmp_path, capsys):
    path = tmp_path / "absent.yaml"
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr() == ("", f"error: {path}: params file not found\n")


def test_unknown_params_key(tmp_path, capsys):
    path = _params(tmp_path, "n_patinets: 5\n")
    _refused(capsys, path, f"{path}: unknown key 'n_patinets' (valid keys are the Config fields in cancerllm/config/fields.py)")


def test_wrong_type(tmp_path, capsys):
    path = _params(tmp_path, "hidden_size: sixty-four\n")
    _refused(capsys, path, f"{path}: key 'hidden_size' must be int, got str 'sixty-four'")


def test_wrong_type_from_command_line(tmp_path, capsys):
    path = _params(tmp_path)
    _refused(capsys, path, f"{path}: key 'bf16' must be bool, got int 1", overrides=["bf16=1"])


def test_zero_size(tmp_path, capsys):
    path = _params(tmp_path, "hidden_size: 0\n")
    _refused(capsys, path, f"{path}: key 'hidden_size' must be > 0, got 0")


def test_negative_size(tmp_path, capsys):
    path = _params(tmp_path, "sft_per_device_train_batch_size: -4\n")
    _refused(capsys, path, f"{path}: key 'sft_per_device_train_batch_size' must be > 0, got -4")


def test_negative_step_cap(tmp_path, capsys):
    path = _params(tmp_path, "cpt_max_steps: -5\n")
    _refused(capsys, path, f"{path}: key 'cpt_max_steps' must be -1 (no cap) or > 0, got -5")


@pytest.mark.parametrize("line,message", [
    ("sft_learning_rate: .inf", "key 'sft_learning_rate' must be a finite number, got inf"),
    ("initializer_range: nan", "key 'initializer_range' must be a finite number, got nan"),
    ("cpt_num_train_epochs: -.inf", "key 'cpt_num_train_epochs' must be a finite number, got -inf"),
    ("cpt_lora_dropout: 1.0", "key 'cpt_lora_dropout' must be in [0, 1), got 1.0"),
    ("sft_warmup_steps: -0.1", ("key 'sft_warmup_steps' must be a fraction of the steps in [0, 1) or a "
                                "whole number of steps, got -0.1")),
    ("cpt_weight_decay: 1.5", "key 'cpt_weight_decay' must be in [0, 1), got 1.5"),
    ("sft_max_grad_norm: 0", "key 'sft_max_grad_norm' must be > 0, got 0.0"),
    ("seed: -1", "key 'seed' must be in [0, 4294967295], got -1"),
    ("seed: 4294967296", "key 'seed' must be in [0, 4294967295], got 4294967296"),
    ("run_name: my run", ("key 'run_name' must be a plain directory name (letters, digits and . _ + -, "
                          "not starting with . _ + -), got 'my run'")),
    ("run_name: " + "r" * 300, "key 'run_name' must be at most 100 characters, got 300"),
    ("cpt_learning_rate: 2e4", "key 'cpt_learning_rate' must be < 1 (a learning rate, e.g. 2e-4), got 20000.0"),
    ("sft_learning_rate: 1", "key 'sft_learning_rate' must be < 1 (a learning rate, e.g. 2e-4), got 1.0"),
    ("cpt_block_size: 513", "key 'cpt_block_size' must be <= max_position_embeddings (512), got 513"),
    ("sft_max_length: 1024", "key 'sft_max_length' must be <= max_position_embeddings (512), got 1024"),
    ("max_new_tokens: 384", "key 'max_new_tokens' must be < sft_max_length (384; the prompt needs room), got 384"),
], ids=["inf", "nan-string", "minus-inf", "dropout-1", "negative-warmup", "decay-1.5", "zero-grad-norm",
        "negative-seed", "seed-2**32", "run-name-space", "run-name-300", "learning-rate-typo", "learning-rate-1",
        "block-beyond-context", "sft-length-beyond-context", "answer-longer-than-sequence"])
def test_value_out_of_range(tmp_path, capsys, line, message):
    path = _params(tmp_path, line + "\n")
    _refused(capsys, path, f"{path}: {message}")


@pytest.mark.parametrize("line,message", [
    ("split_fractions: [true, 0, 0]", ("key 'split_fractions' must be three non-negative numbers summing to 1, "
                                       "got [True, 0, 0]")),
    ("lora_target_modules: q_proj", ("key 'lora_target_modules' must be 'all-linear' or a regular expression "
                                     "matching a layer's whole name (e.g. '.*\\.(q|v)_proj'), got 'q_proj'")),
    ("lora_target_modules: '(q'", ("key 'lora_target_modules' is not a valid regular expression (missing ), "
                                   "unterminated subpattern at position 0)")),
    ("1: one\nfoo: bar", "unknown key '1' (valid keys are the Config fields in cancerllm/config/fields.py)"),
], ids=["bool-fraction", "target-modules-no-match", "target-modules-bad-regex", "number-and-text-keys"])
def test_value_of_the_wrong_shape(tmp_path, capsys, line, message):
    path = _params(tmp_path, line + "\n")
    _refused(capsys, path, f"{path}: {message}")


def test_nan_from_command_line(tmp_path, capsys):
    path = _params(tmp_path)
    _refused(capsys, path, f"{path}: key 'cpt_learning_rate' must be a finite number, got nan",
             overrides=["cpt_learning_rate=.nan"])


def test_duplicate_yaml_key(tmp_path, capsys):
    path = _params(tmp_path, "seed: 1\nseed: 2\n")
    _refused(capsys, path, f"{path}: duplicate key 'seed' (line 6); each key may appear once")


def test_override_not_yaml(tmp_path, capsys):
    _refused(capsys, _params(tmp_path), "--set run_name=[: not valid YAML (ParserError)", overrides=["run_name=["])


def test_path_with_a_control_character(tmp_path, capsys):
    path = _params(tmp_path, 'custom_data_path: "notes\\n.csv"\n')  # a YAML escape: a real line break
    _refused(capsys, path, f"{path}: key 'custom_data_path' must be a path without control characters, "
                           f"got 'notes\\n.csv'")


def test_params_path_is_a_directory(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr() == ("", f"error: {tmp_path}: is a directory, not a params file\n")


def test_runs_root_is_a_file(tmp_path, capsys):
    (tmp_path / "runs").write_text("")
    path = _params(tmp_path)
    before = _tree(tmp_path)
    for command in ("validate", "run", "gate", "book"):
        assert main([command, str(path)]) == 2
        assert capsys.readouterr() == ("", (f"error: {path}: key 'runs_root': {tmp_path / 'runs'} is a file, "
                                            f"not a directory\n")), command
    assert _tree(tmp_path) == before


def test_runs_root_below_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    path = _params(tmp_path, f"runs_root: {tmp_path / 'afile' / 'runs'}\n")
    _refused(capsys, path, f"{path}: key 'runs_root': {tmp_path / 'afile'} is a file, not a directory")


def test_run_directory_is_a_file(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "bad").write_text("")
    path = _params(tmp_path)
    before = _tree(tmp_path)
    for command in ("validate", "run", "gate", "book"):
        assert main([command, str(path)]) == 2
        assert capsys.readouterr() == ("", (f"error: {path}: key 'run_name': {tmp_path / 'runs' / 'bad'} is a file, "
                                            f"not a directory\n")), command
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("content,message", [
    ({"notes.txt": "someone else's files"}, ("{run_dir}: exists but has no manifest.json, so it is not a cancerllm "
                                             "run directory; remove it or choose another run_name")),
    ({"manifest.json": '{"stages": {"00_data_prof'}, ("{run_dir}/manifest.json: damaged (not valid JSON); remove the "
                                                      "run directory or choose another run_name")),
], ids=["not-a-run", "damaged-manifest"])
def test_unusable_run_directory(tmp_path, capsys, content, message):
    run_dir = tmp_path / "runs" / "bad"
    run_dir.mkdir(parents=True)
    for name, text in content.items():
        (run_dir / name).write_text(text, encoding="utf-8")
    path = _params(tmp_path)
    before = _tree(tmp_path)
    for command in ("validate", "run"):  # validate answers what run would
        assert main([command, str(path)]) == 2
        assert capsys.readouterr() == ("", f"error: {message.format(run_dir=run_dir)}\n"), command
    assert _tree(tmp_path) == before


def test_runs_root_component_too_long(tmp_path, capsys):
    path = _params(tmp_path, f"runs_root: {tmp_path / ('d' * 300)}\n")
    _refused(capsys, path, f"{path}: key 'runs_root' has a path component longer than 255 bytes (300 bytes)")


def test_runs_root_not_writable(tmp_path, capsys, monkeypatch):
    import os

    (tmp_path / "runs").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path / "runs" and real_access(p, mode))
    path = _params(tmp_path)
    assert main(["validate", str(path)]) == 2 and main(["run", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: key 'runs_root': {tmp_path / 'runs'} is not writable\n" * 2
    assert _tree(tmp_path) == {Path("runs"), Path("p.yaml")}


# ----------------------------------------------------------------------------- score, evaluate, gate, book, --only
def _command_refused(capsys, root: Path, argv: list, message: str) -> None:
    """Any command: exit 2, exactly `error: <message>` on stderr, nothing on stdout, nothing written under root."""
    before = _tree(root)
    assert main([str(a) for a in argv]) == 2
    assert capsys.readouterr() == ("", f"error: {message}\n")
    assert _tree(root) == before


def _answers(tmp_path: Path, name: str, lines) -> Path:
    path = tmp_path / name
    path.write_text("".join(ln if isinstance(ln, str) else json.dumps(ln) + "\n" for ln in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("pred_lines,message", [
    (['{"id": 1, "answers": ["T2"]\n'], "line 1: invalid JSON (Expecting ',' delimiter)"),
    ([{"id": 1}], "line 1: record needs keys 'id' and 'answers'"),
    ([{"id": 1, "answers": "T2"}], "line 1: 'answers' must be a list of strings"),
    ([{"id": 1, "answers": ["T2"]}, "\n", {"id": 1, "answers": ["T3"]}], "line 3: duplicate id '1'"),
    ([{"id": [1], "answers": ["T2"]}], "line 1: 'id' must be a string or an integer"),
    (["\n", "  \n"], "no answers (every line is blank)"),
], ids=["bad-json", "no-answers-key", "answers-not-list", "duplicate-id", "id-a-list", "blank-file"])
def test_score_bad_answers_file(tmp_path, capsys, pred_lines, message):
    gold = _answers(tmp_path, "gold.jsonl", [{"id": 1, "answers": ["T2"]}])
    pred = _answers(tmp_path, "pred.jsonl", pred_lines)
    _command_refused(capsys, tmp_path, ["score", gold, pred], f"{pred}: {message}")


def test_score_missing_file(tmp_path, capsys):
    gold = _answers(tmp_path, "gold.jsonl", [{"id": 1, "answers": ["T2"]}])
    _command_refused(capsys, tmp_path, ["score", gold, tmp_path / "none.jsonl"], f"{tmp_path / 'none.jsonl'}: file not found")


def test_score_directory_for_a_file(tmp_path, capsys):
    gold = _answers(tmp_path, "gold.jsonl", [{"id": 1, "answers": ["T2"]}])
    _command_refused(capsys, tmp_path, ["score", tmp_path, gold], f"{tmp_path}: is a directory, not an answers file")


def test_score_not_utf8(tmp_path, capsys):
    gold = _answers(tmp_path, "gold.jsonl", [{"id": 1, "answers": ["T2"]}])
    pred = tmp_path / "pred.jsonl"
    pred.write_bytes(b'{"id": 1, "answers": ["caf\xe9"]}\n')
    _command_refused(capsys, tmp_path, ["score", gold, pred], f"{pred}: not UTF-8 text; re-save the file as UTF-8")


def test_score_id_sets_differ(tmp_path, capsys):
    gold = _answers(tmp_path, "gold.jsonl", [{"id": 1, "answers": ["T2"]}])
    pred = _answers(tmp_path, "pred.jsonl", [{"id": 2, "answers": ["T2"]}])
    _command_refused(capsys, tmp_path, ["score", gold, pred],
                     f"id sets differ: missing from {pred}: ['1']; missing from {gold}: ['2']")


@pytest.fixture
def fake_run(tmp_path):
    """A run directory whose manifest records params (no models: every case must stop before loading one)."""
    from cancerllm.config import make_config

    run_dir = tmp_path / "runs" / "done"
    run_dir.mkdir(parents=True)
    params = make_config({"runs_root": str(tmp_path / "runs"), "run_name": "done"}).to_dict()
    (run_dir / "manifest.json").write_text(json.dumps({"params": params, "stages": {}}), encoding="utf-8")
    return run_dir


def test_evaluate_run_is_not_a_directory(tmp_path, capsys, write_notes):
    data, run_file = write_notes(ROWS, "ext.csv"), tmp_path / "run.txt"
    run_file.write_text("")
    _command_refused(capsys, tmp_path, ["evaluate", "--run", run_file, "--data", data],
                     f"{run_file}: is a file, not a run directory")


def test_evaluate_run_without_manifest(tmp_path, capsys, write_notes):
    data = write_notes(ROWS, "ext.csv")
    _command_refused(capsys, tmp_path, ["evaluate", "--run", tmp_path / "nowhere", "--data", data],
                     f"{tmp_path / 'nowhere'}: no manifest.json — not a run directory")


def test_evaluate_damaged_manifest(tmp_path, capsys, fake_run, write_notes):
    data = write_notes(ROWS, "ext.csv")
    (fake_run / "manifest.json").write_text("{not json", encoding="utf-8")
    _command_refused(capsys, tmp_path, ["evaluate", "--run", fake_run, "--data", data],
                     f"{fake_run / 'manifest.json'}: damaged (not valid JSON)")


def test_evaluate_manifest_without_params(tmp_path, capsys, fake_run, write_notes):
    data = write_notes(ROWS, "ext.csv")
    (fake_run / "manifest.json").write_text(json.dumps({"stages": {}}), encoding="utf-8")
    _command_refused(capsys, tmp_path, ["evaluate", "--run", fake_run, "--data", data],
                     f"{fake_run / 'manifest.json'}: no recorded params; re-run `python -m cancerllm run`")


def test_evaluate_data_is_a_directory(tmp_path, capsys, fake_run):
    (tmp_path / "notes").mkdir()
    _command_refused(capsys, tmp_path, ["evaluate", "--run", fake_run, "--data", tmp_path / "notes"],
                     f"{tmp_path / 'notes'}: is a directory, not a data file")


def test_evaluate_out_is_a_file(tmp_path, capsys, fake_run, write_notes):
    data, out = write_notes(ROWS, "ext.csv"), tmp_path / "out.txt"
    out.write_text("")
    _command_refused(capsys, tmp_path, ["evaluate", "--run", fake_run, "--data", data, "--out", out / "sub"],
                     f"{out}: is a file; --out must name a folder")


def test_evaluate_data_without_labels(tmp_path, capsys, fake_run, write_notes):
    data = write_notes([{k: v for k, v in r.items() if k != "t_stage"} for r in ROWS], "nolabels.csv")
    _command_refused(capsys, tmp_path, ["evaluate", "--run", fake_run, "--data", data],
                     f"{data}: no labelled instances (needs phenotype label columns or a diagnosis column)")


def test_run_unknown_stage(tmp_path, capsys):
    from cancerllm.runner import available_stages

    path = _params(tmp_path)
    _command_refused(capsys, tmp_path, ["run", path, "--only", "99_nothing"],
                     f"--only/--force: unknown stage '99_nothing'; stages are {available_stages()}")


def test_gate_before_any_run(tmp_path, capsys):
    path = _params(tmp_path)
    _command_refused(capsys, tmp_path, ["gate", path],
                     f"{tmp_path / 'runs' / 'bad'}: no executed notebooks; run `python -m cancerllm run` first")


def test_book_damaged_manifest(tmp_path, capsys):
    from cancerllm.runner import available_stages

    run_dir = tmp_path / "runs" / "bad"
    (run_dir / "notebooks").mkdir(parents=True)
    for stage in available_stages():
        (run_dir / "notebooks" / f"{stage}.ipynb").write_text("{}", encoding="utf-8")
    (run_dir / "manifest.json").write_text("[1, 2", encoding="utf-8")
    path = _params(tmp_path)
    _command_refused(capsys, tmp_path, ["book", path], f"{run_dir / 'manifest.json'}: damaged (not valid JSON); "
                                                      "remove the run directory or choose another run_name")


# ----------------------------------------------------------------------------- models
def test_model_path_relative(tmp_path, capsys):
    """A relative path validated from the shell's folder but was looked up from notebooks/ inside the stage."""
    path = _params(tmp_path, "base_model: models/mistral\n")
    _refused(capsys, path, f"{path}: key 'base_model' must be 'small' or an absolute path to a local model directory "
                           f"(nothing is downloaded), got 'models/mistral'")


def test_random_7b_small_model_refused(tmp_path, capsys):
    """params/paper.yaml's shape with base_model 'small' would train a random 7.2B model: refused before anything."""
    shape = ("hidden_size: 4096\nnum_hidden_layers: 32\nnum_attention_heads: 32\nnum_key_value_heads: 8\n"
             "intermediate_size: 14336\nvocab_size: 32000\n")
    _refused(capsys, _params(tmp_path, shape),
             "base_model 'small' with hidden_size 4096 and 32 layers would train a randomly initialised "
             "7.2B-parameter model: set base_model to a local model directory (e.g. your copy of "
             "Mistral-7B-Instruct-v0.1), or add --set dry_run=true to check the setup without weights")


def test_shipped_paper_profile_refused_without_dry_run(capsys):
    """As committed, params/paper.yaml must not start training a random 7B model (issue 19); its dry run still works."""
    assert main(["run", "params/paper.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: base_model 'small' with hidden_size 4096 and 32 layers would train")
    assert not Path("runs/paper").exists()


def test_model_path_without_config(tmp_path, capsys):
    model_dir = tmp_path / "somedir"
    model_dir.mkdir()
    _refused(capsys, _params(tmp_path, f"base_model: {model_dir}\n"),
             f"{model_dir}: not a model directory (no config.json); base_model must be 'small' or a local causal LM")


def test_model_path_not_a_causal_lm(tmp_path, capsys):
    model_dir = tmp_path / "bert"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"]}))
    (model_dir / "model.safetensors").write_bytes(b"")
    _refused(capsys, _params(tmp_path, f"base_model: {model_dir}\n"),
             f"{model_dir}: config.json architectures ['BertForMaskedLM'] is not a causal LM (…ForCausalLM)")


def test_model_with_pickle_weights_only(tmp_path, capsys):
    model_dir = tmp_path / "pickled"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"architectures": ["MistralForCausalLM"]}))
    (model_dir / "pytorch_model.bin").write_bytes(b"")
    _refused(capsys, _params(tmp_path, f"base_model: {model_dir}\n"),
             f"{model_dir}: no .safetensors weights (pickle .bin weights are refused)")


def _model_dir(tmp_path: Path, config: dict | None = None, weights: bytes | None = None, tokenizer=True) -> Path:
    """A directory that passes the model check (config, safetensors weights, tokenizer); one part then broken."""
    import numpy as np
    from safetensors.numpy import save_file

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    config = {"architectures": ["MistralForCausalLM"], "model_type": "mistral"} if config is None else config
    (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if weights is None:
        save_file({"w": np.zeros(2, dtype=np.float32)}, str(model_dir / "model.safetensors"))
    else:
        (model_dir / "model.safetensors").write_bytes(weights)
    if tokenizer:
        (model_dir / "tokenizer.json").write_text("{}", encoding="utf-8")
    return model_dir


def _model_refused(capsys, tmp_path: Path, model_dir: Path, message: str) -> None:
    """`validate`, `run` and `run` with dry_run: the same line, exit 2, nothing written."""
    path = _params(tmp_path, f"base_model: {model_dir}\n")
    _refused(capsys, path, message)
    _refused(capsys, path, message, overrides=["dry_run=true"], commands=("run",))


def test_model_check_passes_a_good_directory(tmp_path, capsys):
    path = _params(tmp_path, f"base_model: {_model_dir(tmp_path)}\n")
    assert main(["validate", str(path)]) == 0  # the cases below each break one part of this directory
    assert capsys.readouterr().out.startswith(f"ok: {path}")


def test_model_path_is_a_file(tmp_path, capsys):
    model_file = tmp_path / "model.safetensors"
    model_file.write_bytes(b"")
    _model_refused(capsys, tmp_path, model_file,
                   f"{model_file}: is a file; base_model must be 'small' or a local causal LM directory")


@pytest.mark.parametrize("config,message", [
    ("{architectures: [", "not valid JSON (Expecting property name enclosed in double quotes, line 1 column 2)"),
    ('["MistralForCausalLM"]', "expected a JSON object, got list"),
], ids=["broken-json", "json-list"])
def test_model_config_unreadable(tmp_path, capsys, config, message):
    model_dir = _model_dir(tmp_path)
    (model_dir / "config.json").write_text(config, encoding="utf-8")
    _model_refused(capsys, tmp_path, model_dir, f"{model_dir / 'config.json'}: {message}")


def test_model_asks_for_custom_code(tmp_path, capsys):
    model_dir = _model_dir(tmp_path, {"architectures": ["MistralForCausalLM"], "model_type": "mistral",
                                      "auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}})
    _model_refused(capsys, tmp_path, model_dir, f"{model_dir / 'config.json'}: asks for custom code (auto_map); "
                                                "trust_remote_code is never enabled, use a model that transformers "
                                                "supports natively")


def test_model_type_unknown_to_transformers(tmp_path, capsys):
    model_dir = _model_dir(tmp_path, {"architectures": ["EvilForCausalLM"], "model_type": "evil_llm"})
    _model_refused(capsys, tmp_path, model_dir, f"{model_dir / 'config.json'}: model_type 'evil_llm' is not one "
                                                "transformers knows (custom code is never run)")


def test_model_architectures_not_a_list(tmp_path, capsys):
    model_dir = _model_dir(tmp_path, {"architectures": "MistralForCausalLM", "model_type": "mistral"})
    _model_refused(capsys, tmp_path, model_dir,
                   f"{model_dir}: config.json architectures MistralForCausalLM is not a causal LM (…ForCausalLM)")


def test_model_weights_unreadable(tmp_path, capsys):
    model_dir = _model_dir(tmp_path, weights=b"\x00" * 4)  # a truncated download
    _model_refused(capsys, tmp_path, model_dir, f"{model_dir / 'model.safetensors'}: not a readable safetensors "
                                                "file (Error while deserializing header: header too small)")


def test_model_without_tokenizer(tmp_path, capsys):
    model_dir = _model_dir(tmp_path, tokenizer=False)
    _model_refused(capsys, tmp_path, model_dir, f"{model_dir}: no tokenizer (tokenizer.json or tokenizer_config.json)")


def test_pickle_model_refused_in_a_dry_run_too(tmp_path, capsys):
    model_dir = _model_dir(tmp_path)
    (model_dir / "model.safetensors").rename(model_dir / "pytorch_model.bin")
    _model_refused(capsys, tmp_path, model_dir, f"{model_dir}: no .safetensors weights (pickle .bin weights are refused)")


TINY = {"n_patients": 8, "n_general_notes": 4, "vocab_size": 400, "hidden_size": 16, "intermediate_size": 32,
        "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1, "cpt_block_size": 32,
        "cpt_max_steps": 2, "save_steps": 1, "eval_steps": 1, "cpt_per_device_train_batch_size": 2,
        "ablation_models": ["no_cpt"]}


@pytest.fixture
def tiny_base(tmp_path):
    """A tiny saved base model and tokenizer in a run directory (no training)."""
    from cancerllm import pipeline, training
    from cancerllm.config import make_config
    from cancerllm.data.synthetic import generate_cohort

    cfg = make_config({"runs_root": str(tmp_path / "runs"), **TINY})
    cohort = generate_cohort(cfg.n_patients, seed=cfg.seed, n_general_notes=cfg.n_general_notes)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    model, tokenizer = pipeline.prepare_base(cfg, corpora)
    return cfg, corpora, model, tokenizer


def test_adapter_trained_on_a_different_base(tiny_base):
    from peft import get_peft_model

    from cancerllm import pipeline, training
    from cancerllm.config import make_config
    from cancerllm.errors import ModelError

    cfg, corpora, model, _ = tiny_base
    adapter = pipeline.sft_dir(cfg, "no_cpt") / "final"
    get_peft_model(model, training.lora_config(2, 4, 0.0, "all-linear")).save_pretrained(adapter)
    (adapter / "base.json").write_text(json.dumps(pipeline.init_fingerprint(cfg, "no_cpt")))
    assert type(pipeline.load_tuned(cfg, "no_cpt", merge=False)[0]).__name__ == "PeftModelForCausalLM"  # its own base: fine
    pipeline.prepare_base(make_config({**cfg.to_dict(), "seed": cfg.seed + 1}), corpora)  # base replaced
    with pytest.raises(ModelError) as info:
        pipeline.load_tuned(cfg, "no_cpt")
    assert str(info.value) == (f"{adapter}: adapter was trained on a different base ({pipeline.base_dir(cfg)}); "
                               "re-run 20_instruction_tuning")


# ----------------------------------------------------------------------------- disk
def test_no_disk_space_for_a_checkpoint(tiny_base, monkeypatch):
    from cancerllm import training
    from cancerllm.errors import DiskSpaceError

    cfg, corpora, model, tokenizer = tiny_base
    out = cfg.run_dir / "10_continued_pretraining" / "models" / "cancer_cpt"
    seen = []

    def full_disk(path):
        seen.append(Path(path))
        return namedtuple("usage", "total used free")(10**9, 10**9 - 1000, 1000)

    monkeypatch.setattr(shutil, "disk_usage", full_disk)
    n_bytes = 4 * sum(p.numel() for p in model.parameters())  # fp32
    needed = 2 * n_bytes + 2 * n_bytes  # a checkpoint (weights + AdamW's 2 moments) and the final weights
    with pytest.raises(DiskSpaceError) as info:
        training.run_cpt(cfg, model, tokenizer, corpora["cancer"]["train"], out)
    assert str(info.value) == (f"{out}: not enough disk space for checkpoints: needs {needed:,} bytes "
                               f"({needed / 2**30:.2f} GiB), 1,000 bytes free (0.00 GiB)")
    assert seen and all(out.resolve().is_relative_to(p) for p in seen)  # asked about the disk out/ goes on
    assert not list(out.glob("checkpoint-*")) and not (out / "final").exists()


def test_disk_estimate_for_lora_counts_the_adapter_only(tiny_base):
    from peft import get_peft_model

    from cancerllm import training

    _, _, model, _ = tiny_base
    full = training.checkpoint_bytes(model)
    n = sum(p.numel() for p in model.parameters())
    assert full == (4 * n, 8 * n)
    lora = get_peft_model(model, training.lora_config(2, 4, 0.0, "all-linear"))
    adapter = 4 * sum(p.numel() for p in lora.parameters() if p.requires_grad)
    assert 0 < adapter < 4 * n / 10
    assert training.checkpoint_bytes(lora) == (adapter, 2 * adapter)
