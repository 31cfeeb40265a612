"""The five security holes of issue 15, one section each. Every test failed before its hole's fix, except the three
that guard what already held and must keep holding (`test_allowed_fields_pass_where_they_occur_whole`,
`test_pickle_base_model_is_refused`, `test_trainer_state_files_pass_the_checkpoint_check`).

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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_input import tiny_base  # noqa: F401
from test_gate import (LEAK, STARTED, _fake_run, _manifest, _params, fake_jupyter_book, notes_csv,  # noqa: F401
                       real_cfg)

from cancerllm import runner
from cancerllm.cli import main
from cancerllm.config import make_config
from cancerllm.data import load_cohort
from cancerllm.gate import Gate

MODEL_DIR_ERROR = "{}: not a model directory (no config.json); base_model must be 'small' or a local causal LM"
RELATIVE_MODEL_ERROR = ("{}: key 'base_model' must be 'small' or an absolute path to a local model directory "
                        "(nothing is downloaded), got {!r}")


# ----------------------------------------------------------------------------- 1. the gate uses the run's own inputs
@pytest.fixture
def other_notes(write_notes):
    """Another file in the custom schema: none of the run's sentences, none of its ids; a labelled patient in each
    split (a run refuses data with an empty or unlabelled split)."""
    texts = ["Follow-up visit, no complaints, blood pressure well controlled.", "Routine check, no new findings.",
             "Annual review, medication unchanged."]
    return write_notes([{"patient_id": f"Q000{i}", "note_id": f"M{i}", "note_type": "clinical_note", "text": text,
                         "split": split, "diagnosis": "hypertension"}
                        for i, (text, split) in enumerate(zip(texts, ["train", "dev", "test"]), 1)], "other.csv")


@pytest.mark.parametrize("data", ["other file", "synthetic"])
def test_gate_ignores_the_data_named_by_current_params(real_cfg, other_notes, fake_jupyter_book, capsys, data):
    """A notebook quoting a run's note fails `gate` and `book` however the current params point elsewhere."""
    calls, _ = fake_jupyter_book
    stage = runner.available_stages()[-1]
    run_dir = _fake_run(real_cfg, {stage: f"Example: {LEAK}."})
    sets = (["--set", f"custom_data_path={other_notes}"] if data == "other file"
            else ["--set", "data_source=synthetic"])
    finding = f"  notebooks/{stage}.ipynb: cell[1] output[0]: note span, 15 tokens"
    for command in ("gate", "book"):
        assert main([command, str(_params(real_cfg)), *sets]) == 2, command
        assert capsys.readouterr().err.splitlines()[1:] == [finding], command
    assert calls == [] and not (run_dir / "book").exists()


def test_gate_refuses_inputs_changed_since_the_run(real_cfg, notes_csv, capsys):
    """The recorded file rewritten without the quoted note: the gate refuses rather than scan against it."""
    run_dir = _fake_run(real_cfg, {"00_data_profiling": f"Example: {LEAK}."})
    notes_csv.write_text(notes_csv.read_text(encoding="utf-8").replace(LEAK, "benign tissue"), encoding="utf-8")
    assert main(["gate", str(_params(real_cfg))]) == 2
    assert capsys.readouterr().err == (
        f"error: {run_dir / 'manifest.json'}: input {notes_csv} has changed since the run (sha256 differs); "
        "the gate scans only against the inputs the run recorded\n")


def test_gate_refuses_chapters_run_on_other_inputs(real_cfg, other_notes, monkeypatch, capsys):
    """Every stage ran on the reports; then `run --only 00_data_profiling` on another file rewrote the manifest's
    params and inputs. The later chapters, still quoting a report, must not be scanned against the other file.
    (Stages are executed by a stand-in that writes a notebook printing the sentence.)"""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def execute(pm, cfg, stage, staging, out_nb, manifest, progress):
        out = new_output("stream", name="stdout", text=f"Example: {LEAK}.\n")
        nbformat.write(new_notebook(cells=[new_code_cell("print(example)", outputs=[out])]), out_nb)
        manifest["stages"][stage] = {"status": "done", "seconds": 0.0, "resumed": False}

    monkeypatch.setattr(runner, "_execute", execute)
    params = str(_params(real_cfg))
    assert main(["run", params]) == 0
    assert main(["run", params, "--only", "00_data_profiling", "--set", f"custom_data_path={other_notes}"]) == 0
    capsys.readouterr()
    assert main(["gate", params]) == 2
    assert capsys.readouterr().err == (
        f"error: {real_cfg.run_dir / 'manifest.json'}: stage 10_continued_pretraining ran on other inputs than the run "
        "records now; re-run it (`python -m cancerllm run PARAMS --force 10_continued_pretraining`) before gating "
        "the run\n")


