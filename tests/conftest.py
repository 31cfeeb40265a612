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

from cancerllm.config import make_config  # noqa: E402

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
