"""Reading a params YAML (duplicate keys refused), `--set key=value` overrides and the run paths' checks:
`load_params`, what every consumer calls."""

from __future__ import annotations

import os
import typing
from pathlib import Path

import yaml

from ..errors import ParamsError
from .fields import Config
from .validate import _renamed, make_config


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml(text: str, where: str):
    """Parse YAML with unique keys; a parse error is one ParamsError naming `where` and the problem."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # safe: _UniqueKeyLoader is a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        if exc.problem and exc.problem.startswith("duplicate key"):
            raise ParamsError(f"{where}: {exc.problem}; each key may appear once") from None
        raise ParamsError(f"{where}: not valid YAML ({exc.__class__.__name__})") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{where}: not valid YAML ({exc.__class__.__name__})") from None


def parse_override(item: str) -> tuple[str, object]:
    """`--set key=value` -> (key, YAML-parsed value)."""
    if "=" not in item:
        raise ParamsError(f"--set {item}: expected key=value")
    key, raw = item.split("=", 1)
    return key.strip(), _yaml(raw, f"--set {item}")


def check_run_paths(cfg: Config, source: str) -> None:
    """The run directory can be made where the params put it: every existing part of runs_root/run_name is a
    directory and the nearest existing one is writable. Checked before any stage starts (a runs_root that is a
    file used to pass validate and end in a traceback at run)."""
    root = cfg.run_dir.parent
    too_long = [part for part in root.parts if len(os.fsencode(part)) > 255]
    if too_long:
        raise ParamsError(f"{source}: key 'runs_root' has a path component longer than 255 bytes "
                          f"({len(os.fsencode(too_long[0]))} bytes)")
    for path, key in ((cfg.run_dir, "run_name"), *((p, "runs_root") for p in (root, *root.parents))):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise ParamsError(f"{source}: key '{key}': {path} is a file, not a directory")
            if not os.access(path, os.W_OK | os.X_OK):
                raise ParamsError(f"{source}: key '{key}': {path} is not writable")
            return


def load_params(path: str | Path | None = None, overrides: dict | list[str] | None = None) -> Config:
    """The one way a Config is built from params: read the profile at `path` (None: none, the Config defaults),
    apply `overrides` on top — a dict {key: value} (a notebook's `overrides` parameter) or `--set key=value`
    strings (the CLI) — and validate, also that the run directory can be made (`check_run_paths`). Used by the
    CLI, the distributed entry point and every notebook's second cell."""
    source = "notebook parameters" if path is None else str(path)  # only a notebook has no profile file
    params = {} if path is None else _read_profile(Path(path))
    if isinstance(overrides, dict):
        extra = overrides
    elif overrides is None or isinstance(overrides, (list, tuple)):
        extra = dict(parse_override(item) for item in overrides or [])
    else:
        raise ParamsError(f"{source}: overrides must be a dict of key: value, got {type(overrides).__name__}")
    params = {**_renamed(params, source), **_renamed(extra, source)}
    cfg = make_config(params, source=source)
    check_run_paths(cfg, source)
    return cfg


def _read_profile(path: Path) -> dict:
    if path.is_dir():
        raise ParamsError(f"{path}: is a directory, not a params file")
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    params = _yaml(text, str(path)) or {}
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of key: value at the top level")
    return params
