"""Shared test set-up: offline environment, a network guard, a tiny config and a custom-data writer."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pandas as pd
import pytest

# Never reach a model hub or spawn tokenizer threads from tests (set before anything imports HF libraries).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from cancerllm.config import make_config

REPO_ROOT = Path(__file__).resolve().parents[1]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_loopback_host(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _address_allowed(family, address) -> bool:
    """AF_UNIX paths and loopback IP addresses are local; everything else is network access."""
    if getattr(socket, "AF_UNIX", None) is not None and family == socket.AF_UNIX:
        return True
    if isinstance(address, (str, bytes)):  # a unix socket path given without a family
        return True
    if isinstance(address, tuple) and address:
        return _is_loopback_host(address[0])
    return False


def _host_of(address) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to a non-loopback address raises RuntimeError (jupyter kernels use 127.0.0.1 zmq)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def guarded_connect(self, address):
        if not _address_allowed(self.family, address):
            raise RuntimeError(f"network access attempted in a test: {_host_of(address)}")
        return real_connect(self, address)

    def guarded_connect_ex(self, address):
        if not _address_allowed(self.family, address):
            raise RuntimeError(f"network access attempted in a test: {_host_of(address)}")
        return real_connect_ex(self, address)

    def guarded_create_connection(address, *args, **kwargs):
        if not _address_allowed(None, address):
            raise RuntimeError(f"network access attempted in a test: {_host_of(address)}")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    yield


@pytest.fixture
def tiny_cfg(tmp_path):
    """A validated tiny synthetic config whose run directory lives under tmp_path."""
    return make_config({"runs_root": str(tmp_path / "runs"), "n_patients": 40, "n_general_notes": 20})


@pytest.fixture
def write_notes(tmp_path):
    """Write rows (list of dicts or a DataFrame) as tmp_path/<name>; the format follows the extension.

    .csv / .csv.gz -> CSV without index, .jsonl -> one JSON record a line, .parquet -> Parquet.
    Returns the path.
    """

    def _write(rows, name: str = "notes.csv") -> Path:
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        path = tmp_path / name
        lower = name.lower()
        if lower.endswith((".csv", ".csv.gz")):
            df.to_csv(path, index=False)
        elif lower.endswith(".jsonl"):
            df.to_json(path, orient="records", lines=True, force_ascii=False)
        elif lower.endswith(".parquet"):
            df.to_parquet(path, index=False)
        else:
            raise ValueError(f"write_notes: no writer for {name}")
        return path

    return _write


def write_tiny_arm(path: Path, kind: str, vocab_size: int, seed: int = 0) -> Path:
    """A tiny local causal LM directory as an external arm (params key `arms`) needs it: config.json, safetensors
    weights and its own BPE tokenizer (trained on synthetic notes and the prompt frame, with pad/eos tokens).
    `kind` is "llama" (LlamaForCausalLM) or "mistral" (MistralForCausalLM, with a chat template): two
    architectures, two tokenizers."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    from cancerllm import modeling
    from cancerllm.data.synthetic import generate_cohort
    from cancerllm.instructions import frame_texts

    texts = list(generate_cohort(12, seed=seed + 7).notes["text"]) + frame_texts()
    tokenizer = modeling.train_tokenizer(texts, vocab_size)
    shape = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, initializer_range=0.2,
                 tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                 pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = (LlamaForCausalLM(LlamaConfig(**shape)) if kind == "llama"
             else MistralForCausalLM(MistralConfig(sliding_window=None, **shape)))
    if kind == "mistral":  # a chat model: zero-shot scoring asks it through its own template
        tokenizer.chat_template = ("{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]"
                                   "{% endfor %}")
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_arms(tmp_path_factory):
    """Two local model directories of different architectures and tokenizers: {"llamita": ..., "mistralito": ...}."""
    root = tmp_path_factory.mktemp("arms")
    return {"llamita": str(write_tiny_arm(root / "llamita", "llama", 600, seed=1)),
            "mistralito": str(write_tiny_arm(root / "mistralito", "mistral", 900, seed=2))}
