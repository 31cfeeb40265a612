"""Params validation: every bad input gives one ParamsError line naming the key and the file."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from cancerllm.config import (
    FIELDS,
    RENAMED,
    REPO_ROOT,
    STAGES,
    Config,
    ParamsError,
    load_params,
    make_config,
    params_diff,
    parse_override,
    recorded_names,
)

PARAMS = sorted((REPO_ROOT / "params").glob("*.yaml"))
#: each profile's full Config (under the key names runs were recorded with), params hash and stage keys (for
#: the inputs below), as the code before "one source for every parameter" computed them: the contract that
#: loading a profile still gives the same Config and recorded runs keep their keys. Regenerated on purpose once
#: since, for one new field (attn_implementation, 2026-12-07), and for the tcga profile's SFT length (sft_max_steps
#: 800 -> 1600, save_steps and so eval_steps 200 -> 400, 2026-12-07): every other value is unchanged
EXPECTED = json.loads((REPO_ROOT / "tests" / "data" / "profiles_expected.json").read_text(encoding="utf-8"))
EXPECTED_INPUTS = {"notes.csv": "ab12"}


def _params_file(tmp_path: Path, body: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def _error(path: Path, overrides=None) -> str:
    with pytest.raises(ParamsError) as info:
        load_params(path, overrides)
    msg = str(info.value)
    assert "\n" not in msg, f"ParamsError must be one line, got {msg!r}"
    return msg


# ----------------------------------------------------------------------------- defaults and profiles
def test_defaults_are_valid_and_round_trip():
    cfg = make_config({})
    assert cfg == Config()
    assert make_config(Config().to_dict()) == Config()
    assert cfg.n_patients == 40 and cfg.data_source == "synthetic" and cfg.split_fractions == [0.7, 0.1, 0.2]
    assert cfg.run_dir == REPO_ROOT / "runs" / "tiny"
    assert cfg.uses_small_model is True


def test_profiles_found():
    assert [p.name for p in PARAMS] == ["demo.yaml", "paper.yaml", "tcga.yaml"]


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: p.name)
def test_every_profile_loads(path):
    cfg = load_params(path)
    assert isinstance(cfg, Config)
    assert cfg.run_name == path.stem


def test_profile_values():
    demo, paper, tcga = (load_params(REPO_ROOT / "params" / f"{n}.yaml") for n in ("demo", "paper", "tcga"))
    assert (demo.data_source, demo.show_examples) == ("synthetic", True)
    assert (tcga.data_source, tcga.show_examples) == ("tcga", False)
    # the paper's reported settings (cancerllm-paper-notes.md section 3)
    assert (paper.cpt_block_size, paper.cpt_learning_rate, paper.cpt_num_train_epochs) == (3000, 0.0002, 0.5)
    assert (paper.sft_max_length, paper.sft_learning_rate, paper.sft_num_train_epochs) == (4000, 0.0002, 5.0)
    assert (paper.bf16, paper.cpt_use_lora, paper.show_examples) == (True, True, False)
    # committed as the 7B Mistral shape (dry run without weights); users point base_model at local weights
    assert (paper.hidden_size, paper.num_hidden_layers, paper.num_key_value_heads, paper.vocab_size) == (4096, 32, 8, 32000)
    assert (paper.cpt_lora_r, paper.cpt_lora_alpha, paper.cpt_lora_dropout, paper.sft_adapter) == (8, 16, 0.05, "continue")


def test_empty_file_gives_defaults(tmp_path):
    assert load_params(_params_file(tmp_path, "# only a comment\n")) == Config()


# ----------------------------------------------------------------------------- errors
def test_unknown_key_names_key_and_file(tmp_path):
    path = _params_file(tmp_path, "n_patients: 10\nn_patient: 12\n")
    assert _error(path) == f"{path}: unknown key 'n_patient' (valid keys are the Config fields in cancerllm/config/fields.py)"


def test_unknown_key_from_override_names_file(tmp_path):
    path = _params_file(tmp_path, "n_patients: 10\n")
    assert _error(path, ["learnin_rate=0.1"]) == (
        f"{path}: unknown key 'learnin_rate' (valid keys are the Config fields in cancerllm/config/fields.py)"
    )


@pytest.mark.parametrize(
    "line, expected",
    [
        ('n_patients: "ten"', "key 'n_patients' must be int, got str 'ten'"),
        ("bf16: 1", "key 'bf16' must be bool, got int 1"),
        ("n_patients: 10.5", "key 'n_patients' must be int, got float 10.5"),
        ("n_patients: true", "key 'n_patients' must be int, got bool True"),
        ("cpt_learning_rate: true", "key 'cpt_learning_rate' must be float, got bool True"),
        ("run_name: 5", "key 'run_name' must be str, got int 5"),
        ("split_fractions: 0.5", "key 'split_fractions' must be list, got float 0.5"),
        ("seed: null", "key 'seed' must be int, got NoneType None"),
    ],
)
def test_wrong_type_names_key_file_and_type(tmp_path, line, expected):
    path = _params_file(tmp_path, line + "\n")
    assert _error(path) == f"{path}: {expected}"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("n_patients: 0", "key 'n_patients' must be > 0, got 0"),
        ("cpt_block_size: -5", "key 'cpt_block_size' must be > 0, got -5"),
        ("cpt_learning_rate: 0.0", "key 'cpt_learning_rate' must be > 0, got 0.0"),
        ("cpt_max_steps: 0", "key 'cpt_max_steps' must be -1 (no cap) or > 0, got 0"),
        ("max_eval_instances: -2", "key 'max_eval_instances' must be -1 (no cap) or > 0, got -2"),
        ("ocr_noise_rate: 1.0", "key 'ocr_noise_rate' must be in [0, 1), got 1.0"),
        ("save_steps: 7\neval_steps: 5", "key 'save_steps' must be a multiple of eval_steps (5), got 7"),
        ("eval_steps: 0", "key 'eval_steps' must be > 0, got 0"),
        ("robustness_rates: [0.1, 1.0]", "key 'robustness_rates' must be a non-empty list of numbers in [0, 1), got [0.1, 1.0]"),
        ("retrievers: [bm25, dense]",
         "key 'retrievers' must be a non-empty subset of ['bm25', 'tfidf', 'char_ngram'], got ['bm25', 'dense']"),
        ("retrieval_k_sweep: [0, 2]", "key 'retrieval_k_sweep' must be a non-empty list of positive integers, got [0, 2]"),
        ("efficiency_hidden_sizes: [30]",
         "key 'efficiency_hidden_sizes' must be multiples of num_attention_heads (4), got 30"),
        ("retrieval_k: 0", "key 'retrieval_k' must be > 0, got 0"),
        ("robustness_max_instances: 0", "key 'robustness_max_instances' must be -1 (no cap) or > 0, got 0"),
        ("sft_adapter: full\nload_in_4bit: true",
         "key 'sft_adapter' cannot be 'full' with load_in_4bit: true (use 'new')"),
    ],
)
def test_out_of_range_values(tmp_path, line, expected):
    path = _params_file(tmp_path, line + "\n")
    assert _error(path) == f"{path}: {expected}"


def test_bad_choices(tmp_path):
    path = _params_file(tmp_path, "data_source: foo\n")
    assert _error(path) == f"{path}: key 'data_source' must be one of ['synthetic', 'tcga', 'custom'], got 'foo'"
    path = _params_file(tmp_path, "sft_adapter: reuse\n", "q.yaml")
    assert _error(path) == f"{path}: key 'sft_adapter' must be one of ['new', 'continue', 'full'], got 'reuse'"


@pytest.mark.parametrize(
    "value",
    ["[0.7, 0.1, 0.1]", "[0.5, 0.5]", "[1.2, -0.1, -0.1]", "[0.7, 0.1, x]"],
)
def test_split_fractions_must_sum_to_one(tmp_path, value):
    path = _params_file(tmp_path, f"split_fractions: {value}\n")
    msg = _error(path)
    assert msg.startswith(f"{path}: key 'split_fractions' must be three non-negative numbers summing to 1, got [")


def test_split_fractions_integer_and_exact_ok(tmp_path):
    assert load_params(_params_file(tmp_path, "split_fractions: [1, 0, 0]\n")).split_fractions == [1, 0, 0]


def test_ablation_models_checked(tmp_path):
    path = _params_file(tmp_path, "ablation_models: [no_cpt, big_cpt]\n")
    assert _error(path) == (
        f"{path}: key 'ablation_models' must be a non-empty subset of ['no_cpt', 'general_cpt', 'cancer_cpt'], "
        "got ['no_cpt', 'big_cpt']"
    )
    path = _params_file(tmp_path, "ablation_models: []\n", "q.yaml")
    assert "key 'ablation_models' must be a non-empty subset" in _error(path)


def test_heads_must_divide(tmp_path):
    path = _params_file(tmp_path, "hidden_size: 64\nnum_attention_heads: 3\n")
    assert _error(path) == (
        f"{path}: key 'num_attention_heads' must divide hidden_size and be a multiple of num_key_value_heads"
    )


def test_missing_params_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert _error(path) == f"{path}: params file not found"


def test_invalid_yaml(tmp_path):
    path = _params_file(tmp_path, "n_patients: [1, 2\nseed: 3\n")
    msg = _error(path)
    assert msg.startswith(f"{path}: not valid YAML (")
    assert msg.endswith("Error)")


def test_non_utf8_params(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"run_name: caf\xe9\n")
    assert _error(path) == f"{path}: not valid YAML (UnicodeDecodeError)"


def test_top_level_must_be_mapping(tmp_path):
    path = _params_file(tmp_path, "- n_patients\n- 10\n")
    assert _error(path) == f"{path}: expected a mapping of key: value at the top level"


# ----------------------------------------------------------------------------- overrides and coercion
def test_set_overrides_are_yaml_parsed(tmp_path):
    path = _params_file(tmp_path, "n_patients: 100\nrun_name: a\n")
    cfg = load_params(path, ["n_patients=12", "bf16=true", "run_name=b", "split_fractions=[0.5, 0.25, 0.25]"])
    assert cfg.n_patients == 12 and type(cfg.n_patients) is int
    assert cfg.bf16 is True
    assert cfg.run_name == "b"
    assert cfg.split_fractions == [0.5, 0.25, 0.25]


def test_override_wrong_type_names_file(tmp_path):
    path = _params_file(tmp_path, "n_patients: 100\n")
    assert _error(path, ["n_patients=ten"]) == f"{path}: key 'n_patients' must be int, got str 'ten'"


def test_parse_override():
    assert parse_override(" seed = 7") == ("seed", 7)
    assert parse_override("run_name=a=b") == ("run_name", "a=b")
    with pytest.raises(ParamsError, match=r"^--set seed: expected key=value$"):
        parse_override("seed")


def test_int_accepted_for_float_keys(tmp_path):
    cfg = load_params(_params_file(tmp_path, "sft_max_grad_norm: 1\nsft_num_train_epochs: 3\n"))
    assert cfg.sft_max_grad_norm == 1.0 and type(cfg.sft_max_grad_norm) is float
    assert cfg.sft_num_train_epochs == 3.0 and type(cfg.sft_num_train_epochs) is float


def test_context_bounds_follow_the_small_model_only():
    """cpt_block_size and sft_max_length are bounded by max_position_embeddings for the small model, which that
    key builds; a local base model brings its own context (the paper profile's 7B has 32768)."""
    long = {"cpt_block_size": 3000, "sft_max_length": 4000, "max_position_embeddings": 512}
    with pytest.raises(ParamsError, match="key 'cpt_block_size' must be <= max_position_embeddings"):
        make_config(long)
    assert make_config({**long, "base_model": "/models/mistral-7b"}).sft_max_length == 4000


def test_make_config_source_in_message():
    with pytest.raises(ParamsError) as info:
        make_config({"zzz": 1}, source="mine.yaml")
    assert str(info.value) == "mine.yaml: unknown key 'zzz' (valid keys are the Config fields in cancerllm/config/fields.py)"


def test_notebook_parameters_load_through_load_params(tmp_path):
    """A notebook's two parameters: no profile = the Config defaults; `overrides` on top of either."""
    assert load_params(None, {}) == Config() == load_params()
    cfg = load_params(None, {"n_patients": 12, "seed": 3})
    assert (cfg.n_patients, cfg.seed) == (12, 3)
    assert dataclasses.replace(cfg, n_patients=40, seed=42) == Config()
    with pytest.raises(ParamsError, match=r"^notebook parameters: key 'n_patients' must be > 0, got -1$"):
        load_params(None, {"n_patients": -1})
    path = _params_file(tmp_path, "n_patients: 100\nseed: 5\n")
    assert (load_params(path, {"n_patients": 12}).n_patients, load_params(path, {"n_patients": 12}).seed) == (12, 5)
    with pytest.raises(ParamsError, match=r"^notebook parameters: overrides must be a dict of key: value, got str$"):
        load_params(None, "n_patients=3")


# ----------------------------------------------------------------------------- paths and hash
def test_paths_resolve_against_repo_root(tmp_path):
    cfg = make_config({"runs_root": "elsewhere", "run_name": "r1", "shared_data_dir": "../shared/data"})
    assert cfg.run_dir == REPO_ROOT / "elsewhere" / "r1"
    assert cfg.data_dir == (REPO_ROOT / "../shared/data").resolve()
    cfg = make_config({"runs_root": str(tmp_path), "shared_data_dir": str(tmp_path / "d")})
    assert cfg.run_dir == tmp_path / "tiny"
    assert cfg.data_dir == tmp_path / "d"


def test_tiny_cfg_fixture(tiny_cfg, tmp_path):
    assert tiny_cfg.run_dir == tmp_path / "runs" / "tiny"
    assert (tiny_cfg.n_patients, tiny_cfg.n_general_notes) == (40, 20)


def test_params_hash_stable_and_sensitive():
    base = Config().params_hash()
    assert len(base) == 16 and int(base, 16) >= 0
    assert Config().params_hash() == base
    assert make_config(Config().to_dict()).params_hash() == base
    assert make_config({"sft_max_grad_norm": 1}).params_hash() == make_config({"sft_max_grad_norm": 1.0}).params_hash()
    changed = {
        make_config({name: value}).params_hash()
        for name, value in [("seed", 43), ("n_patients", 41), ("bf16", True), ("run_name", "other"),
                            ("split_fractions", [0.6, 0.2, 0.2])]
    }
    assert base not in changed and len(changed) == 5


def test_every_field_has_a_supported_type():
    assert {f.type for f in FIELDS.values()} <= {"str", "int", "float", "bool", "list", "dict"}


def test_small_model_linear_names_are_the_models():
    """The names lora_target_modules is checked against are those PEFT sees on the small model."""
    import torch
    from transformers import AutoModelForCausalLM, MistralConfig

    from cancerllm.config import _SMALL_LINEAR

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(MistralConfig(
            vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1))
    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n != "lm_head"]
    assert linear == _SMALL_LINEAR


