"""Models of the run directory: the base model and the one tokenizer every ablation model shares
(``prepare_base``, ``load_base``), the model each arm starts SFT from (``load_init``, ``load_arm``,
``arm_config``), the hash of that init (``init_fingerprint``) and the tuned model loaded on the exact base it was
trained on (``load_tuned``, checked by that hash)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch

from .. import modeling
from ..instructions import FRAME_TOKENS, frame_texts
from ..errors import ModelError
from ..provenance import file_sha256
from ..safe_weights import check_adapter_dir
from .rundir import base_dir, base_path, cpt_dir, sft_dir


def tokenizer_texts(corpora: dict) -> list[str]:
    """The BPE tokenizer's training text: both CPT corpora's training notes and the prompt frame
    (`instructions.frame_texts`). One list, so the pipeline and the distributed probe train the same tokenizer."""
    return corpora["cancer"]["train"] + corpora["general"]["train"] + frame_texts()


def run_tokenizer(corpora: dict, vocab_size: int):
    """The run's BPE tokenizer: trained on ``tokenizer_texts``, the prompt frame's fixed pieces one token each
    (``instructions.FRAME_TOKENS``). The pipeline and the distributed probe both build theirs here."""
    return modeling.train_tokenizer(tokenizer_texts(corpora), vocab_size, phrases=FRAME_TOKENS)


def prepare_base(cfg, corpora: dict):
    """The base model and the one tokenizer every ablation model shares. For `base_model: small`, train a
    BPE tokenizer on the training text of both CPT corpora and build a seeded small Mistral; save both."""
    out = base_dir(cfg)
    if not cfg.uses_small_model:
        model, tokenizer = modeling.load_model(Path(cfg.base_model), dtype=_dtype(cfg), quantize_4bit=cfg.load_in_4bit)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pointer.json").write_text(json.dumps({"base_model": str(cfg.base_model)}), encoding="utf-8")
        return model, tokenizer
    tokenizer = run_tokenizer(corpora, cfg.vocab_size)
    model = modeling.build_small_model(cfg, tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return model, tokenizer


def _dtype(cfg):
    """Weights' dtype when loading: small models stay fp32 (bf16 is for the trainer's autocast); a local base
    model loads in bf16 when `bf16` is set."""
    return torch.bfloat16 if cfg.bf16 and not cfg.uses_small_model else torch.float32


def load_base(cfg):
    """Reload the base model and tokenizer saved by `prepare_base`."""
    return modeling.load_model(base_path(cfg), dtype=_dtype(cfg),
                               quantize_4bit=cfg.load_in_4bit and not cfg.uses_small_model)


def load_init(cfg, name: str):
    """The model an ablation arm starts SFT from: the base (no_cpt) or its CPT result.

    A LoRA CPT result is either kept as a trainable adapter (`sft_adapter: continue`, the reference's quirk)
    or merged into the base (`new`)."""
    from peft import PeftModel

    if name in cfg.arms:
        return load_arm(cfg, name)
    model, tokenizer = load_base(cfg)
    if name == "no_cpt":
        return model, tokenizer
    path = cpt_dir(cfg, name) / "final"
    if (path / "adapter_config.json").is_file():
        check_adapter_dir(path)  # safetensors only: PEFT would fall back to a pickle adapter_model.bin
        model = PeftModel.from_pretrained(model, str(path), is_trainable=cfg.sft_adapter == "continue")
        return (model if cfg.sft_adapter == "continue" else model.merge_and_unload()), tokenizer
    return modeling.load_model(path)


def load_arm(cfg, name: str):
    """An external arm (params key `arms`): the local model directory and its own tokenizer, loaded like a local
    base_model (bf16 when `bf16` is set, 4-bit with `load_in_4bit`)."""
    return modeling.load_model(Path(cfg.arms[name]), dtype=torch.bfloat16 if cfg.bf16 else torch.float32,
                               quantize_4bit=cfg.load_in_4bit)


def arm_config(cfg, name: str, tokenizer=None, sets: dict | None = None):
    """The config an arm is tuned with. The ablation uses the run's own; an external arm always gets a fresh LoRA
    (`sft_adapter: new`, the recipe the paper applied to every model it compared) — training every weight of a 7B
    model is not what the paper did, and the demo's `full` is only for its ~2M-parameter models — and an SFT
    max_length that fits its longest tuning example under its own tokenizer (the examples were cut to
    sft_max_length tokens of the run's tokenizer; another tokenizer may need more), at most its context size."""
    if name not in cfg.arms:
        return cfg
    longest = cfg.sft_max_length
    if tokenizer is not None and sets:
        texts = [p + c for df in (sets["sft_train"], sets["sft_dev"]) for p, c in zip(df["prompt"], df["completion"])]
        longest = max([longest, *(len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=True)["input_ids"])])
    limit = modeling.context_size(Path(cfg.arms[name]))
    return dataclasses.replace(cfg, sft_adapter="new", sft_max_length=min(longest, limit) if limit else longest)


def _weights_fingerprint(path: Path) -> str:
    """Hash of an external arm's weight files: each shard's name, size and safetensors header (tensor names,
    shapes, dtypes and offsets) — not the full 14 GB of a 7B model, which every chapter would re-read."""
    h = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")):
        with open(file, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            h.update(f"{file.name}:{file.stat().st_size}:".encode() + fh.read(min(n, 100_000_000)))
    return h.hexdigest()


def init_fingerprint(cfg, name: str) -> dict:
    """What an SFT adapter was trained on top of: the init's path and a hash of its weights."""
    if name in cfg.arms:
        return {"init": name, "path": cfg.arms[name], "sha256": _weights_fingerprint(Path(cfg.arms[name]))}
    path = base_dir(cfg) if name == "no_cpt" else cpt_dir(cfg, name) / "final"
    weights = sorted(path.glob("*.safetensors"))
    return {"init": name, "path": str(path), "sha256": file_sha256(weights[0]) if weights else None}


def load_tuned(cfg, name: str, merge: bool = True):
    """An SFT adapter on the exact model it was trained on (checked by weight hash, unlike the reference,
    whose inference put the adapter on a different base). `merge` folds the LoRA weights into the base for
    inference (about 3x faster generation on CPU; skipped for 4-bit bases). A fully fine-tuned model
    (`sft_adapter: full`) is loaded as it was saved."""
    from peft import PeftModel

    adapter = sft_dir(cfg, name) / "final"
    recorded = json.loads((adapter / "base.json").read_text(encoding="utf-8"))
    current = init_fingerprint(cfg, name)
    if recorded.get("sha256") != current.get("sha256"):
        raise ModelError(f"{adapter}: adapter was trained on a different base ({recorded.get('path')}); "
                         f"re-run 20_instruction_tuning")
    if not (adapter / "adapter_config.json").is_file():  # sft_adapter: full saved every weight
        model, tokenizer = modeling.load_model(adapter, dtype=_dtype(cfg))
        return model.eval(), tokenizer
    continued = (name not in cfg.arms and cfg.sft_adapter == "continue"
                 and (cpt_dir(cfg, name) / "final" / "adapter_config.json").is_file())
    # "continue" trained the CPT adapter itself, so it sits directly on the base
    check_adapter_dir(adapter)  # safetensors only, before its base is loaded
    model, tokenizer = load_base(cfg) if continued else load_init(cfg, name)
    model = PeftModel.from_pretrained(model, str(adapter))
    if merge and not cfg.load_in_4bit:
        model = model.merge_and_unload()
    model.eval()
    return model, tokenizer
