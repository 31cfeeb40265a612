"""The `Config` dataclass — every parameter, its default (a tiny profile) and its documentation — and the
stage and retriever names."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[2]

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
    eval_steps: int = 5  # dev loss every N steps (best checkpoint by dev loss); left out of a profile: = save_steps (every checkpoint)
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
    attn_implementation: str = "eager"  # the attention kernel training uses: eager (faster backward for the CPU profiles' small models) | sdpa; paper: sdpa
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
