"""Checking a params mapping and building a `Config` from it (`make_config`): renamed keys, types, ranges,
choices, arm names and LoRA target modules, each failure one `ParamsError` line naming the key and the source."""

from __future__ import annotations

import math
import re
import typing
import warnings
from pathlib import Path

from ..errors import ParamsError
from .fields import DATA_SOURCES, FIELDS, RENAMED, RETRIEVERS, Config


def _renamed(params: dict, source: str) -> dict:
    """`params` with old key names (`RENAMED`) replaced by the new ones, each with a FutureWarning; giving both
    names is an error."""
    old = [k for k in params if k in RENAMED]
    if not old:
        return params
    for key in old:
        if RENAMED[key] in params:
            raise ParamsError(f"{source}: key '{key}' is the old name of '{RENAMED[key]}', which is given too; "
                              f"keep only '{RENAMED[key]}'")
        warnings.warn(f"{source}: key '{key}' is deprecated, renamed '{RENAMED[key]}' (same meaning; the old name "
                      f"still works for now)", FutureWarning, stacklevel=3)
    return {RENAMED.get(k, k): v for k, v in params.items()}


def params_diff(cfg: Config) -> dict:
    """The params where `cfg` differs from the Config defaults: what a profile lists, and the `overrides` the
    runner passes to each notebook (`make_config(params_diff(cfg)) == cfg`)."""
    defaults = Config().to_dict()
    diff = {k: v for k, v in cfg.to_dict().items() if v != defaults[k] or type(v) is not type(defaults[k])}
    if cfg.eval_steps == cfg.save_steps:  # implied: left out, eval_steps is save_steps (make_config)
        diff.pop("eval_steps", None)
    return diff


_TYPES = typing.get_type_hints(Config)

_POSITIVE = {
    "n_patients", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "max_position_embeddings", "vocab_size", "cpt_block_size",
    "cpt_per_device_train_batch_size", "cpt_gradient_accumulation_steps", "sft_per_device_train_batch_size",
    "sft_gradient_accumulation_steps", "sft_max_length", "save_steps", "eval_steps", "cpt_lora_r", "cpt_lora_alpha",
    "sft_lora_r", "sft_lora_alpha", "max_new_tokens", "eval_batch_size", "bootstrap_samples",
    "initializer_range", "cpt_learning_rate", "sft_learning_rate", "cpt_num_train_epochs",
    "sft_num_train_epochs", "efficiency_steps", "efficiency_extraction_reports", "retrieval_k", "sft_negatives", "sft_diagnosis_repeat",
    "sft_max_grad_norm", "calibration_bins",
}

_NON_NEGATIVE = {"n_unlabelled_patients", "n_general_notes", "arms_few_shot"}

#: rates, ratios and probabilities: in [0, 1)
_UNIT = {"ocr_noise_rate", "cpt_weight_decay", "cpt_lora_dropout", "sft_lora_dropout"}

#: transformers' warmup_steps: a fraction of the steps in [0, 1), or a whole number of steps
_WARMUP = ("cpt_warmup_steps", "sft_warmup_steps")

#: -1 = no cap, else > 0
_CAPS = {"cpt_max_steps", "sft_max_steps", "max_sft_examples", "max_eval_instances", "robustness_max_instances",
         "counterfactual_max_instances", "retrieval_max_instances", "calibration_max_dev_instances"}

#: numpy's legacy seeding (which transformers.set_seed calls) takes 0 <= seed < 2**32
SEED_MAX = 2**32 - 1

#: one directory name that is safe in a path and in a one-line message; the run directory holds deeper paths
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")

RUN_NAME_MAX = 100

_CHOICES = {
    "phenotype_decoding": ("copy", "free"),
    "attn_implementation": ("sdpa", "eager"),
    "data_source": DATA_SOURCES,
    "sft_adapter": ["new", "continue", "full"],
    "prompt_style": ["alpaca", "short"],
}

_ABLATION = ["no_cpt", "general_cpt", "cancer_cpt"]

#: system names an external arm may not take: the ablation, the untuned base and the two baselines of chapter 30
RESERVED_NAMES = {*_ABLATION, "zero_shot", "rule", "tfidf_logreg", "base"}

#: an arm's name is a table row, a directory and a file name: a lowercase identifier
ARM_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def arm_names(cfg) -> list[str]:
    """Every trained arm in the order the book lists them: the ablation (``ablation_models``, all grown from one
    base) then the external arms (``arms``: local models tuned with the same recipe). Used by every chapter that
    loops over trained models (pipeline, evaluation, memorisation, robustness, calibration, retrieval)."""
    return [*cfg.ablation_models, *cfg.arms]


