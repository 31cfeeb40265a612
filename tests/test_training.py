"""Model factory, instruction data, TRL training (EOS, completion-only loss, resume), adapter/base checks."""

import json

import pytest
import torch

from cancerllm import inference, instructions, modeling, pipeline, training
from cancerllm.config import make_config
from cancerllm.data.synthetic import generate_cohort
from cancerllm.data.schema import QUESTIONS
from cancerllm.errors import ModelError
from cancerllm.instructions import (DIAGNOSIS_INSTRUCTION, FRAME_TOKENS, PHENOTYPE_INSTRUCTION, join_input,
                                    render)

TINY = {"n_patients": 24, "n_general_notes": 12, "vocab_size": 600, "hidden_size": 32, "intermediate_size": 64,
        "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1, "cpt_block_size": 64,
        "cpt_max_steps": 4, "sft_max_steps": 6, "sft_max_length": 320, "save_steps": 3, "eval_steps": 3,
        "max_sft_examples": 24, "cpt_per_device_train_batch_size": 4, "sft_per_device_train_batch_size": 4}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cfg = make_config({"runs_root": str(tmp_path_factory.mktemp("runs")), **TINY})
    cohort = generate_cohort(cfg.n_patients, seed=cfg.seed, n_general_notes=cfg.n_general_notes)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    model, tok = pipeline.prepare_base(cfg, corpora)
    return cfg, cohort, corpora, model, tok


def test_tokenizer_is_deterministic_and_has_specials(world):
    cfg, _, corpora, _, tok = world
    again = pipeline.run_tokenizer(corpora, cfg.vocab_size)
    text = "pT2N1aM0 invasive ductal carcinoma, ER positive"
    assert tok(text)["input_ids"] == again(text)["input_ids"]
    assert len(tok) == cfg.vocab_size + len(FRAME_TOKENS)
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert {tok.bos_token, tok.eos_token, tok.pad_token} == {"<s>", "</s>", "<pad>"}


def test_the_prompt_frame_costs_one_token_a_piece_and_decodes_to_itself(world):
    """The frame's fixed pieces are single tokens (FRAME_TOKENS), in both templates; a passage's first word and
    a completion are tokenised as they would be without them, and decoding gives the prompt back."""
    cfg, _, corpora, _, tok = world
    plain = modeling.train_tokenizer(pipeline.tokenizer_texts(corpora), cfg.vocab_size)
    body = "Tumor size: 2.6 cm, grade 2."
    for style in ("short", "alpaca"):
        prompt = render(PHENOTYPE_INSTRUCTION, join_input(body, QUESTIONS["t_stage"]), style)
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        pieces = tok.convert_ids_to_tokens(ids)
        assert pieces[-2:] == [" in the given context?", "\n\n### Response:\n"]
        assert tok.decode(ids) == prompt and tok.decode(tok(prompt + "not relevant")["input_ids"],
                                                        skip_special_tokens=True) == prompt + "not relevant"
        assert len(ids) <= len(plain(prompt, add_special_tokens=False)["input_ids"]) - 10
        inside = plain(" " + body, add_special_tokens=False)["input_ids"]  # the passage as inside a note
        assert any(ids[i:i + len(inside)] == inside for i in range(len(ids)))
    short = tok(render(DIAGNOSIS_INSTRUCTION, body, "short"), add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(short)[0] == "### Input:\n"


def test_small_model_shape_and_init(world):
    cfg, _, _, model, tok = world
    assert model.config.hidden_size == cfg.hidden_size and model.config.num_hidden_layers == cfg.num_hidden_layers
    assert model.config.vocab_size == len(tok)
    # initializer_range reaches the weights: std of a projection is close to the configured range
    w = model.model.layers[0].self_attn.q_proj.weight
    assert abs(w.std().item() - cfg.initializer_range) < 0.05 * cfg.initializer_range + 0.01


def test_instructions_both_tasks_and_not_mentioned(world):
    cfg, cohort, _, _, tok = world
    df = instructions.build_instructions(cohort, "train", tok, cfg.sft_max_length, cfg.max_new_tokens)
    n_train = (cohort.labels["split"] == "train").sum()
    assert (df["task"] == "diagnosis_generation").sum() == n_train
    assert (df["task"] == "phenotype_extraction").sum() == 8 * n_train
    assert (df["response"] == "not mentioned").any()
    row = df[df["field"] == "tumor_size"].iloc[0]
    assert row.prompt.startswith("Below is an instruction that describes a task, paired with an input")
    assert row.prompt.endswith("### Response:\n") and "What is the tumor size in the given context?" in row.prompt
    # what reaches a model fits: the diagnosis input is cut to the budget; phenotype instances are read passage by
    # passage (the whole report is never one prompt), and every passage prompt fits
    budget = cfg.sft_max_length - cfg.max_new_tokens + 8
    diag = df[df["task"] == "diagnosis_generation"]
    assert max(len(tok(p)["input_ids"]) for p in diag["prompt"]) <= budget
    phen = df[df["task"] == "phenotype_extraction"]
    assert max(len(tok(p)["input_ids"]) for p in phen["prompt"]) > budget  # the whole report would not fit
    assert max(len(tok(p)["input_ids"]) for _, r in phen.iterrows() for p in inference.sentence_prompts(r)) <= budget
    assert instructions.split_answers("ER positive, PR negative ,") == ["ER positive", "PR negative"]


def _sft_trainer(cfg, model, tok, df, out):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(out), max_length=cfg.sft_max_length, completion_only_loss=cfg.sft_completion_only_loss,
                     use_cpu=True, bf16=False, report_to="none", activation_checkpointing=False)
    return SFTTrainer(model=model, args=args, processing_class=tok,
                      train_dataset=Dataset.from_pandas(df[["prompt", "completion"]].head(4), preserve_index=False))


