"""Command line: `python -m cancerllm {validate,run,book,gate,score,evaluate,extract,bench,sample-data,book-check}` (also the
`cancerllm` script).

Bad params or bad data → one line on stderr naming the key/file/row, exit code 2, nothing written.
"""

from __future__ import annotations

import argparse
import sys

from .config import load_params
from .errors import DataError, LeakError, ModelError, ParamsError, RunDirError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cancerllm", description="CancerLLM reproduction: run notebooks, build the book.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check params and data only")
    v.add_argument("params")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    r = sub.add_parser("run", help="validate, then execute the notebooks into runs/<run_name>/")
    r.add_argument("params")
    r.add_argument("--only", nargs="+", metavar="STAGE", help="run only these stages")
    r.add_argument("--force", nargs="+", metavar="STAGE", default=[], help="recompute these stages even if done")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    b = sub.add_parser("book", help="build the Jupyter Book from a run's executed notebooks")
    b.add_argument("params")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    bc = sub.add_parser("book-check", help="open every page of a run's built book in headless Chromium; fail on "
                        "console errors, missing images, external requests; save screenshots")
    bc.add_argument("params")
    bc.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    g = sub.add_parser("gate", help="scan a run's notebooks and built book for note text and identifiers")
    g.add_argument("params")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    bn = sub.add_parser("bench", help="performance benchmarks; prints one JSON object (benchmarks/README.md)")
    bn.add_argument("--quick", action="store_true", help="smaller workloads, no demo book run (< 5 min on 2 cores)")
    bn.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # seconds; used by the unit test
    bn.add_argument("--out", default=None, metavar="FILE", help="also write the JSON here")
    bn.add_argument("--run", default=None, metavar="DIR", help="extraction benchmark on this finished run's "
                    "cancer_cpt and test reports (default: a demo-shape model tuned inside the benchmark)")
    s = sub.add_parser("score", help="score predictions against gold with the reference scorer")
    s.add_argument("gold")
    s.add_argument("pred")
    sd = sub.add_parser("sample-data", help="write a small synthetic file in the format of your own notes")
    sd.add_argument("out", help="file to write: .csv, .csv.gz, .jsonl or .parquet")
    sd.add_argument("--patients", type=int, default=60, help="number of patients (default 60, at least 10)")
    sd.add_argument("--seed", type=int, default=42)
    e = sub.add_parser("evaluate", help="external validation: score a finished run's models on another file")
    e.add_argument("--run", required=True, help="a run directory (runs/<run_name>)")
    e.add_argument("--data", required=True, help="CSV/JSONL/Parquet in the custom-notes schema, with labels")
    e.add_argument("--out", default=None, help="output folder (default RUN/external/<file stem>)")
    x = sub.add_parser("extract", help="a finished run's model extracting every field and the diagnosis from "
                       "unlabelled notes; one JSON line per patient (split over processes under accelerate launch)")
    x.add_argument("--run", required=True, help="a run directory (runs/<run_name>)")
    x.add_argument("--data", required=True, help="CSV/JSONL/Parquet in the custom-notes schema (labels ignored)")
    x.add_argument("--out", required=True, help="JSON-lines file to write")
    x.add_argument("--model", default=None, help="which tuned model (default: the run's last ablation arm)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    try:
        if args.command == "score":
            from .metrics import score_files

            print(score_files(args.gold, args.pred).round(2).to_string())
            return 0
        if args.command == "bench":
            import json

            from .bench import run_bench, write

            from contextlib import redirect_stdout

            with redirect_stdout(sys.stderr):  # training logs and progress go to stderr: stdout is the JSON alone
                result = run_bench(quick=args.quick, tiny=args.tiny, run=args.run)
            if args.out:
                write(result, args.out)
            print(json.dumps(result))
            return 0
        if args.command == "sample-data":
            from .data.loaders import write_sample_notes

            path = write_sample_notes(args.out, args.patients, args.seed)
            print(f"wrote {path.resolve()} ({args.patients} synthetic patients, custom-notes schema); try: python -m "
                  f"cancerllm validate params/demo.yaml --set data_source=custom --set custom_data_path={path.resolve()}")
            return 0
        if args.command == "extract":
            from .extract import extract

            print(f"written: {extract(args.run, args.data, args.out, args.model)}")
            return 0
        if args.command == "evaluate":
            from .evaluation import external_validation

            print(f"metrics written: {external_validation(args.run, args.data, args.out)}")
            return 0
        cfg = load_params(args.params, args.overrides)
        if args.command == "validate" or (args.command == "run" and cfg.dry_run):
            from .model_check import check_models

            # the paths that do not go through runner.run, which makes this check itself before anything is written
            # (a dry run too: a hub id is no local directory)
            check_models(cfg)
        if args.command == "validate":
            from .data import load_cohort
            from .data.schema import SPLITS

            from .provenance import open_run_dir
            from .safe_weights import check_staged_checkpoints

            cohort = load_cohort(cfg, splits=SPLITS)  # the same checks as `run` makes before any stage
            open_run_dir(cfg.run_dir)  # an existing directory must be a usable run directory
            check_staged_checkpoints(cfg.run_dir)
            print(f"ok: {args.params} — {cohort.name} ({'real' if cohort.is_real else 'synthetic'}), "
                  f"{cohort.labels['patient_id'].nunique()} patients, {len(cohort.notes)} notes")
            return 0
        if args.command == "run" and cfg.dry_run:
            import json

            from .dryrun import dry_run_report

            print(json.dumps(dry_run_report(cfg), indent=2))
            return 0
        if args.command == "run":
            from .runner import run

            run_dir = run(cfg, only=args.only, force=args.force)
            print(f"run complete: {run_dir}")
            return 0
        if args.command == "gate":
            from .gate import gate_run

            n = gate_run(cfg)
            print(f"gate passed: {cfg.run_dir} ({n} files scanned)")
            return 0
        if args.command == "book-check":
            from .bookcheck import check_run, summary

            results = check_run(cfg)
            print(summary(results))
            print(f"screenshots: {cfg.run_dir / 'book' / 'screenshots'}")
            return 1 if any(r.problems for r in results) else 0
        if args.command == "book":
            from .runner import build_book

            index = build_book(cfg)
            print(f"book built: {index}")
            return 0
    except (ParamsError, DataError, FileNotFoundError, ModelError, LeakError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a failed stage or book build: one message, non-zero exit
        from .runner import StageError

        if isinstance(exc, (StageError, RuntimeError, ValueError)):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    return 1