# ----------------------------------------------------------------------------- one source for every parameter
@pytest.mark.parametrize("name", ["demo", "paper", "tcga"])
def test_profile_gives_the_recorded_config(name):
    """Every field of the profile's Config, its params hash and its stage keys are those recorded before the
    profiles were cut to their differences and keys were renamed (tests/data/profiles_expected.json)."""
    from cancerllm.runner import stage_key

    cfg = load_params(REPO_ROOT / "params" / f"{name}.yaml")
    got, want = recorded_names(cfg.to_dict()), EXPECTED[name]["config"]
    assert list(want) == list(recorded_names(Config().to_dict()))  # the same fields, in the same order
    diff = {k: (got[k], want[k]) for k in want if got[k] != want[k] or type(got[k]) is not type(want[k])}
    assert diff == {}, "(now, recorded)"
    assert cfg.params_hash() == EXPECTED[name]["params_hash"]
    assert {s: stage_key(cfg.to_dict(), EXPECTED_INPUTS, s) for s in STAGES} == EXPECTED[name]["stage_keys"]


def test_defaults_give_the_recorded_config():
    from cancerllm.runner import stage_key

    assert recorded_names(Config().to_dict()) == EXPECTED["defaults"]["config"]
    assert Config().params_hash() == EXPECTED["defaults"]["params_hash"]
    assert {s: stage_key(Config().to_dict(), EXPECTED_INPUTS, s) for s in STAGES} == EXPECTED["defaults"]["stage_keys"]


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: p.name)
def test_profile_lists_only_what_differs_from_the_defaults(path):
    keys = list(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert [k for k in keys if k not in FIELDS] == [], "keys that are not Config fields"
    assert [k for k in keys if k in RENAMED] == [], "old key names"
    cfg = load_params(path)
    assert sorted(keys) == sorted(params_diff(cfg)), "a key set to its default, or a difference not listed"
    assert keys == [k for k in FIELDS if k in keys], "keys in Config order"


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: p.name)
def test_profile_says_why_each_key_differs(path):
    """The documentation of a key is its Config field's comment; a profile notes why it sets the key."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if re.match(r"^[a-z_]\w*:", line)]
    assert lines and [line for line in lines if not re.search(r"\s#\s*\S", line)] == []


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: p.name)
def test_notebook_parameters_rebuild_the_runners_config(path):
    """The runner passes a notebook no profile and its params as `overrides`; the notebook's loader then builds
    exactly the runner's Config."""
    from cancerllm.runner import notebook_parameters

    cfg = load_params(path, ["seed=7", "dry_run=true"])
    nb = notebook_parameters(cfg)
    assert set(nb) == {"params_file", "overrides"} and nb["params_file"] is None
    assert load_params(nb["params_file"], nb["overrides"]) == cfg
    assert notebook_parameters(Config()) == {"params_file": None, "overrides": {}}