def test_gate_refuses_a_chapter_left_by_a_failed_stage(real_cfg, capsys):
    """A stage that failed on its last execution keeps the notebook of an earlier one, on inputs nobody recorded."""
    run_dir = _fake_run(real_cfg)
    man = json.loads((run_dir / "manifest.json").read_text())
    man["stages"]["30_evaluation"] = {"status": "failed", "error": "ValueError"}
    (run_dir / "manifest.json").write_text(json.dumps(man))
    assert main(["gate", str(_params(real_cfg))]) == 2
    assert capsys.readouterr().err == (
        f"error: {run_dir / 'manifest.json'}: stage 30_evaluation is failed, so its notebook is left from an earlier "
        "execution; re-run it (`python -m cancerllm run PARAMS --force 30_evaluation`) before gating the run\n")


def test_gate_refuses_a_manifest_without_params(real_cfg, capsys):
    run_dir = _fake_run(real_cfg)
    man = json.loads((run_dir / "manifest.json").read_text())
    del man["params"]
    (run_dir / "manifest.json").write_text(json.dumps(man))
    message = (f"error: {run_dir / 'manifest.json'}: no recorded params, so the run's own inputs are unknown and "
               "the gate cannot scan it; re-run `python -m cancerllm run`\n")
    for command in ("gate", "book"):
        assert main([command, str(_params(real_cfg))]) == 2, command
        assert capsys.readouterr().err == message, command
    assert not (run_dir / "book").exists()


