"""Stage-level steps of the training chapters: where models live in the run directory, how each ablation
model is initialised, and the loops over models. Stages hand models to each other only through files:

  10_continued_pretraining/models/base/          small model + tokenizer (or a pointer to the local base_model)
  10_continued_pretraining/models/<general|cancer>_cpt/final/   CPT result (full weights, or a LoRA adapter)
  20_instruction_tuning/models/<model>/final/    SFT LoRA adapter (or full weights) + base.json naming its init

Used in notebooks/10_continued_pretraining.ipynb, 20_instruction_tuning.ipynb and 30_evaluation.ipynb.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pandas as pd
import torch

from . import modeling, training
from .config import arm_names
from .errors import ModelError
from .instructions import build_instructions, cap_examples, frame_texts, section_views, sentence_examples
from .provenance import file_sha256
from .safe_weights import check_adapter_dir

CPT_STAGE, SFT_STAGE = "10_continued_pretraining", "20_instruction_tuning"


def base_dir(cfg) -> Path:
    return cfg.stage_path(CPT_STAGE) / "models" / "base"


def cpt_dir(cfg, name: str) -> Path:
    return cfg.stage_path(CPT_STAGE) / "models" / name


def sft_dir(cfg, name: str) -> Path:
    return cfg.stage_path(SFT_STAGE) / "models" / name


def tokenizer_texts(corpora: dict) -> list[str]:
    """The BPE tokenizer's training text: both CPT corpora's training notes and the prompt frame
    (`instructions.frame_texts`). One list, so the pipeline and the distributed probe train the same tokenizer."""
    return corpora["cancer"]["train"] + corpora["general"]["train"] + frame_texts()


def prepare_base(cfg, corpora: dict):
    """The base model and the one tokenizer every ablation model shares. For `base_model: small`, train a
    BPE tokenizer on the training text of both CPT corpora and build a seeded small Mistral; save both."""
    out = base_dir(cfg)
    if not cfg.uses_small_model:
        model, tokenizer = modeling.load_model(Path(cfg.base_model), dtype=_dtype(cfg), quantize_4bit=cfg.load_in_4bit)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pointer.json").write_text(json.dumps({"base_model": str(cfg.base_model)}), encoding="utf-8")
        return model, tokenizer
    tokenizer = modeling.train_tokenizer(tokenizer_texts(corpora), cfg.vocab_size)
    model = modeling.build_small_model(cfg, tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return model, tokenizer


def _dtype(cfg):
    """Weights' dtype when loading: small models stay fp32 (bf16 is for the trainer's autocast); a local base
    model loads in bf16 when `bf16` is set."""
    return torch.bfloat16 if cfg.bf16 and not cfg.uses_small_model else torch.float32


def load_base(cfg):
    """Reload the base model and tokenizer saved by `prepare_base`."""
    pointer = base_dir(cfg) / "pointer.json"
    path = Path(json.loads(pointer.read_text())["base_model"]) if pointer.is_file() else base_dir(cfg)
    return modeling.load_model(path, dtype=_dtype(cfg),
                               quantize_4bit=cfg.load_in_4bit and not cfg.uses_small_model)


def load_init(cfg, name: str):
    """The model an ablation arm starts SFT from: the base (no_cpt) or its CPT result.

    A LoRA CPT result is either kept as a trainable adapter (`sft_adapter: continue`, the reference's quirk)
    or merged into the base (`new`)."""
    from peft import PeftModel

    if name in cfg.arms:
        return load_arm(cfg, name)
    model, tokenizer = load_base(cfg)
    if name == "no_cpt":
        return model, tokenizer
    path = cpt_dir(cfg, name) / "final"
    if (path / "adapter_config.json").is_file():
        check_adapter_dir(path)  # safetensors only: PEFT would fall back to a pickle adapter_model.bin
        model = PeftModel.from_pretrained(model, str(path), is_trainable=cfg.sft_adapter == "continue")
        return (model if cfg.sft_adapter == "continue" else model.merge_and_unload()), tokenizer
    return modeling.load_model(path)


def load_arm(cfg, name: str):
    """An external arm (params key `arms`): the local model directory and its own tokenizer, loaded like a local
    base_model (bf16 when `bf16` is set, 4-bit with `load_in_4bit`)."""
    return modeling.load_model(Path(cfg.arms[name]), dtype=torch.bfloat16 if cfg.bf16 else torch.float32,
                               quantize_4bit=cfg.load_in_4bit)


def arm_config(cfg, name: str, tokenizer=None, sets: dict | None = None):
    """The config an arm is tuned with. The ablation uses the run's own; an external arm always gets a fresh LoRA
    (`sft_adapter: new`, the recipe the paper applied to every model it compared) — training every weight of a 7B
    model is not what the paper did, and the demo's `full` is only for its ~2M-parameter models — and an SFT
    max_length that fits its longest tuning example under its own tokenizer (the examples were cut to
    sft_max_length tokens of the run's tokenizer; another tokenizer may need more), at most its context size."""
    if name not in cfg.arms:
        return cfg
    longest = cfg.sft_max_length
    if tokenizer is not None and sets:
        texts = [p + c for df in (sets["sft_train"], sets["sft_dev"]) for p, c in zip(df["prompt"], df["completion"])]
        longest = max([longest, *(len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=True)["input_ids"])])
    limit = modeling.context_size(Path(cfg.arms[name]))
    return dataclasses.replace(cfg, sft_adapter="new", sft_max_length=min(longest, limit) if limit else longest)


def _weights_fingerprint(path: Path) -> str:
    """Hash of an external arm's weight files: each shard's name, size and safetensors header (tensor names,
    shapes, dtypes and offsets) — not the full 14 GB of a 7B model, which every chapter would re-read."""
    h = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")):
        with open(file, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            h.update(f"{file.name}:{file.stat().st_size}:".encode() + fh.read(min(n, 100_000_000)))
    return h.hexdigest()


def init_fingerprint(cfg, name: str) -> dict:
    """What an SFT adapter was trained on top of: the init's path and a hash of its weights."""
    if name in cfg.arms:
        return {"init": name, "path": cfg.arms[name], "sha256": _weights_fingerprint(Path(cfg.arms[name]))}
    path = base_dir(cfg) if name == "no_cpt" else cpt_dir(cfg, name) / "final"
    weights = sorted(path.glob("*.safetensors"))
    return {"init": name, "path": str(path), "sha256": file_sha256(weights[0]) if weights else None}


def continued_pretraining(cfg, model, tokenizer, corpora: dict) -> dict:
    """Train general_cpt and cancer_cpt from the same base with the same token budget; perplexity before/after
    on held-out cancer and general text. Returns metrics per model (and the base's perplexities)."""
    results = {"base": {"ppl": _ppl(cfg, model, tokenizer, corpora)}}
    for name, corpus in training.CPT_CORPORA.items():
        if name not in cfg.ablation_models:
            continue
        fresh, _ = load_base(cfg)
        trained, metrics = training.run_cpt(cfg, fresh, tokenizer, corpora[corpus]["train"], cpt_dir(cfg, name))
        metrics["corpus"] = corpus
        metrics["ppl"] = _ppl(cfg, trained, tokenizer, corpora)
        results[name] = metrics
    return results


def _ppl(cfg, model, tokenizer, corpora) -> dict:
    return {c: training.perplexity(model, tokenizer, corpora[c]["heldout"], cfg.cpt_block_size) for c in corpora}


#: dev examples the SFT dev loss is computed on (the demo's dev split has ~1,000)
SFT_DEV_MAX = 256


def instruction_sets(cfg, cohort, tokenizer) -> dict[str, pd.DataFrame]:
    """The note-level instances every system is scored on — train (all; what the baselines fit and retrieval
    indexes), dev (all) and test (capped at max_eval_instances) — and the examples the language models are
    tuned on: sft_train (sentence-level phenotype QA plus diagnosis, capped at max_sft_examples) and sft_dev
    (at most SFT_DEV_MAX of the same kind from the dev split — 96 when max_sft_examples caps the tuning set —
    sampled by ``cap_examples``: dev loss is computed every eval_steps to pick the best checkpoint, and the
    whole dev split, ~1,000 examples in the demo, cost ~40 s per model)."""
    sets = {s: build_instructions(cohort, s, tokenizer, cfg.sft_max_length, cfg.max_new_tokens, cfg.prompt_style)
            for s in ("train", "dev", "test")}
    n = cfg.max_sft_examples
    sft = {s: sft_examples(cfg, cohort, sets[s], s) for s in ("train", "dev")}
    sets["sft_train"] = cap_examples(sft["train"], n, cfg.seed)
    sets["sft_dev"] = cap_examples(sft["dev"], SFT_DEV_MAX if n == -1 else min(96, max(8, n // 4)), cfg.seed)
    sets["test"] = cap_examples(sets["test"], cfg.max_eval_instances, cfg.seed)
    return sets


def sft_examples(cfg, cohort, notes: pd.DataFrame, split: str) -> pd.DataFrame:
    """Tuning examples of one split: the sentence-level phenotype QA (``instructions.sentence_examples``) and the
    split's diagnosis instances, each repeated sft_diagnosis_repeat times (one diagnosis example per patient
    against ~10 passages per field: without the repeat diagnosis gets ~3% of the gradient steps), plus with
    sft_diagnosis_views each diagnosis input's sections alone and shuffled (``instructions.section_views``)."""
    phen = sentence_examples(cohort, split, cfg.prompt_style, cfg.sft_negatives, cfg.seed)
    diag = notes[notes["task"] == "diagnosis_generation"]
    views = [section_views(diag, cfg.prompt_style, cfg.seed)] if cfg.sft_diagnosis_views else []
    return pd.concat([phen] + [diag] * cfg.sft_diagnosis_repeat + views, ignore_index=True)


def instruction_tuning(cfg, sets: dict) -> dict:
    """SFT every arm (the ablation, then the external arms of `arms`) on the same examples with the same seed;
    save adapter + base.json. External arms are tuned as ``arm_config`` says (fresh LoRA, their own tokenizer)."""
    results = {}
    for name in arm_names(cfg):
        model, tokenizer = load_init(cfg, name)
        out = sft_dir(cfg, name)
        tuned = arm_config(cfg, name, tokenizer, sets)  # tokenises every tuning example for an external arm
        _trained, metrics = training.run_sft(tuned, model, tokenizer, sets["sft_train"], sets["sft_dev"], out)
        if name in cfg.arms:
            metrics["arm"] = {"path": cfg.arms[name], "sft_adapter": "new", "sft_max_length":
                              tuned.sft_max_length}
        (out / "final" / "base.json").write_text(json.dumps(init_fingerprint(cfg, name), indent=2), encoding="utf-8")
        results[name] = metrics
    return results


def load_tuned(cfg, name: str, merge: bool = True):
    """An SFT adapter on the exact model it was trained on (checked by weight hash, unlike the reference,
    whose inference put the adapter on a different base). `merge` folds the LoRA weights into the base for
    inference (about 3x faster generation on CPU; skipped for 4-bit bases). A fully fine-tuned model
    (`sft_adapter: full`) is loaded as it was saved."""
    from peft import PeftModel

    adapter = sft_dir(cfg, name) / "final"
    recorded = json.loads((adapter / "base.json").read_text(encoding="utf-8"))
    current = init_fingerprint(cfg, name)
    if recorded.get("sha256") != current.get("sha256"):
        raise ModelError(f"{adapter}: adapter was trained on a different base ({recorded.get('path')}); "
                         f"re-run 20_instruction_tuning")
    if not (adapter / "adapter_config.json").is_file():  # sft_adapter: full saved every weight
        model, tokenizer = modeling.load_model(adapter, dtype=_dtype(cfg))
        return model.eval(), tokenizer
    continued = (name not in cfg.arms and cfg.sft_adapter == "continue"
                 and (cpt_dir(cfg, name) / "final" / "adapter_config.json").is_file())
    # "continue" trained the CPT adapter itself, so it sits directly on the base
    check_adapter_dir(adapter)  # safetensors only, before its base is loaded
    model, tokenizer = load_base(cfg) if continued else load_init(cfg, name)
    model = PeftModel.from_pretrained(model, str(adapter))
    if merge and not cfg.load_in_4bit:
        model = model.merge_and_unload()
    model.eval()
    return model, tokenizer


def corpus_table(corpora: dict, tokenizer) -> pd.DataFrame:
    """Documents, words and model tokens of each CPT corpus part (train / held-out)."""
    rows = []
    for corpus, parts in corpora.items():
        for part, texts in parts.items():
            words = sum(len(t.split()) for t in texts)
            tokens = sum(len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]) if texts else 0
            rows.append({"corpus": corpus, "part": part, "documents": len(texts), "words": words, "tokens": tokens,
                         "tokens per word": round(tokens / max(words, 1), 2)})
    return pd.DataFrame(rows).set_index(["corpus", "part"])


def tokenizer_examples(tokenizer, terms=("pT2N1aM0", "HER2-negative", "adenocarcinoma", "lymphovascular",
                                          "hypertension", "metformin")) -> pd.DataFrame:
    """How the tokenizer splits a few clinical terms (vocabulary words, not patient text)."""
    return pd.DataFrame([{"term": t, "pieces": " | ".join(tokenizer.tokenize(t)).replace("Ġ", "␣"),
                          "tokens": len(tokenizer.tokenize(t))} for t in terms]).set_index("term")


def perplexity_table(cpt: dict) -> pd.DataFrame:
    """Rows: base, general_cpt, cancer_cpt; columns: held-out perplexity on cancer and general text."""
    return pd.DataFrame({name: res["ppl"] for name, res in cpt.items()}).T.rename(
        columns={"cancer": "cancer text", "general": "general clinical text"}).round(2)


def training_table(results: dict) -> pd.DataFrame:
    """Cost of each training run: steps, wall time, throughput, trainable parameters, best checkpoint."""
    rows = {}
    for name, res in results.items():
        if "steps" not in res:
            continue
        evals = [h["eval_loss"] for h in res["log_history"] if "eval_loss" in h]
        rows[name] = {"steps": res["steps"], "seconds": res["seconds"], "tokens/s": res.get("tokens_per_second"),
                      "trainable params": res["parameters"]["trainable"], "total params": res["parameters"]["total"],
                      "final train loss": round(res["train_loss"], 3),
                      "best dev loss": round(min(evals), 3) if evals else None,
                      "best checkpoint": res.get("best_checkpoint")}
    return pd.DataFrame(rows).T


SETS = ("train", "dev", "test", "sft_train", "sft_dev")


def save_sets(sets: dict, out: Path) -> None:
    """Persist the instruction sets (run directory only; never rendered for real data)."""
    out.mkdir(parents=True, exist_ok=True)
    for split, df in sets.items():
        df.to_json(out / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)


def load_sets(cfg) -> dict:
    d = cfg.stage_path(SFT_STAGE) / "instructions"
    return {s: pd.read_json(d / f"{s}.jsonl", lines=True, dtype=False) for s in SETS if (d / f"{s}.jsonl").is_file()}


def reading(cfg) -> dict:
    """The keyword arguments every stage that scores an LM passes to ``inference.predict``: the run's phrase ->
    label normaliser (``answer_normaliser``) and its phenotype decoding (``phenotype_decoding``: copy-
    constrained, or free as in the paper)."""
    return {"normaliser": answer_normaliser(cfg), "copy": cfg.phenotype_decoding == "copy"}


def answer_normaliser(cfg):
    """The run's phrase -> label normaliser (``normalise.AnswerNormaliser``), fitted on its saved tuning
    examples (the sentence-level positives: copied phrase and the note's label). Deterministic and cheap
    (~0.1 s), so every stage that scores an LM refits it instead of storing it."""
    from .normalise import AnswerNormaliser

    path = cfg.stage_path(SFT_STAGE) / "instructions" / "sft_train.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tuning examples; run 20_instruction_tuning first")
    return AnswerNormaliser().fit(pd.read_json(path, lines=True, dtype=False))


def instruction_table(sets: dict) -> pd.DataFrame:
    """Per task/field: note-level instances per split (train/dev/test) with the share whose gold is 'not
    mentioned', and the tuning examples (sft_train) with the share whose answer is 'not relevant'."""
    from .data.schema import NOT_MENTIONED
    from .instructions import NOT_RELEVANT

    notes = pd.concat([sets[s].assign(split=s) for s in ("train", "dev", "test") if s in sets])
    tab = pd.crosstab([notes["task"], notes["field"]], notes["split"]).reindex(columns=["train", "dev", "test"],
                                                                              fill_value=0)
    tab["% not mentioned"] = (notes.assign(nm=notes["response"] == NOT_MENTIONED)
                              .groupby(["task", "field"])["nm"].mean() * 100).round(1)
    if "sft_train" in sets:
        sft = sets["sft_train"]
        g = sft.assign(nr=sft["response"] == NOT_RELEVANT).groupby(["task", "field"])
        tab["tuning examples"] = g.size().reindex(tab.index, fill_value=0)
        tab["% not relevant"] = (g["nr"].mean() * 100).round(1).reindex(tab.index)
    return tab


def example_or_notice(examples: pd.DataFrame, is_real: bool, show: bool):
    """One phenotype and one diagnosis example, fully formatted — synthetic data only."""
    from IPython.display import Markdown

    if is_real:
        return Markdown("*Examples are not shown: this run uses real patient text.*")
    if not show or examples.empty:
        return Markdown("*Examples switched off (`show_examples: false`).*")
    picks = examples.groupby("task", sort=True).head(1)
    return Markdown("\n\n".join(f"**{r.task}** (`{r.field}`, synthetic)\n\n```text\n{r.prompt}{r.completion}</s>\n```"
                                for r in picks.itertuples()))