def test_eos_appended_and_completion_only_mask(world, tmp_path):
    cfg, cohort, _, model, tok = world
    df = pipeline.instruction_sets(cfg, cohort, tok)["sft_train"]  # what the models are tuned on
    assert set(df["task"]) == {"phenotype_extraction", "diagnosis_generation"}
    assert max(len(tok(p + c)["input_ids"]) for p, c in zip(df["prompt"], df["completion"])) < cfg.sft_max_length
    ex = _sft_trainer(cfg, model, tok, df, tmp_path).train_dataset[0]
    assert ex["input_ids"][-1] == tok.eos_token_id  # the reference's missing-EOS bug is fixed
    labels = ex["labels"]  # TRL folds the completion mask into the labels: prompt positions are -100
    n_prompt = next(i for i, v in enumerate(labels) if v != -100)
    assert set(labels[:n_prompt]) == {-100} and labels[n_prompt:] == ex["input_ids"][n_prompt:]
    assert tok.decode(ex["input_ids"][n_prompt:], skip_special_tokens=True).strip() == df.iloc[0]["completion"]


@pytest.mark.slow  # trains
def test_cpt_lowers_perplexity_on_its_corpus(world):
    cfg, _, corpora, _, tok = world
    res = pipeline.continued_pretraining(cfg, *pipeline.load_base(cfg)[:1], tok, corpora)
    assert res["cancer_cpt"]["steps"] == cfg.cpt_max_steps
    assert res["cancer_cpt"]["ppl"]["cancer"] < res["base"]["ppl"]["cancer"]
    assert res["cancer_cpt"]["tokens_seen"] == res["general_cpt"]["tokens_seen"]  # same token budget
    assert (pipeline.cpt_dir(cfg, "cancer_cpt") / "final" / "model.safetensors").is_file()


@pytest.mark.slow  # trains
def test_sft_resume_matches_uninterrupted(world, tmp_path):
    cfg, cohort, _, _, tok = world
    sets = pipeline.instruction_sets(cfg, cohort, tok)
    full_model, _ = pipeline.load_base(cfg)
    _, full = training.run_sft(cfg, full_model, tok, sets["train"], sets["dev"], tmp_path / "full")
    part_model, _ = pipeline.load_base(cfg)
    _, first = training.run_sft(cfg, part_model, tok, sets["train"], sets["dev"], tmp_path / "cut", stop_after_steps=3)
    assert first["steps"] == 3
    resumed_model, _ = pipeline.load_base(cfg)
    _, second = training.run_sft(cfg, resumed_model, tok, sets["train"], sets["dev"], tmp_path / "cut")
    assert second["resumed_from"] == "checkpoint-3" and second["steps"] == cfg.sft_max_steps
    last = [h["loss"] for h in full["log_history"] if "loss" in h][-1]
    last_resumed = [h["loss"] for h in second["log_history"] if "loss" in h][-1]
    assert last_resumed == pytest.approx(last, abs=1e-5)
    evals = [h["eval_loss"] for h in full["log_history"] if "eval_loss" in h]
    evals_resumed = [h["eval_loss"] for h in second["log_history"] if "eval_loss" in h]
    assert evals_resumed[-1] == pytest.approx(evals[-1], abs=1e-5)