# ----------------------------------------------------------------------------- 2. exact manifest fields only
def test_run_named_after_a_barcode_does_not_exempt_it(real_cfg, capsys):
    cfg = make_config({**real_cfg.to_dict(), "run_name": "TCGA-A1-A0SB"})
    _fake_run(cfg, {"30_evaluation": "Case TCGA-A1-A0SB was reviewed."})
    assert main(["gate", str(_params(cfg))]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == [
        "  notebooks/30_evaluation.ipynb: cell[1] output[0]: TCGA barcode, 12 characters"]


@pytest.mark.parametrize("changes,text,kind", [
    ({"run_name": "run_0012345"}, "id 0012345 here", "MRN-like number"),  # a run name
    ({"params": {"custom_data_path": "/data/2011-03-14/notes.csv"}}, "seen 2011-03-14 in clinic", "date"),  # a path
    ({"inputs": {"/data/MRN 4455667.csv": "0" * 64}}, "MRN 4455667", "MRN"),  # an input's path (a key, not a sha)
    ({"seed": "tcga-a1-a0sb"}, "patient TCGA-A1-A0SB here", "TCGA barcode"),  # any other field
    ({"params_hash": "tcga-a1-a0sb"}, "patient TCGA-A1-A0SB here", "TCGA barcode"),  # an allowed field, wrong form
    ({}, f"admitted {STARTED[:10]} overnight", "date"),  # part of an allowed value, printed alone
])
def test_manifest_strings_are_not_allowed_at_large(real_cfg, changes, text, kind):
    man = _manifest(real_cfg)
    for key, value in changes.items():
        man[key] = {**man[key], **value} if isinstance(value, dict) else value
    gate = Gate(load_cohort(real_cfg).notes, None, man, own_texts=[])
    assert [h.kind for h in gate.scan_text(text, "f.txt")] == [kind]


def test_allowed_fields_pass_where_they_occur_whole(real_cfg):
    """The runner's own fields still pass where the book prints them, the commit's short form included."""
    man = {**_manifest(real_cfg), "git": {"commit": "0123456789" + "ab" * 15, "dirty": False}}
    gate = Gate(load_cohort(real_cfg).notes, None, man, own_texts=[])
    assert gate.scan_text("id 0012345678 here", "f.txt")[0].kind == "MRN-like number"  # what the rule looks for
    assert gate.scan_text(f"commit 0123456789, started {STARTED}, finished {man['finished']}, "
                          f"params hash {man['params_hash']}", "f.txt") == []
    assert gate.scan_text(f"full commit {man['git']['commit']}", "f.txt") == []


# ----------------------------------------------------------------------------- 3. evaluate resolves models from DIR
@pytest.fixture
def copied_run(tmp_path):
    """A finished run with a tiny base and an (untrained) no_cpt adapter, and a copy of it elsewhere; both
    directories exist, and the copy's manifest still names the original's runs_root and run_name."""
    from peft import get_peft_model
    from test_bad_input import TINY

    from cancerllm import pipeline, training
    from cancerllm.data.synthetic import generate_cohort

    cfg = make_config({"runs_root": str(tmp_path / "runs"), "run_name": "original", **TINY, "max_new_tokens": 4,
                       "bootstrap_samples": 10})
    corpora = training.cpt_corpora(generate_cohort(cfg.n_patients, seed=cfg.seed, n_general_notes=4), cfg.seed)
    model, tokenizer = pipeline.prepare_base(cfg, corpora)
    cohort = generate_cohort(cfg.n_patients, seed=cfg.seed)
    pipeline.save_sets(pipeline.instruction_sets(cfg, cohort, tokenizer),
                       cfg.stage_path(pipeline.SFT_STAGE) / "instructions")  # what 20_instruction_tuning saves
    adapter = pipeline.sft_dir(cfg, "no_cpt") / "final"
    get_peft_model(model, training.lora_config(2, 4, 0.0, "all-linear")).save_pretrained(adapter)
    (adapter / "base.json").write_text(json.dumps(pipeline.init_fingerprint(cfg, "no_cpt")))
    (cfg.run_dir / "manifest.json").write_text(json.dumps({"params": cfg.to_dict(), "stages": {}}))
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(cfg.run_dir, copy)
    return cfg.run_dir, copy


def test_evaluate_loads_models_from_the_given_run_dir(copied_run, tmp_path, monkeypatch, capsys):
    from cancerllm import modeling
    from cancerllm.data.synthetic import generate_cohort

    original, copy = copied_run
    from peft import PeftModel

    loaded, real_load, real_adapter = [], modeling.load_model, PeftModel.from_pretrained
    monkeypatch.setattr(modeling, "load_model", lambda path, **kw: (loaded.append(Path(path)), real_load(path, **kw))[1])
    monkeypatch.setattr(PeftModel, "from_pretrained",
                        lambda model, path, **kw: (loaded.append(Path(path)), real_adapter(model, path, **kw))[1])
    other = generate_cohort(3, seed=777)
    data = tmp_path / "other_hospital.csv"
    other.notes.merge(other.labels.drop(columns="split"), on="patient_id").drop(columns="split").to_csv(data, index=False)
    assert main(["evaluate", "--run", str(copy), "--data", str(data)]) == 0
    assert capsys.readouterr().out == f"metrics written: {copy / 'external' / 'other_hospital' / 'metrics.json'}\n"
    assert {p.name for p in loaded} == {"base", "final"}  # the base and the adapter, both read from the copy
    assert all(p.resolve().is_relative_to(copy.resolve()) for p in loaded), loaded
    assert not (original / "external").exists()


def test_evaluate_refuses_a_manifest_without_params(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"stages": {}}))
    assert main(["evaluate", "--run", str(run_dir), "--data", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err == (f"error: {run_dir / 'manifest.json'}: no recorded params; "
                                       "re-run `python -m cancerllm run`\n")


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
                              text=True, check=False, timeout=120)
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
        assert capsys.readouterr() == ("", f"error: {RELATIVE_MODEL_ERROR.format(params, 'mistralai/Mistral-7B-v0.1')}\n")
    assert cached_hub_config == [] and not (tmp_path / "runs").exists()


def test_notebook_parameters_refuse_a_hub_id():
    """A notebook run on its own validates its parameters with the same rule (no CLI check in between)."""
    from cancerllm.config import load_params
    from cancerllm.errors import ParamsError

    with pytest.raises(ParamsError) as info:
        load_params(None, {"base_model": "gpt2"})
    assert str(info.value) == RELATIVE_MODEL_ERROR.format("notebook parameters", "gpt2")


def test_run_tokenizer_refuses_a_pointer_to_a_hub_id(tmp_path, monkeypatch):
    """The retrieval chapter reads the run's tokenizer through the base pointer a local-model run writes; a pointer
    naming a hub id (a moved or edited run) is refused before transformers could resolve it from its cache."""
    import transformers

    from cancerllm import pipeline
    from cancerllm.errors import ModelError
    from cancerllm.retrieval.conditions import load_tokenizer

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained",
                        lambda *a, **k: pytest.fail("the tokenizer was looked up"))
    cfg = make_config({"runs_root": str(tmp_path / "runs")})
    pipeline.base_dir(cfg).mkdir(parents=True)
    (pipeline.base_dir(cfg) / "pointer.json").write_text(json.dumps({"base_model": "gpt2"}))
    with pytest.raises(ModelError) as info:
        load_tokenizer(cfg)
    assert str(info.value) == MODEL_DIR_ERROR.format("gpt2")


