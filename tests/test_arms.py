"""External arms (params key `arms`, issue 19): local model directories of other architectures tuned and scored beside
the ablation. Two tiny local models (a Llama and a Mistral, each with its own tokenizer; conftest.tiny_arms) go
through instruction tuning and evaluation; misconfigured arms stop before any stage with one line and exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cancerllm import paper_results
from cancerllm.config import arm_names, make_config
from cancerllm.errors import ModelError, ParamsError
from cancerllm.model_check import check_arms
from cancerllm.runner import stage_key

REPO = Path(__file__).resolve().parents[1]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cancerllm", *args], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=300)


# --- params -----------------------------------------------------------------------------------------------------

def test_no_arms_is_the_ablation_and_keeps_stage_keys():
    cfg = make_config({})
    assert cfg.arms == {} and arm_names(cfg) == ["no_cpt", "general_cpt", "cancer_cpt"]
    params = cfg.to_dict()
    before = {k: v for k, v in params.items() if k not in ("arms", "arms_zero_shot")}  # recorded before the keys
    assert stage_key(params, {}, "30_evaluation") == stage_key(before, {}, "30_evaluation")
    assert stage_key({**params, "arms": {"x": "/m"}}, {}, "30_evaluation") != stage_key(params, {}, "30_evaluation")
    assert stage_key({**params, "arms_zero_shot": True}, {}, "30_evaluation") != stage_key(params, {}, "30_evaluation")


def test_arm_names_follow_the_ablation(tiny_arms):
    cfg = make_config({"arms": tiny_arms, "ablation_models": ["cancer_cpt"]})
    assert arm_names(cfg) == ["cancer_cpt", "llamita", "mistralito"]


@pytest.mark.parametrize("arms, words", [
    ({"cancer_cpt": "/m"}, "taken by a built-in system"),
    ({"zero_shot": "/m"}, "taken by a built-in system"),
    ({"tfidf_logreg": "/m"}, "taken by a built-in system"),
    ({"Mistral-7B": "/m"}, "lowercase identifier"),
    ({"mistral": "models/Mistral-7B"}, "absolute path"),
    ({"mistral": "mistralai/Mistral-7B-v0.1"}, "absolute path"),
    ({"mistral": 7}, "local model directory"),
    ({"mistral": ""}, "local model directory"),
    (["/models/a"], "must be dict"),
])
def test_bad_arms_params(arms, words):
    with pytest.raises(ParamsError, match=words) as exc:
        make_config({"arms": arms}, source="p.yaml")
    assert "\n" not in str(exc.value) and "arms" in str(exc.value)


# --- model directories ------------------------------------------------------------------------------------------

def _broken(tiny_arms, tmp_path, how: str) -> Path:
    bad = tmp_path / how
    shutil.copytree(tiny_arms["llamita"], bad)
    if how == "pickle_only":
        for f in bad.glob("*.safetensors"):
            f.rename(bad / "pytorch_model.bin")
    elif how == "no_weights":
        for f in bad.glob("*.safetensors"):
            f.unlink()
    elif how == "remote_code":
        conf = json.loads((bad / "config.json").read_text())
        conf["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
        (bad / "config.json").write_text(json.dumps(conf))
    elif how == "no_tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (bad / name).unlink()
    elif how == "missing":
        shutil.rmtree(bad)
    return bad


@pytest.mark.parametrize("how, words", [("pickle_only", "no .safetensors weights"),
                                        ("no_weights", "no .safetensors weights"),
                                        ("remote_code", "custom code"),
                                        ("no_tokenizer", "no tokenizer"),
                                        ("missing", "no such directory")])
def test_misconfigured_arm_is_one_model_error(tiny_arms, tmp_path, how, words):
    cfg = make_config({"arms": {"good": tiny_arms["mistralito"], "broken": str(_broken(tiny_arms, tmp_path, how))}})
    with pytest.raises(ModelError, match=words) as exc:
        check_arms(cfg)
    assert str(exc.value).startswith("arms: broken: ") and "\n" not in str(exc.value)
    assert "base_model" not in str(exc.value)


@pytest.mark.slow  # `python -m cancerllm` subprocesses that load both arms
@pytest.mark.parametrize("how", ["pickle_only", "remote_code"])
def test_cli_stops_before_any_stage(tiny_arms, tmp_path, how):
    """`validate` and `run` both refuse a broken arm: one line on stderr, exit 2, no run directory written."""
    params = tmp_path / "p.yaml"
    runs = tmp_path / "runs"
    params.write_text(yaml.safe_dump({"runs_root": str(runs), "run_name": "r",
                                      "arms": {"broken": str(_broken(tiny_arms, tmp_path, how))}}))
    for command in ("validate", "run"):
        proc = _cli(command, str(params))
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "arms: broken:" in lines[0]
        assert not runs.exists()


@pytest.mark.slow  # `python -m cancerllm` subprocesses that load both arms
def test_cli_name_clash_is_one_line(tmp_path, tiny_arms):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"arms": {"cancer_cpt": tiny_arms["llamita"]}}))
    proc = _cli("validate", str(params))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "taken by a built-in system" in proc.stderr


@pytest.mark.slow  # `python -m cancerllm` subprocesses that load both arms
def test_cli_validate_accepts_good_arms(tmp_path, tiny_arms):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"runs_root": str(tmp_path / "runs"), "n_patients": 20, "arms": tiny_arms}))
    proc = _cli("validate", str(params))
    assert proc.returncode == 0, proc.stderr[-2000:]


# --- the paper's numbers ----------------------------------------------------------------------------------------

def test_paper_models_match_arm_names():
    assert paper_results.paper_model("mistral") == "Mistral 7B"
    assert paper_results.paper_model("BioMistral-7B") == "BioMistral 7B"
    assert paper_results.paper_model("llama3_8b") == "LLaMA3 8B"
    assert paper_results.paper_model("llama2_13b") == "LLaMA2 13B"
    assert paper_results.paper_model("clinicalcamel_70b") == "ClinicalCamel 70B"
    assert paper_results.paper_model("cancer_cpt") == "CancerLLM (7B)"
    assert paper_results.paper_model("llama2") is None  # the paper's LLaMA2 was 13B: a bare name could be a 7B
    assert paper_results.paper_model("llamita") is None


def test_only_cancerllm_has_reported_scores():
    """The notes hold F1 for CancerLLM only (91.78 / 86.81); every other model's entry is a comparison."""
    for model, rec in paper_results.PAPER_MODELS.items():
        for task in paper_results.TASKS:
            if model.startswith("CancerLLM"):
                assert rec[task] in ("F1 91.78", "F1 86.81")
            else:
                assert paper_results.NOT_PUBLIC in rec[task]


