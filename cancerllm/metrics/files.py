"""Score tables: every metric of ``metrics.reference`` on one corpus (``score_table``), and the scoring of two
answers files aligned by id (``read_answers_jsonl``, ``score_files``; `python -m cancerllm score`)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .reference import CLINICAL_METRICS, REFERENCE_METRICS, corpus_prf


def score_table(golds, preds, metrics=None) -> pd.DataFrame:
    """One row per metric (default: all eight), columns precision, recall, f1 (x100)."""
    names = list(metrics) if metrics is not None else REFERENCE_METRICS + CLINICAL_METRICS
    rows = [corpus_prf(golds, preds, name) for name in names]
    return pd.DataFrame(rows, index=pd.Index(names, name="metric"),
                        columns=["precision", "recall", "f1"])


def read_answers_jsonl(path) -> dict[str, list[str]]:
    """Read ``{"id": ..., "answers": [...]}`` lines (blank lines skipped) into {str(id): answers}. A bad file is
    one DataError naming it and the line (`score` answers exit 2)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an answers file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; re-save the file as UTF-8") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "id" not in record or "answers" not in record:
            raise DataError(f"{path}: line {lineno}: record needs keys 'id' and 'answers'")
        answers = record["answers"]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise DataError(f"{path}: line {lineno}: 'answers' must be a list of strings")
        if not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool):
            raise DataError(f"{path}: line {lineno}: 'id' must be a string or an integer")
        key = str(record["id"])
        if key in out:
            raise DataError(f"{path}: line {lineno}: duplicate id {key!r}")
        out[key] = answers
    if not out:
        raise DataError(f"{path}: no answers (every line is blank)")
    return out


def score_files(gold_path, pred_path) -> pd.DataFrame:
    """Align two answer files by id and score all eight metrics (``score_table``)."""
    gold, pred = read_answers_jsonl(gold_path), read_answers_jsonl(pred_path)
    missing_pred = [i for i in gold if i not in pred]
    missing_gold = [i for i in pred if i not in gold]
    if missing_pred or missing_gold:
        raise DataError(f"id sets differ: missing from {pred_path}: {missing_pred[:20]}; "
                        f"missing from {gold_path}: {missing_gold[:20]}")
    ids = list(gold)
    return score_table([gold[i] for i in ids], [pred[i] for i in ids])
