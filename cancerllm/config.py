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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from .errors import ParamsError

REPO_ROOT = Path(__file__).resolve().parent.parent
STAGES = ["00_data_profiling", "10_continued_pretraining", "20_instruction_tuning", "30_evaluation",
          "35_calibration", "40_robustness", "50_efficiency", "60_retrieval"]
RETRIEVERS = ["bm25", "tfidf", "char_ngram"]
DATA_SOURCES = ["synthetic", "tcga", "custom"]



@dataclass
class Config:
    """Every parameter of a run, with its default and its documentation (the comment after each field: what it does
    and, where it differs, the paper's value). The defaults are the tiny profile the notebooks run with by
    themselves; params/*.yaml list only the keys where a profile differs from them."""

    # --- run -----------------------------------------------------------------------------------
    run_name: str = "tiny"  # run directory name under runs_root
    runs_root: str = "runs"  # where run directories go (relative to the repo root unless absolute)
    seed: int = 42  # one seed for data generation, splits, model init and training
    # --- data ----------------------------------------------------------------------------------
    data_source: str = "synthetic"  # synthetic | tcga | custom
    n_patients: int = 40  # synthetic cohort size (patients)
    ocr_noise_rate: float = 0.01  # synthetic OCR-style character noise rate
    n_general_notes: int = 40  # synthetic general (non-cancer) clinical notes for the general-CPT corpus
    n_unlabelled_patients: int = 0  # synthetic: extra patients whose notes (never their labels) join the cancer CPT corpus
    shared_data_dir: str = "../shared/data"  # folder holding tcga-reports/ and mtsamples/
    custom_data_path: str = ""  # your own notes (CSV/JSONL/Parquet), used when data_source = custom
    split_fractions: list = field(default_factory=lambda: [0.7, 0.1, 0.2])  # train/dev/test by patient
    show_examples: bool = True  # print raw note text in the book (honoured for synthetic data only)
    # --- model (the shape keys build the "small" model; a local base_model brings its own) -------
    base_model: str = "small"  # "small" = Mistral config built below, or an absolute path to a local HF causal LM
    hidden_size: int = 64  # small model: width
    num_hidden_layers: int = 2  # small model: decoder layers
    num_attention_heads: int = 4  # small model: attention heads (divides hidden_size)
    num_key_value_heads: int = 2  # small model: key/value heads (grouped-query attention; divides the heads)
    intermediate_size: int = 128  # small model: MLP width
    max_position_embeddings: int = 512  # small model: context length (bounds cpt_block_size and sft_max_length)
    vocab_size: int = 1000  # BPE vocabulary trained on the training corpus with `tokenizers` (small model)
    initializer_range: float = 0.2  # small model's init std; larger than HF's 0.02 so LoRA on a small random model can learn
    # --- continued pretraining (CPT); TRL/PEFT fields keep their names behind cpt_ -------------------
    cpt_use_lora: bool = False  # LoRA CPT (cpt_lora_*) instead of every weight; paper: True (LoRA CPT)
    cpt_block_size: int = 128  # tokens per packed block (TRL max_length; the reference's block_size); paper: 3000
    cpt_learning_rate: float = 0.001  # paper: 2e-4
    cpt_num_train_epochs: float = 1.0  # paper: 0.5
    cpt_max_steps: int = 10  # -1 = use epochs; caps CPU cost; same budget for both CPT corpora
    cpt_per_device_train_batch_size: int = 8  # paper: 4 per device x 2 GPUs
    cpt_gradient_accumulation_steps: int = 1  # optimizer step every N batches
    cpt_warmup_steps: float = 0.05  # transformers' warmup_steps: < 1 = fraction of the steps, else a step count (was cpt_warmup_ratio)
    cpt_weight_decay: float = 0.01  # AdamW weight decay
    cpt_lora_r: int = 8  # LoRA rank when cpt_use_lora (was lora_r)
    cpt_lora_alpha: int = 16  # LoRA alpha when cpt_use_lora (was lora_alpha)
    cpt_lora_dropout: float = 0.05  # LoRA dropout when cpt_use_lora (was lora_dropout)
    lora_target_modules: str = "all-linear"  # both phases' LoRA layers; all-linear = PEFT: every nn.Linear except lm_head, else a regex of whole layer names
    # --- instruction tuning (SFT); TRL/PEFT fields keep their names behind sft_ ----------------------
    sft_learning_rate: float = 0.002  # paper: 2e-4
    sft_num_train_epochs: float = 1.0  # paper: 5
    sft_max_steps: int = 10  # -1 = use epochs
    sft_per_device_train_batch_size: int = 8  # also the dev-loss batch; paper: 1
    sft_gradient_accumulation_steps: int = 1  # paper: 4
    sft_max_length: int = 384  # tokens per tuning example (prompts are cut to fit the answer); paper: 4000
    sft_warmup_steps: float = 0.03  # as cpt_warmup_steps (was sft_warmup_ratio)
    sft_max_grad_norm: float = 0.3  # gradient clipping
    sft_completion_only_loss: bool = True  # loss on the answer only; paper's reference: False (loss on the whole sequence)
    sft_adapter: str = "new"  # new = fresh LoRA on the merged CPT model | continue = keep training the CPT adapter (the reference code's TRL-0.7 quirk) | full = every weight
    sft_lora_r: int = 16  # fresh SFT LoRA (sft_adapter new, every external arm, chapter 50's LoRA-vs-full); paper script states 64 (ignored by its TRL version)
    sft_lora_alpha: int = 32  # LoRA alpha of the fresh SFT LoRA
    sft_lora_dropout: float = 0.05  # LoRA dropout of the fresh SFT LoRA
    save_steps: int = 5  # checkpoint every N optimizer steps (CPT and SFT; a multiple of eval_steps)
    eval_steps: int = 5  # dev loss every N steps (best checkpoint by dev loss)
    max_sft_examples: int = 400  # cap on tuning examples (sentence-level QA + diagnosis; CPU budget); -1 = all
    prompt_style: str = "alpaca"  # alpaca = the reference's template (paper) | short = no preamble (~60 fewer tokens per passage)
    sft_negatives: float = 2.0  # not-relevant passages per passage that states the value (sentence-level QA)
    sft_diagnosis_repeat: int = 1  # each diagnosis example appears this many times in the SFT set (paper: once)
    sft_diagnosis_views: bool = False  # also tune on each input section alone and shuffled, same label (ours; not in the paper)
    ablation_models: list = field(default_factory=lambda: ["no_cpt", "general_cpt", "cancer_cpt"])  # the ablation arms trained (subset of these)
    arms: dict = field(default_factory=dict)  # name -> absolute path of a local causal LM (safetensors, own tokenizer), LoRA-tuned like the ablation; README 'Your own models as arms'
    arms_zero_shot: bool = False  # also score each arm untuned in chapter 30 ("<arm>_zero_shot"; its own chat template where it has one)
    arms_few_shot: int = 0  # also score each arm untuned with this many worked examples (bm25-retrieved training cases) in chapter 30 ("<arm>_few_shot"); 0 = no
    # --- precision and hardware ----------------------------------------------------------------
    bf16: bool = False  # fp32 is deterministic on CPU; paper: True
    gradient_checkpointing: bool = False  # paper: True
    load_in_4bit: bool = False  # paper: True (needs bitsandbytes and a GPU)
    dry_run: bool = False  # build trainers for the configured shape without loading weights or training
    # --- evaluation ----------------------------------------------------------------------------
    max_new_tokens: int = 24  # paper: 50
    phenotype_decoding: str = "copy"  # copy = each passage answer constrained to a phrase of its passage (ours) | free = the paper's greedy decoding
    eval_batch_size: int = 16  # generation batch size when scoring
    max_eval_instances: int = 120  # cap on scored test instances (both tasks, balanced across fields); -1 = all
    bootstrap_samples: int = 200  # bootstrap resamples for 95% CIs
    # --- calibration and abstention (ours; the paper reports no confidence) ----------------------
    calibration_target: float = 0.95  # accuracy the defer-to-a-human threshold aims for (chosen on dev, applied to test)
    calibration_bins: int = 10  # equal-width confidence bins of the ECE and the reliability diagrams
    calibration_max_dev_instances: int = -1  # dev instances the threshold and temperature are fitted on; -1 = all
    # --- robustness (our testbed design; the paper's was not published) -----------------------
    robustness_rates: list = field(default_factory=lambda: [0.0, 0.1, 0.3])  # misspelling rates: fraction of words edited
    robustness_ocr: bool = True  # also sweep OCR-style confusions (l/1, O/0, rn/m, I/l, S/5, cl/d, e/c) at the same rates
    robustness_max_instances: int = 40  # test instances per perturbation (both tasks, balanced); -1 = all
    counterfactual_max_instances: int = -1  # counterfactual questions (balanced across fields); -1 = every editable test question
    # --- efficiency ----------------------------------------------------------------------------
    efficiency_hidden_sizes: list = field(default_factory=lambda: [32, 64, 128])  # scaling sweep: model widths (layers and heads as above)
    efficiency_steps: int = 4  # SFT steps per model size in the scaling sweep
    efficiency_extraction_reports: int = 2  # test reports chapter 50's extraction-cost section extracts (reference loop on a quarter of them)
    # --- retrieval augmentation (our design; the paper's was not published: five unnamed retrievers) ---
    retrievers: list = field(default_factory=lambda: ["bm25", "tfidf", "char_ngram"])  # bm25 (bm25s) | tfidf (word, cosine) | char_ngram (char 3-5-grams, cosine)
    retrieval_k: int = 2  # retrieved training cases put in the prompt as worked examples
    retrieval_k_sweep: list = field(default_factory=lambda: [1, 2])  # k values for the k-sweep plot
    retrieval_max_instances: int = 40  # test instances scored with retrieval (both tasks, balanced); -1 = all

    # ------------------------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        root = Path(self.runs_root)
        root = root if root.is_absolute() else REPO_ROOT / root
        return root / self.run_name

    def stage_path(self, stage: str) -> Path:
        """Where `stage`'s outputs live. While the runner executes that stage it sets CANCERLLM_STAGING to
        "<stage>=<dir>" and the stage writes into the staging dir, moved into place only when the notebook
        succeeds — so a crash never leaves half-written results where later stages or the book read them, and a
        re-run resumes from the checkpoints kept in staging."""
        staging = os.environ.get("CANCERLLM_STAGING", "")
        name, _, where = staging.partition("=")
        return Path(where) if name == stage and where else self.run_dir / stage

    @property
    def data_dir(self) -> Path:
        p = Path(self.shared_data_dir)
        return p if p.is_absolute() else (REPO_ROOT / p).resolve()

    @property
    def custom_path(self) -> Path:
        """custom_data_path resolved like shared_data_dir (relative to the repo root), so a path that validates
        from the shell also resolves inside a notebook kernel (which runs in notebooks/)."""
        p = Path(self.custom_data_path)
        return p if p.is_absolute() else (REPO_ROOT / p).resolve()

    @property
    def uses_small_model(self) -> bool:
        return self.base_model == "small"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def params_hash(self) -> str:
        """Hash of the params under the names runs were recorded with (`recorded_names`)."""
        blob = json.dumps(recorded_names(self.to_dict()), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


FIELDS = {f.name: f for f in dataclasses.fields(Config)}
#: keys renamed since runs were recorded, old name -> new name (CPT's LoRA keys gained the phase prefix SFT's had;
#: the warm-up keys are named after transformers' `warmup_steps`, which they feed). A profile, an override or a
#: recorded manifest may still use an old name: it is mapped to the new one with a FutureWarning.
RENAMED = {"lora_r": "cpt_lora_r", "lora_alpha": "cpt_lora_alpha", "lora_dropout": "cpt_lora_dropout",
           "cpt_warmup_ratio": "cpt_warmup_steps", "sft_warmup_ratio": "sft_warmup_steps"}
_RECORDED = {new: old for old, new in RENAMED.items()}


def recorded_names(params: dict) -> dict:
    """`params` with renamed keys under their old names: what `Config.params_hash` and the runner's stage keys
    hash, so a run recorded before a rename keeps its hash and stage keys (a recorded manifest's params, which
    use the old names, pass through unchanged)."""
    return {_RECORDED.get(k, k): v for k, v in params.items()}


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
    return {k: v for k, v in cfg.to_dict().items() if v != defaults[k] or type(v) is not type(defaults[k])}

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
                          f"cancerllm/config.py)")
    values = {k: _check_type(k, v, source) for k, v in params.items()}
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