# --- a tiny run with two external arms --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def arms_run(tmp_path_factory, tiny_arms):
    """Stages 10-30 through the library on a tiny config with both arms: SFT of every arm, predictions, scores."""
    from cancerllm import evaluation as ev
    from cancerllm import pipeline, training
    from cancerllm.data import load_cohort

    root = tmp_path_factory.mktemp("armsrun")
    cfg = make_config({"runs_root": str(root / "runs"), "n_patients": 40, "n_general_notes": 20, "arms": tiny_arms,
                       "sft_max_steps": 4, "cpt_max_steps": 2, "max_eval_instances": 30, "max_sft_examples": 64,
                       "bootstrap_samples": 20, "save_steps": 2, "eval_steps": 2})
    cohort = load_cohort(cfg)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    model, tokenizer = pipeline.prepare_base(cfg, corpora)
    pipeline.continued_pretraining(cfg, model, tokenizer, corpora)
    sets = pipeline.instruction_sets(cfg, cohort, tokenizer)
    pipeline.save_sets(sets, cfg.stage_path(pipeline.SFT_STAGE) / "instructions")
    sft = pipeline.instruction_tuning(cfg, sets)
    test = sets["test"]
    preds = {**ev.predict_models(cfg, test), **ev.predict_baselines(sets["train"], test, cfg.seed)}
    scores = ev.score(test, preds, cfg.bootstrap_samples, cfg.seed)
    return cfg, sets, sft, preds, scores


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_every_arm_is_tuned_with_lora_on_its_own_tokenizer(arms_run, tiny_arms):
    from cancerllm import pipeline

    cfg, _sets, sft, _, _ = arms_run
    assert list(sft) == ["no_cpt", "general_cpt", "cancer_cpt", "llamita", "mistralito"]
    for name, path in tiny_arms.items():
        assert sft[name]["steps"] == 4 and sft[name]["arm"]["path"] == path
        assert sft[name]["arm"]["sft_adapter"] == "new"
        assert sft[name]["parameters"]["trainable"] < sft[name]["parameters"]["total"]  # a LoRA, not every weight
        final = pipeline.sft_dir(cfg, name) / "final"
        assert (final / "adapter_config.json").is_file()
        assert json.loads((final / "base.json").read_text())["path"] == path
        model, tokenizer = pipeline.load_tuned(cfg, name)
        own = json.loads((Path(path) / "config.json").read_text())
        assert model.config.model_type == own["model_type"] and len(tokenizer) == own["vocab_size"]
    assert sft["llamita"]["parameters"]["total"] != sft["mistralito"]["parameters"]["total"]


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_arm_max_length_fits_its_tokenizer(arms_run):
    """An arm's SFT max_length covers its longest tuning example under its own tokenizer (never below the run's)."""
    from cancerllm import pipeline

    cfg, sets, _, _, _ = arms_run
    for name in cfg.arms:
        _, tokenizer = pipeline.load_arm(cfg, name)
        arm_cfg = pipeline.arm_config(cfg, name, tokenizer, sets)
        longest = max(len(tokenizer(p + c)["input_ids"]) for df in (sets["sft_train"], sets["sft_dev"])
                      for p, c in zip(df["prompt"], df["completion"]))
        assert arm_cfg.sft_max_length >= max(longest, cfg.sft_max_length) and arm_cfg.sft_adapter == "new"
    assert pipeline.arm_config(cfg, "cancer_cpt") is cfg


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_chapter_30_tables_name_the_arms(arms_run):
    from cancerllm import evaluation as ev

    cfg, sets, _, preds, scores = arms_run
    test = sets["test"]
    for name in cfg.arms:
        assert len(preds[name]) == len(test)
    assert ev.model_systems(cfg) == ["no_cpt", "general_cpt", "cancer_cpt", "llamita", "mistralito", "zero_shot"]
    for task in ("phenotype_extraction", "diagnosis_generation"):
        table = ev.comparison_table(scores, task)
        assert {"llamita", "mistralito"} <= set(table.index)
    paired = ev.paired_tests(test, preds, n_boot=20, seed=cfg.seed)
    for name in cfg.arms:
        assert (paired["comparison"] == f"cancer_cpt − {name}").sum() == 2  # both tasks, against cancer_cpt
    beside = paper_results.beside_ours(scores, ev.model_systems(cfg))
    assert {"llamita", "mistralito", "cancer_cpt"} <= set(beside.index)
    assert beside.loc["cancer_cpt", "reported by the paper: phenotype_extraction"] == "F1 91.78"
    assert beside.loc["llamita", "paper model"] == "—"
    metrics = ev.metrics_json(scores, {t: int((test.task == t).sum()) for t in ev.TASKS})
    assert "llamita" in json.dumps(metrics) and "mistralito" in json.dumps(metrics)


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_analysis_chapters_score_the_arms(arms_run):
    """Chapters 35, 40 and 60 score every arm through ``evaluation.predict_ablation``; chapter 20's memorisation
    check runs on every arm too."""
    from cancerllm import evaluation as ev
    from cancerllm import memorisation, pipeline

    cfg, sets, _, _, _ = arms_run
    few = sets["test"].head(4)
    conf: dict = {}
    preds = ev.predict_ablation(cfg, few, confidence=conf)
    assert list(preds) == arm_names(cfg) and set(conf) == set(preds)
    rec = memorisation.check_models(cfg, ["llamita", "mistralito"], ["a b c d " * 20], ["e f g h " * 20],
                                    lambda name: pipeline.load_tuned(cfg, name),
                                    max_samples=2)
    assert set(rec["models"]) == {"llamita", "mistralito"}


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_changed_arm_weights_are_refused(arms_run, tmp_path):
    """An adapter is only ever put on the weights it was trained on: a replaced arm directory is a ModelError."""
    from cancerllm import pipeline

    cfg, _, _, _, _ = arms_run
    moved = make_config({**cfg.to_dict(), "arms": {**cfg.arms, "llamita": cfg.arms["mistralito"]}})
    with pytest.raises(ModelError, match="different base"):
        pipeline.load_tuned(moved, "llamita")


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_untuned_arms_are_scored_zero_shot_through_their_chat_template(arms_run, tiny_arms):
    """`arms_zero_shot` adds each external arm untuned ("<arm>_zero_shot") to chapter 30's systems; an arm whose
    tokenizer has a chat template is asked through it (one user turn, then the assistant's), the other as is."""
    from dataclasses import replace

    from cancerllm import evaluation as ev
    from cancerllm import inference, pipeline

    cfg, sets, _, _, _ = arms_run
    zs = replace(cfg, arms_zero_shot=True)
    assert ev.model_systems(zs) == ["no_cpt", "general_cpt", "cancer_cpt", "llamita", "mistralito", "zero_shot",
                                    "llamita_zero_shot", "mistralito_zero_shot"]
    _, mistral_tok = pipeline.load_arm(cfg, "mistralito")
    _, llama_tok = pipeline.load_arm(cfg, "llamita")
    wrap = inference.chat_wrapper(mistral_tok)
    assert inference.chat_wrapper(llama_tok) is None
    prompt = sets["test"]["prompt"].iloc[0]
    assert wrap(prompt) == f"[INST] {prompt.rstrip()} [/INST]"  # BOS left to the tokenizer, not written twice
    few = sets["test"].head(6)
    details: dict = {}
    preds = ev.predict_models(zs, few, details)
    assert {"llamita_zero_shot", "mistralito_zero_shot"} <= set(preds)
    assert all(len(v) == len(few) for v in preds.values())
    # the untuned mistral arm is the arm's own weights, not its tuned adapter
    tuned, _ = pipeline.load_tuned(cfg, "mistralito")
    untuned, _ = pipeline.load_arm(cfg, "mistralito")
    assert any((a - b).abs().max() > 0 for a, b in zip(tuned.state_dict().values(), untuned.state_dict().values()))


