"""`python -m cancerllm extract --run RUN --data FILE --out OUT.jsonl [--model NAME]`: a finished run's tuned model
extracting every phenotype field the run was tuned on, and the diagnosis, from notes nobody labelled — the job a
hospital runs over its reports. One JSON line per patient, in the input's patient order: {"patient_id", one key
per field, "diagnosis"}, each the note-level answer as the evaluation chapter scores it (``inference.predict``
with the run's reading settings).

Past one process: launched with `accelerate launch --num_processes N -m cancerllm extract ...` (configs/ has CPU
and GPU configs), the patients are split between the processes by accelerate's
``PartialState.split_between_processes``; each process extracts its share into its own shard next to OUT, and the
main process merges the shards in input order once all have finished, then removes them. The merged file is the
same as one process writes (tests/test_distributed.py). Nothing is half-written: OUT appears only when complete.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd
import torch

from . import inference, pipeline
from .config import arm_names
from .errors import DataError

#: the placeholder gold of an unlabelled instance (never scored: extraction has no gold)
_UNLABELLED = "?"


def unlabelled_instances(cfg, cohort, fields: list[str], tokenizer) -> pd.DataFrame:
    """Note-level instances of every patient of `cohort` for every field in `fields` and the diagnosis, built by
    ``instructions.build_instructions`` as for the test split (same passages, same diagnosis sections, same
    length budget) with a placeholder gold."""
    from .instructions import build_instructions

    labels = cohort.labels.copy()
    labels["split"] = "test"
    labels[[*fields, "diagnosis"]] = _UNLABELLED
    labels["cancer_type"] = labels["cancer_type"].fillna("")
    notes = cohort.notes.assign(split="test")
    unlabelled = dataclasses.replace(cohort, notes=notes, labels=labels, fields=list(fields))
    return build_instructions(unlabelled, "test", tokenizer, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)


def _records(rows: pd.DataFrame, preds: list[list[str]], order: list[str]) -> list[dict]:
    out: dict[str, dict] = {pid: {"patient_id": pid} for pid in order}
    for (pid, fld), ans in zip(zip(rows["patient_id"], rows["field"]), preds):
        out[pid][fld] = ", ".join(ans)
    return [out[pid] for pid in order]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    tmp.replace(path)


def extract(run_dir, data_path, out_path, model: str | None = None) -> Path:
    """Extract with `model` (default: the run's last ablation arm, cancer_cpt in the shipped profiles) of the
    finished run `run_dir` from the notes in `data_path` (the custom-notes schema; label columns are ignored),
    writing `out_path` (JSON lines). Split between processes when launched by accelerate."""
    from accelerate import PartialState

    from .data.loaders import load_custom
    from .evaluation import run_config

    cfg = run_config(Path(run_dir))
    name = model or cfg.ablation_models[-1]
    if name not in arm_names(cfg):
        raise DataError(f"--model {name!r}: not a tuned model of {run_dir} (one of {arm_names(cfg)})")
    out_path = Path(out_path)
    if out_path.is_dir():
        raise DataError(f"{out_path}: is a folder; --out must name a .jsonl file")
    train = pipeline.load_sets(cfg).get("train")
    if train is None:
        raise DataError(f"{run_dir}: the run's instruction tuning stage has not finished")
    fields = sorted(set(train.loc[train["task"] == "phenotype_extraction", "field"]))
    cohort = load_custom(Path(data_path), [0.0, 0.0, 1.0], cfg.seed)
    order = list(dict.fromkeys(cohort.notes["patient_id"]))
    # on a CPU, PartialState joins the launcher's process group only when told it runs on the CPU: without
    # `cpu`, under `accelerate launch` every CPU process believed it was the only one, extracted every patient
    # and wrote the same shard name (a race between the processes' renames)
    state = PartialState(cpu=not torch.cuda.is_available())
    with state.split_between_processes(order) as mine:
        mine = list(mine)
    print(f"extract: process {state.process_index + 1} of {state.num_processes}: {len(mine)} of {len(order)} "
          "patients", file=sys.stderr)
    net, tokenizer = pipeline.load_tuned(cfg, name)
    part = cohort.notes["patient_id"].isin(mine)
    sub = dataclasses.replace(cohort, notes=cohort.notes[part].reset_index(drop=True),
                              labels=cohort.labels[cohort.labels["patient_id"].isin(mine)].reset_index(drop=True))
    rows = unlabelled_instances(cfg, sub, fields, tokenizer) if mine else pd.DataFrame()
    preds = (inference.predict(net, tokenizer, rows, cfg.max_new_tokens, cfg.eval_batch_size, desc=f"extract: {name}",
                               **pipeline.reading(cfg))[1] if len(rows) else [])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    shard = out_path.with_name(f"{out_path.name}.rank{state.process_index}")
    _write_jsonl(shard, _records(rows, preds, mine) if len(rows) else [])
    state.wait_for_everyone()
    if state.is_main_process:
        by_id = {}
        for k in range(state.num_processes):
            piece = out_path.with_name(f"{out_path.name}.rank{k}")
            by_id.update({r["patient_id"]: r for r in map(json.loads, piece.read_text(encoding="utf-8").splitlines())})
        _write_jsonl(out_path, [by_id[pid] for pid in order])
        for k in range(state.num_processes):
            out_path.with_name(f"{out_path.name}.rank{k}").unlink()
    state.wait_for_everyone()
    return out_path