def test_base_path_follows_the_pointer_of_a_local_base(tmp_path):
    """pipeline.base_path: the run's own base directory for the small model; the local model directory that
    pointer.json names for a run on your own base_model (load_base and the retrieval tokenizer both read it)."""
    from cancerllm import pipeline

    cfg = make_config({"runs_root": str(tmp_path / "runs")})
    assert pipeline.base_path(cfg) == pipeline.base_dir(cfg)
    pipeline.base_dir(cfg).mkdir(parents=True)
    (pipeline.base_dir(cfg) / "pointer.json").write_text(json.dumps({"base_model": str(tmp_path / "my-model")}))
    assert pipeline.base_path(cfg) == tmp_path / "my-model"


def test_dry_run_report_refuses_a_hub_id(cached_hub_config):
    from cancerllm.config import make_config
    from cancerllm.dryrun import dry_run_report
    from cancerllm.errors import ModelError

    import dataclasses

    cfg = dataclasses.replace(make_config({"dry_run": True}), base_model="mistralai/Mistral-7B-v0.1")  # unvalidated
    with pytest.raises(ModelError) as info:
        dry_run_report(cfg)
    assert str(info.value) == MODEL_DIR_ERROR.format("mistralai/Mistral-7B-v0.1")
    assert cached_hub_config == []


