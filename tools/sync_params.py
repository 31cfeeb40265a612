"""Rewrite every notebook's parameters cell from `Config()` defaults, and report params/*.yaml keys that are
missing or unknown. Run after adding or changing a Config field:

    .venv/bin/python tools/sync_params.py

tests/test_drift.py fails until the notebooks and every params YAML agree with cancerllm/config.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cancerllm.config import FIELDS, Config  # noqa: E402

HEADER = "# Parameters (papermill overrides these; the defaults make 'run all' take seconds)."


def parameters_source() -> str:
    cfg = Config()
    return "\n".join([HEADER, *(f"{name} = {getattr(cfg, name)!r}" for name in FIELDS)])


def main() -> int:
    src = parameters_source()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[0]
        if "parameters" not in cell.metadata.get("tags", []):
            print(f"{path.name}: first cell is not tagged 'parameters'", file=sys.stderr)
            return 1
        if cell.source != src:
            cell.source = src
            nbformat.write(nb, path)
            print(f"updated {path.relative_to(ROOT)}")
    status = 0
    for path in sorted((ROOT / "params").glob("*.yaml")):
        keys = set(yaml.safe_load(path.read_text(encoding="utf-8")))
        for key in sorted(set(FIELDS) - keys):
            print(f"{path.relative_to(ROOT)}: missing key '{key}'")
            status = 1
        for key in sorted(keys - set(FIELDS)):
            print(f"{path.relative_to(ROOT)}: unknown key '{key}'")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