def test_adapter_on_wrong_base_is_refused(world):
    cfg, cohort, _, _, tok = world
    sets = pipeline.instruction_sets(cfg, cohort, tok)
    cfg1 = make_config({**cfg.to_dict(), "ablation_models": ["no_cpt"], "sft_max_steps": 2})
    pipeline.instruction_tuning(cfg1, sets)
    model, _ = pipeline.load_tuned(cfg1, "no_cpt", merge=False)
    assert type(model).__name__ == "PeftModelForCausalLM"
    base_json = pipeline.sft_dir(cfg1, "no_cpt") / "final" / "base.json"
    rec = json.loads(base_json.read_text())
    base_json.write_text(json.dumps({**rec, "sha256": "0" * 64}))
    with pytest.raises(ModelError, match="adapter was trained on a different base"):
        pipeline.load_tuned(cfg1, "no_cpt")


def test_full_sft_trains_every_weight_and_reloads_as_saved(world, tmp_path):
    """sft_adapter: full (the CPU demo's choice): no adapter, every weight trained, and load_tuned returns the
    saved model with the same weights (still checked against the init it was trained from)."""
    cfg, cohort, _, _, tok = world
    sets = pipeline.instruction_sets(cfg, cohort, tok)
    cfg1 = make_config({**cfg.to_dict(), "runs_root": str(tmp_path), "ablation_models": ["no_cpt"],
                        "sft_max_steps": 2, "sft_adapter": "full", "save_steps": 2, "eval_steps": 2})
    pipeline.prepare_base(cfg1, training.cpt_corpora(cohort, cfg1.seed))
    base, _ = pipeline.load_base(cfg1)
    results = pipeline.instruction_tuning(cfg1, sets)
    params = results["no_cpt"]["parameters"]
    assert params["trainable"] == params["total"]
    final = pipeline.sft_dir(cfg1, "no_cpt") / "final"
    assert not (final / "adapter_config.json").exists() and (final / "model.safetensors").is_file()
    tuned, _ = pipeline.load_tuned(cfg1, "no_cpt")
    assert type(tuned).__name__ == "MistralForCausalLM"
    before, after = base.state_dict(), tuned.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # training changed the weights
    base_json = final / "base.json"
    base_json.write_text(json.dumps({**json.loads(base_json.read_text()), "sha256": "0" * 64}))
    with pytest.raises(ModelError, match="adapter was trained on a different base"):
        pipeline.load_tuned(cfg1, "no_cpt")


def test_model_dir_checks(tmp_path):
    from cancerllm.model_check import check_model_dir

    with pytest.raises(ModelError, match="not a model directory"):
        check_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"]}))
    with pytest.raises(ModelError, match="is not a causal LM"):
        check_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["MistralForCausalLM"]}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelError, match="pickle .bin weights are refused"):
        check_model_dir(tmp_path)


def test_batched_generation_equals_sequential(world):
    from cancerllm import inference

    cfg, cohort, _, _, tok = world
    model, _ = pipeline.load_base(cfg)
    prompts = list(instructions.build_instructions(cohort, "test", tok, 160, 8)["prompt"].head(6))
    batched = inference.generate(model, tok, prompts, max_new_tokens=6, batch_size=3)
    seq = inference.generate_sequential(model, tok, prompts, max_new_tokens=6)
    assert batched == seq
    assert inference.parse_answer("### Response:\n T2, N0 \nextra") == ["T2", "N0"]
    assert inference.parse_answer("") == []
    torch.manual_seed(0)