def _check_arms(cfg: Config, source: str) -> None:
    """`arms` names local model directories by plain names that clash with no other system; the directories
    themselves are checked (``model_check.check_arms``) before any stage, like base_model."""
    for name, path in cfg.arms.items():
        if not isinstance(name, str) or not ARM_NAME.fullmatch(name):
            raise ParamsError(f"{source}: key 'arms': name {name!r} must be a lowercase identifier (a-z, 0-9, _; "
                              f"starting with a letter, at most 40 characters)")
        if name in RESERVED_NAMES:
            raise ParamsError(f"{source}: key 'arms': name {name!r} is taken by a built-in system "
                              f"({', '.join(sorted(RESERVED_NAMES))})")
        if not isinstance(path, str) or not path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
            raise ParamsError(f"{source}: key 'arms': {name} must be a path to a local model directory, got {path!r}")
        if not Path(path).is_absolute():  # kernels run in notebooks/: a relative path would resolve elsewhere
            raise ParamsError(f"{source}: key 'arms': {name} must be an absolute path to a local model directory "
                              f"(nothing is downloaded), got {path!r}")


def _check_type(key: str, value, source: str):
    want = _TYPES[key]
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is float and isinstance(value, str):  # YAML 1.1 reads 2e-4 (the paper's notation) as a string
        try:
            return float(value)
        except ValueError:
            pass
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, float),
        str: isinstance(value, str),
        list: isinstance(value, list),
        dict: isinstance(value, dict),
    }[want]
    if not ok:
        raise ParamsError(
            f"{source}: key '{key}' must be {want.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


#: the linear layers of the "small" model (transformers' Mistral), as PEFT sees their full names
_SMALL_LINEAR = [f"model.layers.0.{part}" for part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                        "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                                        "mlp.down_proj")]


def _check_target_modules(cfg: Config, source: str) -> None:
    """PEFT reads a string other than 'all-linear' as a regular expression that must match a module's whole
    name; a typo used to surface as "Target modules ... not found" inside stage 10 or 20."""
    target = cfg.lora_target_modules
    if target == "all-linear":
        return
    try:
        pattern = re.compile(target)
    except re.error as exc:
        raise ParamsError(f"{source}: key 'lora_target_modules' is not a valid regular expression ({exc})") from None
    if cfg.uses_small_model and not any(pattern.fullmatch(name) for name in _SMALL_LINEAR):
        raise ParamsError(f"{source}: key 'lora_target_modules' must be 'all-linear' or a regular expression "
                          f"matching a layer's whole name (e.g. '.*\\.(q|v)_proj'), got {target!r}")


def make_config(params: dict, source: str = "<params>") -> Config:
    """Build a validated Config from a flat dict (missing keys take the Config defaults). `source` names the file
    in error messages."""
    params = _renamed(params, source)
    unknown = sorted(set(params) - set(FIELDS), key=str)  # YAML keys may be numbers or null too
    if unknown:
        raise ParamsError(f"{source}: unknown key '{unknown[0]}' (valid keys are the Config fields in "
                          f"cancerllm/config/fields.py)")
    values = {k: _check_type(k, v, source) for k, v in params.items()}
    if "eval_steps" not in values and "save_steps" in values:  # dev loss at every checkpoint unless said otherwise
        values["eval_steps"] = values["save_steps"]
    cfg = Config(**values)
    for key, want in _TYPES.items():  # NaN slips past every comparison below (nan <= 0 is False)
        if want is float and not math.isfinite(getattr(cfg, key)):
            raise ParamsError(f"{source}: key '{key}' must be a finite number, got {getattr(cfg, key)!r}")
    for key in sorted(_POSITIVE):
        if getattr(cfg, key) <= 0:
            raise ParamsError(f"{source}: key '{key}' must be > 0, got {getattr(cfg, key)!r}")
    for key in sorted(_NON_NEGATIVE):
        if getattr(cfg, key) < 0:
            raise ParamsError(f"{source}: key '{key}' must be >= 0, got {getattr(cfg, key)!r}")
    for key in sorted(_UNIT):
        if not 0 <= getattr(cfg, key) < 1:
            raise ParamsError(f"{source}: key '{key}' must be in [0, 1), got {getattr(cfg, key)!r}")
    for key in _WARMUP:
        value = getattr(cfg, key)
        if value < 0 or (value >= 1 and not value.is_integer()):
            raise ParamsError(f"{source}: key '{key}' must be a fraction of the steps in [0, 1) or a whole number "
                              f"of steps, got {value!r}")
    for key in sorted(_CAPS):
        if getattr(cfg, key) == 0 or getattr(cfg, key) < -1:
            raise ParamsError(f"{source}: key '{key}' must be -1 (no cap) or > 0, got {getattr(cfg, key)!r}")
    for key in ("cpt_learning_rate", "sft_learning_rate"):  # 2e4 typed for 2e-4 trains to NaN, far from here
        if getattr(cfg, key) >= 1:
            raise ParamsError(f"{source}: key '{key}' must be < 1 (a learning rate, e.g. 2e-4), "
                              f"got {getattr(cfg, key)!r}")
    if cfg.uses_small_model:  # the small model's context; a local model brings its own
        for key in ("cpt_block_size", "sft_max_length"):
            if getattr(cfg, key) > cfg.max_position_embeddings:
                raise ParamsError(f"{source}: key '{key}' must be <= max_position_embeddings "
                                  f"({cfg.max_position_embeddings}), got {getattr(cfg, key)!r}")
    if cfg.max_new_tokens >= cfg.sft_max_length:  # prompts are cut to sft_max_length minus the answer
        raise ParamsError(f"{source}: key 'max_new_tokens' must be < sft_max_length ({cfg.sft_max_length}; the prompt "
                          f"needs room), got {cfg.max_new_tokens!r}")
    if not 0 <= cfg.seed <= SEED_MAX:
        raise ParamsError(f"{source}: key 'seed' must be in [0, {SEED_MAX}], got {cfg.seed!r}")
    for key, choices in _CHOICES.items():
        if getattr(cfg, key) not in choices:
            raise ParamsError(f"{source}: key '{key}' must be one of {choices}, got {getattr(cfg, key)!r}")
    for key in ("runs_root", "shared_data_dir", "custom_data_path", "base_model"):  # paths printed in messages
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in getattr(cfg, key)):
            raise ParamsError(f"{source}: key '{key}' must be a path without control characters, "
                              f"got {getattr(cfg, key)!r}")
    if not cfg.uses_small_model and not Path(cfg.base_model).is_absolute():  # a hub id, or a path that kernels
        # (run in notebooks/) would resolve elsewhere than the shell that validated it
        raise ParamsError(f"{source}: key 'base_model' must be 'small' or an absolute path to a local model directory "
                          f"(nothing is downloaded), got {cfg.base_model!r}")
    if not RUN_NAME.fullmatch(cfg.run_name):
        raise ParamsError(f"{source}: key 'run_name' must be a plain directory name (letters, digits and . _ + -, "
                          f"not starting with . _ + -), got {cfg.run_name!r}")
    if len(cfg.run_name) > RUN_NAME_MAX:
        raise ParamsError(f"{source}: key 'run_name' must be at most {RUN_NAME_MAX} characters, "
                          f"got {len(cfg.run_name)}")
    fr = cfg.split_fractions
    if (len(fr) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in fr)
            or abs(sum(fr) - 1) > 1e-6):
        raise ParamsError(f"{source}: key 'split_fractions' must be three non-negative numbers summing to 1, got {fr!r}")
    bad = [m for m in cfg.ablation_models if m not in _ABLATION]
    if bad or not cfg.ablation_models:
        raise ParamsError(f"{source}: key 'ablation_models' must be a non-empty subset of {_ABLATION}, got {cfg.ablation_models!r}")
    if cfg.hidden_size % cfg.num_attention_heads or cfg.num_attention_heads % cfg.num_key_value_heads:
        raise ParamsError(f"{source}: key 'num_attention_heads' must divide hidden_size and be a multiple of num_key_value_heads")
    if cfg.save_steps % cfg.eval_steps:  # best-checkpoint selection needs every save to have a dev loss
        raise ParamsError(f"{source}: key 'save_steps' must be a multiple of eval_steps ({cfg.eval_steps}), "
                          f"got {cfg.save_steps!r}")
    if cfg.sft_adapter == "full" and cfg.load_in_4bit:  # 4-bit weights cannot be trained directly
        raise ParamsError(f"{source}: key 'sft_adapter' cannot be 'full' with load_in_4bit: true (use 'new')")
    if not 0 < cfg.calibration_target <= 1:
        raise ParamsError(f"{source}: key 'calibration_target' must be an accuracy in (0, 1], "
                          f"got {cfg.calibration_target!r}")
    rates = cfg.robustness_rates
    if not rates or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < 1 for x in rates):
        raise ParamsError(f"{source}: key 'robustness_rates' must be a non-empty list of numbers in [0, 1), got {rates!r}")
    bad = [r for r in cfg.retrievers if r not in RETRIEVERS]
    if bad or not cfg.retrievers:
        raise ParamsError(f"{source}: key 'retrievers' must be a non-empty subset of {RETRIEVERS}, got {cfg.retrievers!r}")
    for key in ("retrieval_k_sweep", "efficiency_hidden_sizes"):
        vals = getattr(cfg, key)
        if not vals or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in vals):
            raise ParamsError(f"{source}: key '{key}' must be a non-empty list of positive integers, got {vals!r}")
    _check_target_modules(cfg, source)
    _check_arms(cfg, source)
    bad = [h for h in cfg.efficiency_hidden_sizes if h % cfg.num_attention_heads]
    if bad:
        raise ParamsError(f"{source}: key 'efficiency_hidden_sizes' must be multiples of num_attention_heads "
                          f"({cfg.num_attention_heads}), got {bad[0]!r}")
    return cfg
