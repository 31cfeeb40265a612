"""Model factory: a small Mistral-architecture model built from a config with a locally trained BPE tokenizer,
or any local Hugging Face causal LM (loaded offline, safetensors only, no remote code).

Nothing is ever downloaded: `base_model` is "small" or a local directory.
Used in notebooks/10_continued_pretraining.ipynb and by every later stage through `load_model`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, MistralConfig, MistralForCausalLM
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}



def train_tokenizer(texts, vocab_size: int, split_digits: bool = True,
                    phrases: tuple[str, ...] = ()) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on the given texts (deterministic for the same texts and vocab size). Numbers are
    split into single digits first (`split_digits`), as Mistral's and LLaMA's tokenizers do. Each of `phrases`
    (the prompt frame's fixed pieces, ``instructions.FRAME_TOKENS``) becomes one added token on top of the
    `vocab_size` learned ones, matched in the raw text before pre-tokenization (the longest at each place)."""
    tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.add_tokens([AddedToken(p, normalized=False) for p in phrases])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS)
    fast.model_max_length = 1_000_000
    return fast


def small_config(cfg, tokenizer=None) -> MistralConfig:
    """The Mistral architecture at the size the params ask for (hidden size, layers, heads, KV heads, context).
    With the run's tokenizer, its vocabulary and special-token ids; without one (the dry run's shape, before any
    tokenizer is trained) a vocabulary of `vocab_size`."""
    tokens = {} if tokenizer is None else {"bos_token_id": tokenizer.bos_token_id,
                                           "eos_token_id": tokenizer.eos_token_id,
                                           "pad_token_id": tokenizer.pad_token_id}
    return MistralConfig(
        vocab_size=cfg.vocab_size if tokenizer is None else len(tokenizer), hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads, num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings, initializer_range=cfg.initializer_range,
        sliding_window=None, tie_word_embeddings=False, **tokens,
    )


def build_small_model(cfg, tokenizer) -> MistralForCausalLM:
    """A randomly initialised small Mistral, seeded by `cfg.seed`."""
    torch.manual_seed(cfg.seed)
    model = MistralForCausalLM(small_config(cfg, tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def load_model(path: Path, dtype=torch.float32, quantize_4bit: bool = False):
    """Load a local causal LM and its tokenizer: offline, safetensors only, `trust_remote_code` off (checked
    first by `model_check.check_model_dir`, the same check `validate` runs)."""
    from .model_check import check_model_dir

    check_model_dir(path)
    kwargs = dict(local_files_only=True, trust_remote_code=False, use_safetensors=True, dtype=dtype)
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def context_size(path: Path) -> int | None:
    """A local model's context length from its config.json (max_position_embeddings), None if it states none."""
    import json

    n = json.loads((Path(path) / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
    return n if isinstance(n, int) and n > 0 else None


def model_shape_config(cfg):
    """The architecture a run trains, without weights: a small config, or the local model's own config."""
    if cfg.uses_small_model:
        return small_config(cfg)
    return AutoConfig.from_pretrained(cfg.base_model, local_files_only=True, trust_remote_code=False)


def on_best_device(model):
    """The model on the GPU when one exists (the paper profile), else where it is. Training moves models itself
    (Trainer); evaluation and perplexity call this so a GPU run does not generate on the CPU."""
    if torch.cuda.is_available() and next(model.parameters()).device.type == "cpu":
        model = model.to("cuda")
    return model


def count_parameters(model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": int(total), "trainable": int(trainable), "trainable_pct": round(100 * trainable / max(total, 1), 3)}