# ----------------------------------------------------------------------------- 5. safetensors only, no pickle code
class _Payload:
    """A pickle that runs code when loaded: it creates the directory `marker`."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_torch_never_unpickles_code_even_when_asked(tmp_path):
    import torch

    marker = tmp_path / "code-ran"
    torch.save(_Payload(str(marker)), tmp_path / "optimizer.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(tmp_path / "optimizer.pt", weights_only=False)  # what an older library would pass
    assert not marker.exists()


@pytest.fixture
def pickled_adapter(tiny_base):
    """A LoRA adapter saved the pickle way (adapter_model.bin, no safetensors) on the tiny base."""
    from peft import get_peft_model

    from cancerllm import training

    cfg, _, model, _ = tiny_base

    def save(path: Path) -> Path:
        get_peft_model(model, training.lora_config(2, 4, 0.0, "all-linear")).save_pretrained(
            path, safe_serialization=False)
        assert (path / "adapter_model.bin").is_file() and not (path / "adapter_model.safetensors").exists()
        return path
    return cfg, save


def test_pickle_cpt_adapter_is_refused(pickled_adapter):
    from cancerllm import pipeline
    from cancerllm.errors import ModelError

    cfg, save = pickled_adapter
    path = save(pipeline.cpt_dir(cfg, "cancer_cpt") / "final")
    with pytest.raises(ModelError) as info:
        pipeline.load_init(cfg, "cancer_cpt")
    assert str(info.value) == f"{path}: no adapter_model.safetensors (pickle .bin adapters are refused)"


def test_pickle_sft_adapter_is_refused(pickled_adapter):
    from cancerllm import pipeline
    from cancerllm.errors import ModelError

    cfg, save = pickled_adapter
    path = save(pipeline.sft_dir(cfg, "no_cpt") / "final")
    (path / "base.json").write_text(json.dumps(pipeline.init_fingerprint(cfg, "no_cpt")))
    with pytest.raises(ModelError) as info:
        pipeline.load_tuned(cfg, "no_cpt")
    assert str(info.value) == f"{path}: no adapter_model.safetensors (pickle .bin adapters are refused)"


def test_pickle_base_model_is_refused(tiny_base):
    import torch
    from safetensors.torch import load_file

    from cancerllm import pipeline
    from cancerllm.errors import ModelError

    cfg, *_ = tiny_base
    base = pipeline.base_dir(cfg)
    torch.save(load_file(base / "model.safetensors"), base / "pytorch_model.bin")
    (base / "model.safetensors").unlink()
    with pytest.raises(ModelError) as info:
        pipeline.load_base(cfg)
    assert str(info.value) == f"{base}: no .safetensors weights (pickle .bin weights are refused)"


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "adapter_model.bin"])
def test_resume_from_a_pickle_checkpoint_is_refused(tmp_path, capsys, monkeypatch, weights):
    """A checkpoint an interrupted stage would resume from (kept in .staging/) holding pickle weights: `run`
    refuses before any stage starts, and leaves the run directory as it was."""
    import torch

    monkeypatch.setattr(runner, "_execute", lambda *a, **k: pytest.fail("a stage started"))
    params = tmp_path / "p.yaml"
    params.write_text(f"run_name: r\nruns_root: {tmp_path / 'runs'}\nn_patients: 12\nn_general_notes: 6\n",
                      encoding="utf-8")
    run_dir = tmp_path / "runs" / "r"
    ckpt = run_dir / ".staging" / "10_continued_pretraining" / "models" / "cancer_cpt" / "checkpoint-5"
    ckpt.mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, ckpt / weights)
    (ckpt / "trainer_state.json").write_text("{}")
    manifest = json.dumps({"stages": {"10_continued_pretraining": {"status": "running"}}})
    (run_dir / "manifest.json").write_text(manifest)
    assert main(["run", str(params)]) == 2
    assert capsys.readouterr() == ("", (f"error: {ckpt / weights}: pickle weights are refused (a checkpoint is resumed "
                                        f"from safetensors only); delete {ckpt} to train that model from the start\n"))
    assert (run_dir / "manifest.json").read_text() == manifest and not (run_dir / ".lock").exists()


@pytest.mark.parametrize("state", ["optimizer.pt", "scheduler.pt", "rng_state.pth"])
def test_resume_from_a_checkpoint_whose_state_holds_code_is_refused(tmp_path, capsys, monkeypatch, state):
    """The Trainer's own torch.save files (optimizer, scheduler, RNG state) are pickles by design; one that holds
    code is one line and exit 2 before any stage starts (it used to pass the check and fail inside the resumed
    stage, in torch's weights-only unpickler), and the code never runs."""
    import torch

    monkeypatch.setattr(runner, "_execute", lambda *a, **k: pytest.fail("a stage started"))
    params = tmp_path / "p.yaml"
    params.write_text(f"run_name: r\nruns_root: {tmp_path / 'runs'}\nn_patients: 12\nn_general_notes: 6\n",
                      encoding="utf-8")
    run_dir = tmp_path / "runs" / "r"
    ckpt = run_dir / ".staging" / "20_instruction_tuning" / "models" / "no_cpt" / "checkpoint-5"
    ckpt.mkdir(parents=True)
    marker = tmp_path / "code-ran"
    torch.save(_Payload(str(marker)), ckpt / state)
    manifest = json.dumps({"stages": {"20_instruction_tuning": {"status": "running"}}})
    (run_dir / "manifest.json").write_text(manifest)
    for command in ("validate", "run"):
        assert main([command, str(params)]) == 2, command
        assert capsys.readouterr() == ("", (f"error: {ckpt / state}: refused, it holds more than tensors and plain "
                                            f"data (torch's weights-only loader); delete {ckpt} to train that model "
                                            f"from the start\n")), command
    assert not marker.exists()
    assert (run_dir / "manifest.json").read_text() == manifest and not (run_dir / ".lock").exists()


def test_trainer_state_files_pass_the_checkpoint_check(tmp_path):
    """What a real Trainer checkpoint holds (tensors, an optimizer state dict, Python and numpy RNG states) passes:
    the check allows what the Trainer's own loader allows (transformers' numpy allow-list), so resume still works."""
    import random

    import numpy as np
    import torch

    from cancerllm.safe_weights import check_checkpoint

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(3))])
    torch.save(opt.state_dict(), tmp_path / "optimizer.pt")
    torch.save({"last_epoch": 3, "_last_lr": [0.001]}, tmp_path / "scheduler.pt")
    torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
               tmp_path / "rng_state.pth")
    check_checkpoint(tmp_path)


def test_training_refuses_to_resume_from_a_pickle_checkpoint(tiny_base, tmp_path):
    """A notebook run on its own (no runner, so no .staging check) resumes through training._train: a checkpoint
    with pickle weights in its output folder is refused there before the Trainer can load it."""
    import torch

    from cancerllm import training
    from cancerllm.errors import ModelError

    cfg, corpora, model, tokenizer = tiny_base
    ckpt = tmp_path / "cpt" / "checkpoint-5"
    ckpt.mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, ckpt / "pytorch_model.bin")
    (ckpt / "trainer_state.json").write_text("{}")
    with pytest.raises(ModelError) as info:
        training.run_cpt(cfg, model, tokenizer, corpora["cancer"]["train"], tmp_path / "cpt")
    assert str(info.value).startswith(f"{ckpt / 'pytorch_model.bin'}: pickle weights are refused")
