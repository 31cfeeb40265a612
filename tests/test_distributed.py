"""The multi-process path: `accelerate launch` with 2 CPU processes (DDP over gloo) for a few CPT steps.
Both ranks must finish the same number of steps with identical weights (DDP keeps replicas in sync)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_two_cpu_processes_agree(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"n_patients": 20, "n_general_notes": 10, "hidden_size": 32, "intermediate_size": 64,
                                      "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1,
                                      "vocab_size": 400, "cpt_block_size": 64, "cpt_max_steps": 3, "save_steps": 100,
                                      "cpt_per_device_train_batch_size": 2}))
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--config_file", str(REPO / "configs" / "accelerate_ddp_cpu.yaml"),
           "-m", "cancerllm.distributed", str(params), "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["checksum"] == ranks[1]["checksum"]
