"""Validated run configuration: one flat params YAML -> one `Config` object.

The one source of every parameter is the `Config` dataclass below: each field's default and, in the comment after
it, its documentation. The defaults are a tiny profile ("run all" of a notebook takes seconds); a profile in
params/ lists only the keys where it differs, each with a short note on why. Flat on purpose, alignment-handbook
style: a key that feeds a TRL/PEFT training field keeps that field's name behind its phase's prefix
(`learning_rate` -> `cpt_learning_rate` / `sft_learning_rate`, `r` -> `cpt_lora_r` / `sft_lora_r`). Keys renamed
since runs were recorded (`RENAMED`) are still accepted under their old names, with a warning.

Every consumer builds its Config with `load_params(path, overrides)`: the CLI (a profile and `--set key=value`),
and each notebook (its two papermill parameters, `params_file` and `overrides`; the runner passes the run's
params as `overrides`). Validation happens before any kernel starts: an unknown key, a wrong type, a bad value or
a missing path raises `ParamsError` with one line naming the key and the file.

Where the code lives: `fields` (the `Config` dataclass, the stage and retriever names), `validate` (`make_config`
and its checks, renamed keys, `arm_names`), `load` (`load_params`, YAML reading, overrides, run paths).
"""

from ..errors import ParamsError
from .fields import DATA_SOURCES, FIELDS, REPO_ROOT, RETRIEVERS, STAGES, Config
from .load import check_run_paths, load_params, parse_override
from .fields import RENAMED, recorded_names
from .validate import (_ABLATION, _SMALL_LINEAR, ARM_NAME, RESERVED_NAMES, RUN_NAME, RUN_NAME_MAX, SEED_MAX, arm_names,
                       make_config, params_diff)

__all__ = ["ARM_NAME", "DATA_SOURCES", "FIELDS", "RENAMED", "REPO_ROOT", "RESERVED_NAMES", "RETRIEVERS", "RUN_NAME",
           "RUN_NAME_MAX", "SEED_MAX", "STAGES", "_ABLATION", "_SMALL_LINEAR", "Config", "ParamsError", "arm_names", "check_run_paths", "load_params", "make_config",
           "params_diff", "parse_override", "recorded_names"]