@pytest.mark.slow  # arms_run: a tiny run that trains every arm
def test_untuned_arms_are_scored_few_shot_with_retrieved_examples(arms_run):
    """`arms_few_shot: k` adds "<arm>_few_shot": the untuned arm asked with k BM25-retrieved training cases of the
    same task and field in front of every prompt (the retrieval chapter's prompts), never the patient's own."""
    from dataclasses import replace

    from cancerllm import evaluation as ev

    cfg, sets, _, _, _ = arms_run
    fs = replace(cfg, arms_few_shot=2)
    assert ev.model_systems(fs)[-2:] == ["llamita_few_shot", "mistralito_few_shot"]
    assert ev.untuned_arm(fs, "llamita_few_shot") == ("llamita", "few")
    assert ev.untuned_arm(fs, "cancer_cpt") == (None, None)
    few = sets["test"].head(6)
    rows = ev.few_shot_rows(fs, few, sets["train"])
    assert list(rows["id"]) == list(few["id"]) and (rows["k"] == 2).all()
    assert all(len(r) >= 1 and pid not in r for r, pid in zip(rows["retrieved_patients"], rows["patient_id"]))
    assert all(len(p) > len(q) for p, q in zip(rows["prompt"], few["prompt"]))
    preds = ev.predict_models(fs, few, train=sets["train"])
    assert {"llamita_few_shot", "mistralito_few_shot"} <= set(preds) and len(preds["llamita_few_shot"]) == len(few)