def test_paper_profile_dry_run_builds_7b_shape_without_weights():
    from cancerllm.config import load_params
    from cancerllm.dryrun import dry_run_report

    rep = dry_run_report(load_params("params/paper.yaml"))
    assert rep["parameters_total"] == 7_241_732_096  # Mistral-7B
    assert rep["cpt_lora_trainable"] == 20_971_520  # r=8 on q,k,v,o,gate,up,down of 32 layers
    assert rep["cpt"]["max_length"] == 3000 and rep["cpt"]["epochs"] == 0.5 and rep["cpt"]["lr"] == 2e-4
    assert rep["cpt"]["max_steps"] == -1 and rep["cpt"]["warmup_steps"] == 0.05 and rep["cpt"]["save_steps"] == 500
    assert rep["sft"] == {"max_length": 4000, "completion_only_loss": False, "lr": 2e-4, "epochs": 5.0,
                          "max_steps": -1, "effective_batch": 4, "max_grad_norm": 0.3, "warmup_steps": 0.03,
                          "eval_steps": 500, "save_steps": 500, "adapter": "continue"}


@pytest.mark.parametrize("profile", [None, "demo", "paper"])
def test_dry_run_builds_the_trl_configs_training_uses(profile, tmp_path, monkeypatch):
    """run_cpt and run_sft hand SFTTrainer exactly the configs (and CPT LoRA) the dry run reports on."""
    import pandas as pd
    import trl

    from cancerllm.config import REPO_ROOT, load_params
    from cancerllm.dryrun import dry_run_args

    cfg = load_params(REPO_ROOT / "params" / f"{profile}.yaml") if profile else make_config({})
    seen = {}

    class Built(Exception):
        pass

    class FakeTrainer:  # a class: run_cpt may subclass it (training.own_loss_trainer)
        def __init__(self, **kw):
            seen.update(kw)
            raise Built

    monkeypatch.setattr(trl, "SFTTrainer", FakeTrainer)
    with pytest.raises(Built):
        training.run_cpt(cfg, None, None, ["a note"], tmp_path / "cpt")
    cpt, cpt_peft = seen["args"], seen["peft_config"]
    pairs = pd.DataFrame({"prompt": ["q"], "completion": ["a"]})
    with pytest.raises(Built):
        training.run_sft(cfg, None, None, pairs, pairs, tmp_path / "sft")
    dry = dry_run_args(cfg, tmp_path)
    assert dry["cpt"].to_dict() == cpt.to_dict() and dry["sft"].to_dict() == seen["args"].to_dict()
    assert (cpt.max_steps, seen["args"].max_steps) == (cfg.cpt_max_steps, cfg.sft_max_steps)
    assert (cpt.warmup_steps, seen["args"].warmup_steps) == (cfg.cpt_warmup_steps, cfg.sft_warmup_steps)
    assert cpt_peft == (training.cpt_lora_config(cfg) if cfg.cpt_use_lora else None)


def test_trainer_reports_progress_on_the_console_bar_in_a_notebook(world, tmp_path, monkeypatch, capsys):
    """In a notebook transformers picks NotebookProgressCallback (an HTML per-step loss table that stayed in the
    book); _train swaps it for the console bar on stderr, which the book drops, without the per-step log dicts
    transformers' console callback prints on stdout (which the book keeps)."""
    import transformers.trainer as hf_trainer
    from transformers.trainer_callback import ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    cfg, _, corpora, _, tok = world
    monkeypatch.setattr(hf_trainer, "DEFAULT_PROGRESS_CALLBACK", NotebookProgressCallback)  # as under IPython
    seen, real = {}, training.console_progress

    def spy(trainer):
        seen["before"] = [type(c) for c in trainer.callback_handler.callbacks]
        real(trainer)
        seen["after"] = [type(c) for c in trainer.callback_handler.callbacks]

    monkeypatch.setattr(training, "console_progress", spy)
    training.run_cpt(cfg, pipeline.load_base(cfg)[0], tok, corpora["cancer"]["train"], tmp_path / "cpt",
                     stop_after_steps=1)
    assert NotebookProgressCallback in seen["before"]
    assert NotebookProgressCallback not in seen["after"] and training.bar_only_progress() in seen["after"]
    assert issubclass(training.bar_only_progress(), ProgressCallback)
    assert "'loss'" not in capsys.readouterr().out


