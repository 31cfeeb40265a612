"""The training chapters' tables: CPT corpora and how the tokenizer splits clinical terms (stage 10),
perplexity and training cost (stages 10 and 20), the instruction sets and one formatted example (stage 20)."""

from __future__ import annotations

import pandas as pd


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


def instruction_table(sets: dict) -> pd.DataFrame:
    """Per task/field: note-level instances per split (train/dev/test) with the share whose gold is 'not
    mentioned', and the tuning examples (sft_train) with the share whose answer is 'not relevant'."""
    from ..data.schema import NOT_MENTIONED
    from ..instructions import NOT_RELEVANT

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
