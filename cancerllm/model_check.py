"""A local base model checked before any stage starts, from its files alone (no weights loaded, no torch).

`validate`, `run` and `run` with `dry_run: true` all call `check_model_dir` on a base_model that is not "small",
so a model that a stage would fail to load (or would load only by running its own code) is one ModelError
naming the file. The checks mirror what loading asks for: transformers' own config class (trust_remote_code is
never enabled), a causal-LM head, safetensors weights and a tokenizer. Used by cancerllm/cli.py and
cancerllm/dryrun.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ModelError

#: files AutoTokenizer can build a tokenizer from (the base model's own tokenizer is used for a local model)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def check_model_dir(path: Path) -> None:
    """One ModelError (one line naming the directory or file) unless `path` is a local causal-LM directory
    that loads without custom code: config.json a JSON object of a model type transformers knows, a
    …ForCausalLM architecture, readable .safetensors weights (pickle .bin weights are refused) and a tokenizer."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelError(f"{path}: is a file; base_model must be 'small' or a local causal LM directory")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{path}: not a model directory (no config.json); base_model must be 'small' or a local causal LM")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelError(f"{config_path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{config_path}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    if not isinstance(config, dict):
        raise ModelError(f"{config_path}: expected a JSON object, got {type(config).__name__}")
    if "auto_map" in config:  # the model's own Python code: never run (trust_remote_code stays off)
        raise ModelError(f"{config_path}: asks for custom code (auto_map); trust_remote_code is never enabled, "
                         f"use a model that transformers supports natively")
    arch = config.get("architectures") or []
    if not isinstance(arch, list) or not any(isinstance(a, str) and a.endswith("ForCausalLM") for a in arch):
        raise ModelError(f"{path}: config.json architectures {arch} is not a causal LM (…ForCausalLM)")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        raise ModelError(f"{path}: no .safetensors weights (pickle .bin weights are refused)")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = config.get("model_type")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise ModelError(f"{config_path}: model_type {model_type!r} is not one transformers knows "
                         f"(custom code is never run)")
    from safetensors import SafetensorError, safe_open

    for file in weights:
        try:
            with safe_open(str(file), framework="numpy"):  # reads the header only
                pass
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{file}: not a readable safetensors file ({str(exc).splitlines()[0][:120]})") from None
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ModelError(f"{path}: no tokenizer ({' or '.join(TOKENIZER_FILES)})")


#: above this many parameters a model built from the config with random weights is refused (``check_base``): the
#: paper profile's 7B shape is for a local copy of the paper's base model, or a dry run; the largest random models
#: this project has trained on purpose are 0.78B (the GPU check of the paper path) and 146M.
RANDOM_INIT_LIMIT = 1_000_000_000


def small_model_parameters(cfg) -> int:
    """Parameters of the Mistral that ``modeling.small_config`` builds for `cfg` (untied embeddings and LM head,
    grouped-query attention, SwiGLU MLP, RMSNorm), computed from the config alone."""
    h, layers, vocab = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    kv = cfg.num_key_value_heads * (h // cfg.num_attention_heads)
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * cfg.intermediate_size + 2 * h
    return 2 * vocab * h + layers * per_layer + h


def check_base(cfg) -> None:
    """Before any stage: ``check_model_dir`` for a local base model; for `base_model: small`, one ModelError when
    the configured shape is a randomly initialised model over RANDOM_INIT_LIMIT parameters (params/paper.yaml as
    shipped) unless it is a dry run, which builds no weights."""
    if not cfg.uses_small_model:
        check_model_dir(Path(cfg.base_model))
        return
    n = small_model_parameters(cfg)
    if n > RANDOM_INIT_LIMIT and not cfg.dry_run:
        raise ModelError(
            f"base_model 'small' with hidden_size {cfg.hidden_size} and {cfg.num_hidden_layers} layers would train a "
            f"randomly initialised {n / 1e9:.1f}B-parameter model: set base_model to a local model directory (e.g. "
            f"your copy of Mistral-7B-Instruct-v0.1), or add --set dry_run=true to check the setup without weights")


def check_arms(cfg) -> None:
    """``check_model_dir`` on every external arm (params key `arms`), before any stage: one ModelError naming the
    arm and what is wrong with its directory (missing, no config, pickle-only weights, custom code, no tokenizer)."""
    for name, path in cfg.arms.items():
        if not Path(path).exists():
            raise ModelError(f"arms: {name}: {path}: no such directory (an arm is a local model directory; "
                             f"nothing is downloaded)")
        try:
            check_model_dir(Path(path))
        except ModelError as exc:
            raise ModelError(f"arms: {name}: " + str(exc).split("; base_model must be")[0]) from None


def check_models(cfg) -> None:
    """Every model a run would load, checked from its files before anything is written: the base (``check_base``)
    and the external arms (``check_arms``). Called by cancerllm/runner.py and the CLI's validate and dry run."""
    check_base(cfg)
    check_arms(cfg)
