"""Validated run configuration: one flat params YAML -> one `Config` object.

Flat on purpose: papermill merges parameters shallowly, and alignment-handbook style keys are named after
the TRL/PEFT fields they feed (`learning_rate` -> `cpt_learning_rate`, `lora_r`, ...). Every notebook's
`parameters` cell carries exactly these keys with the defaults below (tiny, so "run all" takes seconds);
tests/test_drift.py checks that YAML keys, these fields and the notebook parameters agree.

Validation happens before any kernel starts: an unknown key, a wrong type, a bad value or a missing path
raises `ParamsError` with one line naming the key and the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import typing
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
    # --- model ---------------------------------------------------------------------------------
    base_model: str = "small"  # "small" = Mistral config built below, or a local path to a HF causal LM
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 512
    vocab_size: int = 1000  # BPE vocabulary trained on the training corpus with `tokenizers`
    initializer_range: float = 0.2  # larger than HF's 0.02 so LoRA on a small random model can learn
    # --- continued pretraining (CPT) -----------------------------------------------------------
    cpt_use_lora: bool = False  # paper: True (LoRA CPT)
    cpt_block_size: int = 128  # paper: 3000
    cpt_learning_rate: float = 0.001  # paper: 2e-4
    cpt_num_train_epochs: float = 1.0  # paper: 0.5
    cpt_max_steps: int = 10  # -1 = use epochs; caps CPU cost; same budget for both CPT corpora
    cpt_per_device_train_batch_size: int = 8  # paper: 4 per device x 2 GPUs
    cpt_gradient_accumulation_steps: int = 1
    cpt_warmup_ratio: float = 0.05
    cpt_weight_decay: float = 0.01
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: str = "all-linear"  # PEFT: every nn.Linear except lm_head
    # --- instruction tuning (SFT) --------------------------------------------------------------
    sft_learning_rate: float = 0.002  # paper: 2e-4
    sft_num_train_epochs: float = 1.0  # paper: 5
    sft_max_steps: int = 10  # -1 = use epochs
    sft_per_device_train_batch_size: int = 8  # paper: 1
    sft_gradient_accumulation_steps: int = 1  # paper: 4
    sft_max_length: int = 384  # paper: 4000
    sft_warmup_ratio: float = 0.03
    sft_max_grad_norm: float = 0.3
    sft_completion_only_loss: bool = True  # paper's reference: False (loss on the whole sequence)
    sft_adapter: str = "new"  # new = fresh LoRA on the merged CPT model | continue = CPT adapter | full = every weight
    sft_lora_r: int = 16  # paper script states 64 (ignored by its TRL version)
    sft_lora_alpha: int = 32
    sft_lora_dropout: float = 0.05
    save_steps: int = 5  # checkpoint every N optimizer steps
    eval_steps: int = 5  # dev loss every N steps (best checkpoint by dev loss)
    max_sft_examples: int = 400  # cap on training instructions (CPU budget); -1 = all
    prompt_style: str = "alpaca"  # alpaca = the reference's template (paper) | short = no preamble (CPU demo)
    sft_negatives: float = 2.0  # not-relevant passages per passage that states the value (sentence-level QA)
    sft_diagnosis_repeat: int = 1  # each diagnosis example appears this many times in the SFT set
    sft_diagnosis_views: bool = False  # also tune on each input section alone and shuffled, same label (ours)
    ablation_models: list = field(default_factory=lambda: ["no_cpt", "general_cpt", "cancer_cpt"])
    arms: dict = field(default_factory=dict)  # name -> absolute path of a local causal LM, LoRA-tuned like the ablation
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
    eval_batch_size: int = 16
    max_eval_instances: int = 120  # cap on scored test instances (both tasks, balanced across fields); -1 = all
    bootstrap_samples: int = 200  # bootstrap resamples for 95% CIs
    # --- calibration and abstention (ours; the paper reports no confidence) ----------------------
    calibration_target: float = 0.95  # accuracy the defer threshold aims for (chosen on dev, applied to test)
    calibration_bins: int = 10  # equal-width confidence bins of the ECE and the reliability diagrams
    calibration_max_dev_instances: int = -1  # dev instances the threshold and temperature are fitted on; -1 = all
    # --- robustness (our testbed design; the paper's was not published) -----------------------
    robustness_rates: list = field(default_factory=lambda: [0.0, 0.1, 0.3])  # misspelling rates: fraction of words edited
    robustness_ocr: bool = True  # also sweep OCR-style confusions (l/1, O/0, rn/m, I/l, S/5, cl/d, e/c) at the same rates
    robustness_max_instances: int = 40  # test instances per perturbation (both tasks, balanced); -1 = all
    counterfactual_max_instances: int = -1  # counterfactual questions (balanced across fields); -1 = every editable test question
    # --- efficiency ----------------------------------------------------------------------------
    efficiency_hidden_sizes: list = field(default_factory=lambda: [32, 64, 128])  # scaling sweep: model widths
    efficiency_steps: int = 4  # SFT steps per model size in the scaling sweep
    efficiency_extraction_reports: int = 2  # test reports chapter 50's extraction-cost section extracts (demo: 8)
    # --- retrieval augmentation (our design; the paper's was not published) --------------------
    retrievers: list = field(default_factory=lambda: ["bm25", "tfidf", "char_ngram"])  # bm25 | tfidf | char_ngram
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
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_TYPES = typing.get_type_hints(Config)
_POSITIVE = {
    "n_patients", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "max_position_embeddings", "vocab_size", "cpt_block_size",
    "cpt_per_device_train_batch_size", "cpt_gradient_accumulation_steps", "sft_per_device_train_batch_size",
    "sft_gradient_accumulation_steps", "sft_max_length", "save_steps", "eval_steps", "lora_r", "lora_alpha",
    "sft_lora_r", "sft_lora_alpha", "max_new_tokens", "eval_batch_size", "bootstrap_samples",
    "initializer_range", "cpt_learning_rate", "sft_learning_rate", "cpt_num_train_epochs",
    "sft_num_train_epochs", "efficiency_steps", "efficiency_extraction_reports", "retrieval_k", "sft_negatives", "sft_diagnosis_repeat",
    "sft_max_grad_norm", "calibration_bins",
}
_NON_NEGATIVE = {"n_unlabelled_patients", "n_general_notes", "arms_few_shot"}
#: rates, ratios and probabilities: in [0, 1)
_UNIT = {"ocr_noise_rate", "cpt_warmup_ratio", "sft_warmup_ratio", "cpt_weight_decay", "lora_dropout",
         "sft_lora_dropout"}
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
    """Build a validated Config from a flat dict. `source` names the file in error messages."""
    unknown = sorted(set(params) - set(FIELDS), key=str)  # YAML keys may be numbers or null too
    if unknown:
        raise ParamsError(f"{source}: unknown key '{unknown[0]}' (valid keys are listed in params/demo.yaml)")
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


def load_params(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a params YAML, apply `--set key=value` overrides, validate (also that the run directory can be
    made: `check_run_paths`). Used by the CLI and runner."""
    path = Path(path)
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
    for item in overrides or []:
        key, value = parse_override(item)
        params[key] = value
    cfg = make_config(params, source=str(path))
    check_run_paths(cfg, str(path))
    return cfg


def config_from_notebook(namespace: dict) -> Config:
    """Cell 2 of every notebook: pick the parameter names out of the notebook's globals and validate."""
    return make_config({k: namespace[k] for k in FIELDS if k in namespace}, source="notebook parameters")