def test_small_model_parameters_counts_what_modeling_builds():
    """The refusal of a random 7B model (model_check.check_base) counts parameters from the config alone: the count
    must equal the built model's, for the demo shape and for an odd one (GQA, vocabulary not a power of two)."""
    from cancerllm.config import make_config
    from cancerllm.model_check import small_model_parameters
    from cancerllm.modeling import build_small_model, train_tokenizer

    tok = train_tokenizer(["tumour size 2 cm, grade 3"] * 20, 300)
    for shape in ({}, {"hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 6, "num_key_value_heads": 3,
                       "intermediate_size": 200, "efficiency_hidden_sizes": [96]}):
        cfg = make_config({"vocab_size": len(tok), **shape})
        model = build_small_model(cfg, tok)
        assert small_model_parameters(cfg) == sum(p.numel() for p in model.parameters())


def _fused_loss_and_grads(model, batch, compact: bool, monkeypatch):
    """The SFT loss TRL computes (its fused LM head, as SFTTrainer.compute_loss calls it), its gradients and the
    number of rows that reached the head's projection."""
    from trl.kernels import ChunkedLogProbFunction as _ChunkedLogProbFunction

    rows, apply = [], _ChunkedLogProbFunction.apply

    def counting(hidden, *args):
        rows.append(hidden.shape[0])
        return apply(hidden, *args)

    model.zero_grad(set_to_none=True)
    with monkeypatch.context() as m:
        m.setattr(_ChunkedLogProbFunction, "apply", counting)
        with training.compact_lm_head(enabled=compact) as took:
            out = model(**batch, fused_lm_head=True)
            out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return took, out.loss.detach(), grads, sum(rows)


def test_compact_lm_head_projects_only_labelled_positions_with_the_same_loss(world, monkeypatch):
    """TRL projects every position through its fused LM head on a CPU; `compact_lm_head` makes it project only
    the positions that carry a label (the answer of a prompt/completion pair), with the same loss and gradients.
    Fails if TRL drops the switch (then the speed-up silently goes)."""
    from trl.trainer.utils import add_fused_lm_head

    cfg, _, _, _, tok = world
    model = modeling.build_small_model(cfg, tok)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids = torch.randint(5, len(tok), (3, 20))
    labels = torch.full_like(ids, -100)
    labels[:, 16:] = ids[:, 16:]  # the answer: the last 4 tokens of each row
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    took_off, loss_off, grads_off, rows_off = _fused_loss_and_grads(model, batch, compact=False, monkeypatch=monkeypatch)
    took_on, loss_on, grads_on, rows_on = _fused_loss_and_grads(model, batch, compact=True, monkeypatch=monkeypatch)
    assert (took_off, took_on) == (False, True)
    assert rows_off == 3 * 19 and rows_on == 3 * 4  # shifted: 19 next-token positions a row, 4 labelled
    assert torch.allclose(loss_on, loss_off, atol=1e-6)
    assert grads_on.keys() == grads_off.keys()
    assert all(torch.allclose(grads_on[n], grads_off[n], atol=1e-6) for n in grads_off)
    from trl.trainer import utils

    assert utils._use_triton(torch.device("cpu")) is False  # restored after the block


def test_cpt_on_cpu_takes_the_model_own_loss_with_the_same_result(world, tmp_path):
    """Continued pretraining on a CPU uses transformers' own loss (training.own_loss_trainer) instead of TRL's
    fused LM head: the same loss and gradients on the same packed batch."""
    import dataclasses

    from trl import SFTTrainer
    from datasets import Dataset

    cfg, _, corpora, _, tok = world
    model = modeling.build_small_model(cfg, tok)
    args = training.cpt_args(dataclasses.replace(cfg, cpt_max_steps=1), tmp_path)
    data = Dataset.from_dict({"text": corpora["cancer"]["train"][:8]})
    results = []
    for cls in (SFTTrainer, training.own_loss_trainer(SFTTrainer)):
        trainer = cls(model=model, args=args, train_dataset=data, processing_class=tok)
        batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
        model.zero_grad(set_to_none=True)
        loss = trainer.compute_loss(model, batch)
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (fused, g_fused), (own, g_own) = results
    assert torch.allclose(own, fused, atol=1e-5)
    assert all(torch.allclose(g_own[n], g_fused[n], atol=1e-5) for n in g_fused)
