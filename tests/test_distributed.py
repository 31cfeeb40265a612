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
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["checksum"] == ranks[1]["checksum"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny finished run (base, no CPT, a few SFT steps of one arm) with its manifest: what `extract` reads."""
    from cancerllm import pipeline, training
    from cancerllm.config import make_config
    from cancerllm.data import load_cohort

    root = tmp_path_factory.mktemp("extractrun")
    cfg = make_config({"runs_root": str(root), "run_name": "tiny", "n_patients": 30, "n_general_notes": 10,
                       "ablation_models": ["no_cpt"], "sft_max_steps": 3, "max_sft_examples": 48, "save_steps": 3,
                       "eval_steps": 3, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "num_key_value_heads": 1, "initializer_range": 0.2,
                       "max_new_tokens": 6})
    cohort = load_cohort(cfg)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    pipeline.prepare_base(cfg, corpora)
    sets = pipeline.instruction_sets(cfg, cohort, pipeline.load_base(cfg)[1])
    pipeline.save_sets(sets, cfg.stage_path(pipeline.SFT_STAGE) / "instructions")
    pipeline.instruction_tuning(cfg, sets)
    (cfg.run_dir / "manifest.json").write_text(json.dumps({"params": cfg.to_dict()}), encoding="utf-8")
    return cfg.run_dir


def test_extract_split_over_two_processes_writes_what_one_process_writes(finished_run, tmp_path):
    """`extract` under `accelerate launch` with 2 CPU processes (each extracts half the patients, the main process
    merges the shards in input order) writes the same file as one process, and leaves no shard behind."""
    from cancerllm.cli import main
    from cancerllm.data.loaders import write_sample_notes

    data = write_sample_notes(tmp_path / "notes.csv", 12, seed=5)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["extract", "--run", str(finished_run), "--data", str(data), "--out", str(one)]) == 0
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--config_file", str(REPO / "configs" / "accelerate_ddp_cpu.yaml"),
           "-m", "cancerllm", "extract", "--run", str(finished_run), "--data", str(data), "--out", str(two)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # each process extracted its own half (it used to be every patient in both, each process thinking it was alone)
    assert "process 1 of 2: 6 of 12 patients" in proc.stderr and "process 2 of 2: 6 of 12 patients" in proc.stderr
    assert two.read_text() == one.read_text()
    records = [json.loads(line) for line in one.read_text().splitlines()]
    assert len(records) == 12 and len({r["patient_id"] for r in records}) == 12
    assert {"diagnosis", "t_stage", "tumor_size"} <= set(records[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv", "one.jsonl", "two.jsonl"]


def test_extract_refuses_a_model_the_run_did_not_tune(finished_run, tmp_path, capsys):
    from cancerllm.cli import main
    from cancerllm.data.loaders import write_sample_notes

    data = write_sample_notes(tmp_path / "notes.csv", 10)
    assert main(["extract", "--run", str(finished_run), "--data", str(data), "--out", str(tmp_path / "o.jsonl"),
                 "--model", "cancer_cpt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cancer_cpt" in err[0] and not (tmp_path / "o.jsonl").exists()
