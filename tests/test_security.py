"""The five security holes of issue 15, one section each; every test here failed before its fix.

1. The publishing gate scans a run against the inputs its own manifest records, not the data the current params name.
2. Only exact manifest fields (run times, commit, params hash, input sha256s) are allowed, and only where they occur
   whole; a run name or path never exempts an identifier.
3. `evaluate --run DIR` loads every model from DIR, not from where the manifest says the run once lived.
4. Offline is forced (an inherited HF_HUB_OFFLINE=0 does not win) and a hub id is refused on the dry-run path too.
5. Weights load from safetensors only and torch never unpickles code, on every loading path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cancerllm.cli import main

MODEL_DIR_ERROR = "{}: not a model directory (no config.json); base_model must be 'small' or a local causal LM"


# ----------------------------------------------------------------------------- 4. offline, no hub ids
def test_inherited_online_setting_is_overridden(tmp_path):
    """A shell that exports HF_HUB_OFFLINE=0 (and the other switches) still gets an offline hub client, whether
    huggingface_hub is imported after cancerllm or before it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
    code = ("import os, sys\n"
            "if sys.argv[1] == 'before': import huggingface_hub.constants\n"
            "import cancerllm\n"
            "from huggingface_hub import constants\n"
            "print(constants.is_offline_mode(), os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'],"
            " os.environ['HF_DATASETS_OFFLINE'])\n")
    for order in ("after", "before"):
        proc = subprocess.run([sys.executable, "-c", code, order], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["True", "1", "1", "1"], order


@pytest.fixture
def cached_hub_config(monkeypatch):
    """AutoConfig.from_pretrained as if the hub cache held the named repo: every call is recorded."""
    from transformers import AutoConfig, MistralConfig

    calls = []

    def from_cache(name, *args, **kwargs):
        calls.append(name)
        return MistralConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=1)

    monkeypatch.setattr(AutoConfig, "from_pretrained", from_cache)
    return calls


def test_dry_run_refuses_a_hub_id(tmp_path, capsys, cached_hub_config):
    params = tmp_path / "p.yaml"
    params.write_text(f"run_name: hub\nruns_root: {tmp_path / 'runs'}\ndry_run: true\n"
                      "base_model: mistralai/Mistral-7B-v0.1\n", encoding="utf-8")
    for command in ("validate", "run"):
        assert main([command, str(params)]) == 2, command
        assert capsys.readouterr() == ("", f"error: {MODEL_DIR_ERROR.format('mistralai/Mistral-7B-v0.1')}\n")
    assert cached_hub_config == [] and not (tmp_path / "runs").exists()


def test_dry_run_report_refuses_a_hub_id(cached_hub_config):
    from cancerllm.config import make_config
    from cancerllm.dryrun import dry_run_report
    from cancerllm.errors import ModelError

    with pytest.raises(ModelError) as info:
        dry_run_report(make_config({"base_model": "mistralai/Mistral-7B-v0.1", "dry_run": True}))
    assert str(info.value) == MODEL_DIR_ERROR.format("mistralai/Mistral-7B-v0.1")
    assert cached_hub_config == []