# ----------------------------------------------------------------------------- renamed keys
def test_renamed_keys_are_trl_names_behind_the_phase_prefix():
    assert RENAMED == {"lora_r": "cpt_lora_r", "lora_alpha": "cpt_lora_alpha", "lora_dropout": "cpt_lora_dropout",
                       "cpt_warmup_ratio": "cpt_warmup_steps", "sft_warmup_ratio": "sft_warmup_steps"}
    assert set(RENAMED.values()) <= set(FIELDS) and not set(RENAMED) & set(FIELDS)


def test_old_key_names_still_load_with_a_warning(tmp_path):
    path = _params_file(tmp_path, "lora_r: 4\nsft_warmup_ratio: 0.1\n")
    with pytest.warns(FutureWarning) as record:
        cfg = load_params(path)
    assert (cfg.cpt_lora_r, cfg.sft_warmup_steps) == (4, 0.1)
    assert [str(w.message) for w in record] == [
        f"{path}: key 'lora_r' is deprecated, renamed 'cpt_lora_r' (same meaning; the old name still works for now)",
        (f"{path}: key 'sft_warmup_ratio' is deprecated, renamed 'sft_warmup_steps' (same meaning; the old name "
         f"still works for now)")]
    with pytest.warns(FutureWarning) as record:
        assert load_params(path, ["lora_alpha=8"]).cpt_lora_alpha == 8  # an old name in --set too
    assert "key 'lora_alpha' is deprecated, renamed 'cpt_lora_alpha'" in str(record[-1].message)
    with pytest.warns(FutureWarning):
        assert load_params(path, ["cpt_lora_r=2"]).cpt_lora_r == 2  # the override wins over the file's old name


