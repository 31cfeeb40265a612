"""Model FLOPs per token and utilisation (MFU).

FLOPs convention (PaLM, Chowdhery et al. 2022, appendix B; Chinchilla, Hoffmann et al. 2022, appendix F):
  N      = parameters that take part in a matmul = all parameters except the input embedding table (a lookup,
           no FLOPs). The untied output projection (lm_head) IS counted: it is real compute (vocab x hidden
           per token). Norm weights are counted too (negligible).
  training, full fine-tuning   6 N + 6 L T d   per token (forward 2N, backward 4N)
  training, LoRA (frozen base) 4 N + 2 N_t + 6 L T d: forward 2N and input-gradients 2N through every layer,
                               weight gradients 2 N_t only for the N_t trainable parameters
  inference (forward)          2 N + 2 L T d
  The attention term: QK^T and AV cost 4 T d FLOPs per token per layer in the forward pass over a context of
  T tokens; a causal mask needs only half of it (2 L T d forward, x3 for training = 6 L T d). PaLM writes
  12 L H Q T without the causal discount; we take the discounted half, as flash attention computes.
MFU = model FLOPs per token x tokens per second / peak FLOP/s. For a training run the tokens per second are those
of its median optimizer step (forward, backward, optimizer; the first step left out), see training._cost_metrics.
The peak is MEASURED on this machine by a large square matmul (best of a few reps) at the dtype the model trains in
(fp32 or bf16) and torch's thread count — not a datasheet number.
Utilisation therefore reads "fraction of the best matmul throughput this machine showed", and recomputation
(activation checkpointing) or padding does not count as useful work.

"""

from __future__ import annotations


def _unwrap(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def matmul_parameters(model) -> int:
    """N of the FLOPs convention: all parameters except the input embedding table."""
    total = sum(p.numel() for p in model.parameters())
    emb = _unwrap(model).get_input_embeddings()
    return int(total - (emb.weight.numel() if emb is not None else 0))


def trainable_parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def flops_per_token(n_params: int, n_layers: int, hidden: int, seq_len: float, mode: str = "train",
                    n_trainable: int | None = None) -> float:
    """Model FLOPs per token (module docstring): mode "train" (full when n_trainable is None or equal to
    n_params, LoRA otherwise) or "inference"."""
    attn_fwd = 2 * n_layers * seq_len * hidden
    if mode == "inference":
        return float(2 * n_params + attn_fwd)
    if mode != "train":
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    n_t = n_params if n_trainable is None else min(n_trainable, n_params)
    return float(4 * n_params + 2 * n_t + 3 * attn_fwd)


def model_flops_per_token(model, seq_len: float, mode: str = "train") -> float:
    """`flops_per_token` for a (possibly PEFT-wrapped) Hugging Face causal LM."""
    conf = _unwrap(model).config
    n = matmul_parameters(model)
    return flops_per_token(n, conf.num_hidden_layers, conf.hidden_size, seq_len, mode,
                           n_trainable=min(trainable_parameters(model), n) if mode == "train" else None)


def mfu(flops_per_tok: float, tokens: float, seconds: float, peak_gflops_: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the measured peak FLOP/s."""
    if seconds <= 0 or peak_gflops_ <= 0:
        return float("nan")
    return flops_per_tok * tokens / seconds / (peak_gflops_ * 1e9)
