"""The robustness testbed: the capped test instances under every condition, stacked so each model predicts them
all in one batched call, and those predictions. Used in notebooks/40_robustness.ipynb.

Every perturbation edits only the note *body* of an instance's input (``instructions.split_input``); the
instruction, the question and the gold answers stay as they are (except in the counterfactual, which changes the
expected answer on purpose), and ``context`` and ``prompt`` are rebuilt exactly as ``build_instructions`` builds
them.
"""

from __future__ import annotations

import pandas as pd

from .. import evaluation
from ..baselines import TfidfBaseline
from ..instructions import cap_examples
from ..perturb import perturb_bodies, with_body
from .counterfactual import counterfactual_set
from .scoring import counterfactual_rates

CONDITIONS = ["misspelling", "ocr", "abbrev_contract", "abbrev_expand", "counterfactual"]


def _perturb_block(base: pd.DataFrame, condition: str, rate: float, seed: int) -> pd.DataFrame:
    bodies, edits = perturb_bodies(base, condition, rate, seed)
    rows = [{**with_body(row, body), "n_edits": n} for row, body, n in zip(base.to_dict("records"), bodies, edits)]
    return pd.DataFrame(rows).assign(condition=condition, rate=float(rate))


def build_testbed(test_df: pd.DataFrame, rates, ocr: bool, max_instances: int, seed: int,
                  counterfactual_max: int | None = None) -> pd.DataFrame:
    """Every condition in one DataFrame (predict it in one batched call per model).

    Columns: condition, rate, source_id, the instruction columns (context/prompt perturbed), original_answers
    (the gold before any edit; differs from ``answers`` only for counterfactual rows), n_edits. The same capped
    instances (``instructions.cap_examples``) in the same order for every noise/abbreviation condition;
    misspelling at rate 0 is the clean baseline (added when ``rates`` lacks 0); ids are "<id>|<condition>|<rate>".
    Counterfactual rows are drawn from every editable test question, capped at `counterfactual_max` (None =
    `max_instances`; -1 = all): a few dozen cases give an evidence-following rate whose CI spans ~30 points.
    """
    base = cap_examples(test_df, max_instances, seed)
    rates = sorted({0.0, *map(float, rates)})
    blocks = [_perturb_block(base, "misspelling", r, seed) for r in rates]
    blocks += [_perturb_block(base, "ocr", r, seed) for r in rates] if ocr else []
    blocks += [_perturb_block(base, c, 0.0, seed) for c in ("abbrev_contract", "abbrev_expand")]
    for b in blocks:
        b["original_answers"] = b["answers"]
    cf, _ = counterfactual_set(test_df, max_instances if counterfactual_max is None else counterfactual_max, seed)
    if not cf.empty:
        blocks.append(cf.assign(condition="counterfactual", rate=0.0))
    bed = pd.concat(blocks, ignore_index=True)
    bed["source_id"] = bed["id"]
    bed["id"] = [f"{i}|{c}|{r:g}" for i, c, r in zip(bed["source_id"], bed["condition"], bed["rate"])]
    front = ["id", "condition", "rate", "source_id"]
    return bed[front + [c for c in bed.columns if c not in front]]


def testbed_table(testbed: pd.DataFrame) -> pd.DataFrame:
    """Per condition and rate: instances, share whose prompt differs from the clean one, mean edits per instance."""
    clean = testbed[(testbed["condition"] == "misspelling") & (testbed["rate"] == 0)].set_index("source_id")["prompt"]
    changed = testbed["prompt"].to_numpy() != testbed["source_id"].map(clean).to_numpy()
    g = testbed.assign(changed=changed).groupby(["condition", "rate"], sort=False)
    return pd.DataFrame({"instances": g.size(), "% changed": (100 * g["changed"].mean()).round(1),
                         "edits per instance": g["n_edits"].mean().round(1)})


def predict_testbed(cfg, testbed: pd.DataFrame, train_df: pd.DataFrame, zero_shot: bool = False,
                    confidence: dict | None = None) -> dict:
    """Answers of every system on every testbed row. Each distinct prompt is predicted once (rate 0 of OCR and
    unchanged abbreviation rows repeat the clean prompt) and each model is loaded once. A `confidence` dict is
    filled with each ablation model's and TF-IDF's confidence per testbed row (sequence probability and
    ``predict_proba``, chapter 35), for the calibration-under-noise table.

    The untuned base (zero-shot) is left out unless ``zero_shot``: it scores ~0 on clean notes, so it has no
    accuracy to lose, and it always generates ``max_new_tokens`` (the slowest system)."""
    uniq = testbed.drop_duplicates("prompt").reset_index(drop=True)
    conf: dict = {}
    if zero_shot:
        preds = evaluation.predict_models(cfg, uniq)
    else:
        preds = evaluation.predict_ablation(cfg, uniq, confidence=conf)
    preds.update(evaluation.predict_baselines(train_df, uniq, cfg.seed))
    pos = {p: i for i, p in enumerate(uniq["prompt"])}
    where = [pos[p] for p in testbed["prompt"]]
    if confidence is not None:
        conf = {name: c["sequence"] for name, c in conf.items()}
        conf["tfidf_logreg"] = TfidfBaseline(seed=cfg.seed).fit(train_df).confidence(uniq).tolist()
        confidence.update({name: [c[i] for i in where] for name, c in conf.items()})
    return {s: [list(p[i]) for i in where] for s, p in preds.items()}


def counterfactual_decoding(cfg, testbed: pd.DataFrame, preds: dict, n_boot: int, seed: int) -> pd.DataFrame:
    """The counterfactual questions answered again by each ablation model decoding freely, beside the run's
    copy-constrained answers (`preds`, from ``predict_testbed``): % evidence-, prior-following and other, with
    95% CIs. Under copy-constrained decoding an answer can only be a phrase of the edited note, so the old
    label is out of reach unless the note still states it; free decoding shows what the model itself would
    write. Empty when the run decodes freely or has no counterfactual rows."""
    mask = (testbed["condition"] == "counterfactual").to_numpy()
    if cfg.phenotype_decoding != "copy" or not mask.any():
        return pd.DataFrame(columns=["system", "decoding"])
    cf = testbed[mask].reset_index(drop=True)
    where = [i for i, m in enumerate(mask) if m]
    free = evaluation.predict_ablation(cfg, cf, copy=False)
    held = {name: [preds[name][i] for i in where] for name in free}
    parts = [counterfactual_rates(cf, p, n_boot, seed).assign(decoding=evaluation.DECODINGS[c])
             for c, p in ((True, held), (False, free))]
    out = pd.concat(parts, ignore_index=True)
    return out[["system", "decoding"] + [c for c in out.columns if c not in ("system", "decoding")]]
