#!/usr/bin/env sh
# Performance benchmarks (benchmarks/README.md): one JSON object on stdout, also written to runs/bench.json.
# Usage: benchmarks/run_bench.sh [--quick]
cd "$(dirname "$0")/.." && exec .venv/bin/python -m cancerllm bench --out runs/bench.json "$@"