def test_old_and_new_name_together_are_refused(tmp_path):
    path = _params_file(tmp_path, "lora_r: 4\ncpt_lora_r: 8\n")
    assert _error(path) == f"{path}: key 'lora_r' is the old name of 'cpt_lora_r', which is given too; keep only 'cpt_lora_r'"


def test_runs_recorded_with_old_names_keep_their_keys_and_load():
    """A manifest written before the rename stores the old names: its stage keys equal the new code's for the same
    Config, and make_config (chapter 30's external validation, the gate) still reads it."""
    from cancerllm.runner import stage_key

    cfg = load_params(REPO_ROOT / "params" / "paper.yaml")
    old = recorded_names(cfg.to_dict())
    assert "lora_r" in old and "cpt_lora_r" not in old
    for stage in STAGES:
        assert stage_key(old, EXPECTED_INPUTS, stage) == stage_key(cfg.to_dict(), EXPECTED_INPUTS, stage)
    with pytest.warns(FutureWarning):
        assert make_config(old, source="manifest.json") == cfg


@pytest.mark.parametrize("value, ok", [(0.0, True), (0.5, True), (10, True), (10.0, True), (1.5, False),
                                       (-0.1, False), (1, True)])
def test_warmup_steps_is_a_fraction_or_whole_steps(tmp_path, value, ok):
    """transformers' warmup_steps: a float in [0, 1) is a fraction of the steps, a whole number >= 1 a count."""
    path = _params_file(tmp_path, f"cpt_warmup_steps: {value}\n")
    if ok:
        assert load_params(path).cpt_warmup_steps == value
    else:
        assert _error(path) == (f"{path}: key 'cpt_warmup_steps' must be a fraction of the steps in [0, 1) or a whole "
                                f"number of steps, got {float(value)!r}")


def test_eval_steps_left_out_means_every_checkpoint():
    """A profile that sets save_steps and not eval_steps gets dev loss at every checkpoint (the demo, tcga and
    paper profiles rely on it); params_diff leaves the implied key out, and the round trip holds."""
    cfg = make_config({"save_steps": 150})
    assert cfg.eval_steps == 150 and "eval_steps" not in params_diff(cfg) and make_config(params_diff(cfg)) == cfg
    other = make_config({"save_steps": 150, "eval_steps": 50})
    assert other.eval_steps == 50 and params_diff(other)["eval_steps"] == 50 and make_config(params_diff(other)) == other
    assert make_config({}).eval_steps == 5 == make_config({}).save_steps
