"""Each chapter's finding in one or two sentences, generated from that stage's own metrics.json (and timings.json):
the first paragraph a reader sees after the chapter's title and provenance box, or, where the chapter computes its
results later, right after the cell that writes them (said in each function's docstring). Like report.py this
module reads JSON only, so it imports neither torch nor pandas. Used by every notebook through ``chapter_finding``.
"""

from __future__ import annotations

from pathlib import Path

from .config import _ABLATION as MODELS  # the ablation, in the order the book compares them
from .report import FEW, SHORT, TASK_NAMES, _signed, versus


def _focus(systems) -> str | None:
    """The model a finding is about: cancer_cpt (CancerLLM's recipe) if the run has it, else the last ablation model."""
    return next((m for m in reversed(MODELS) if m in systems), None)


def _num(v: float) -> str:
    return f"{v:,.1f}"


def profiling_finding(m: dict) -> str:
    """00_data_profiling, placed right after the provenance box: cohort size per split, notes, and the leakage check."""
    split = m.get("patients_per_split", {})
    splits = ", ".join(f"{split[s]} {s}" for s in ("train", "dev", "test") if s in split)
    first = (f"The cohort has {m['patients']} patients ({splits}) with {m['notes']} notes (median "
             f"{m['median_words_per_note']:.0f} words)" + (f", plus {m['general_notes']} general clinical notes for "
                                                             f"continued pretraining" if m.get("general_notes") else "")
             + ".")
    leak = m.get("leakage")
    if leak is None:
        return first + " The leakage check did not run."
    bad = {k: v for k, v in leak.items() if v}
    second = ("No patient, exact duplicate or near-duplicate note crosses the splits." if not bad else
              "Leakage found: " + "; ".join(f"{k}: {v}" for k, v in bad.items()) + " — test scores may be inflated.")
    return f"{first} {second}"


def cpt_finding(m: dict) -> str:
    """10_continued_pretraining, placed right after the cell that trains the CPT models (the chapter's results exist
    only from there): held-out cancer-text perplexity of the base model and of each CPT arm."""
    cpt = m["cpt"]
    base = cpt["base"]["ppl"]["cancer"]
    arms = {k: v for k, v in cpt.items() if k != "base"}
    if not arms:
        return f"Held-out cancer-text perplexity of the base model is {_num(base)}; this run trained no CPT model."
    parts = [f"to {_num(v['ppl']['cancer'])} with {k} ({v.get('steps', '?')} steps)" for k, v in arms.items()]
    text = f"Continued pretraining lowered held-out cancer-text perplexity from {_num(base)} (base model) " + \
        " and ".join(parts) + "."
    if "cancer_cpt" in arms and "general_cpt" in arms:
        c, g = arms["cancer_cpt"]["ppl"]["cancer"], arms["general_cpt"]["ppl"]["cancer"]
        text += (" Cancer text lowers it **more** than general clinical text does, as the paper's recipe assumes."
                 if c < g else " Cancer text does **not** lower it more than general clinical text does.")
    return text


def _best_eval(log_history: list) -> tuple[float, int] | None:
    evals = [(e["eval_loss"], int(e["step"])) for e in log_history if "eval_loss" in e]
    return min(evals) if evals else None


def sft_finding(m: dict) -> str:
    """20_instruction_tuning, placed right after the cell that tunes the models: each arm's lowest dev loss and the
    step it was reached at (the checkpoint chapter 30 scores)."""
    parts = []
    for name, res in m["sft"].items():
        best = _best_eval(res.get("log_history", []))
        parts.append(f"{name} {best[0]:.3f} at step {best[1]:,} of {res.get('steps', '?'):,}" if best else
                     f"{name} (no dev loss logged)")
    scored = {k: b[0] for k, v in m["sft"].items() if (b := _best_eval(v.get("log_history", [])))}
    text = "Lowest dev loss per model: " + "; ".join(parts) + "."
    if len(scored) > 1:
        text += f" The lowest is {min(scored, key=scored.get)}'s; dev loss is not the test score (chapter 30 is)."
    return text


def evaluation_finding(m: dict) -> str:
    """30_evaluation, placed right after the cell that scores every system: cancer_cpt against the TF-IDF and rule
    baselines on both tasks (reference-scorer F1 ×100, the landing page's numbers)."""
    focus = _focus({s for t in TASK_NAMES for s in m.get(t, {})})
    if focus is None:
        return "No ablation model was scored in this run."
    n = m.get("n_instances", {})
    parts = [text for other in ("tfidf_logreg", "rule") if (text := versus(m, focus, other, SHORT[other]))]
    if not parts:
        return f"This run has no baseline score to compare {focus} with."
    sentences = [f"{focus} is " + "; it is ".join(parts) + "."]
    sizes = " and ".join(f"{n[t]} {TASK_NAMES[t]}" for t in TASK_NAMES if t in n)
    few = [TASK_NAMES[t] for t in TASK_NAMES if isinstance(n.get(t), int) and n[t] < FEW]
    tail = f" (F1 ×100 on {sizes} test questions" + (f"; fewer than {FEW} on {' and '.join(few)}, so its gaps are "
                                                     f"noisy" if few else "") + ".)" if sizes else ""
    return " ".join(sentences) + tail


def calibration_finding(m: dict) -> str:
    """35_calibration, placed right after the cell that computes the calibration table: for cancer_cpt (else the last
    ablation model) per task, the test ECE of the confidence kind chosen on dev, and what the dev-chosen threshold
    does on test (accuracy of the answers kept, share deferred)."""
    rows = m.get("calibration") or []
    focus = _focus({r["system"] for r in rows})
    if focus is None:
        return "No language model's confidence was measured in this run."
    parts = []
    for t in TASK_NAMES:
        cand = [r for r in rows if r["system"] == focus and r["task"] == t]
        if not cand:
            continue
        r = min(cand, key=lambda r: r["dev ECE"] if r.get("dev ECE") is not None else float("inf"))
        kept = r.get("kept accuracy %")
        parts.append(f"on {TASK_NAMES[t]} (n = {r['n']}) its test ECE is {r['ECE']:.1f} (95% CI {r.get('ECE CI', '?')}; "
                     f"{r['confidence']} confidence), and the threshold chosen on dev keeps "
                     f"{100 - r['deferred %']:.1f}% of answers at "
                     + (f"{kept:.1f}% accuracy" if kept is not None else "an accuracy it cannot measure")
                     + f" (all answers: {r['accuracy %']:.1f}%), deferring {r['deferred %']:.1f}%")
    target = m.get("target")
    aim = f" The threshold aims at {100 * target:.0f}% accuracy on the answers kept." if target else ""
    return f"For {focus}, " + "; ".join(parts) + "." + aim if parts else f"{focus} has no calibration row."


def robustness_finding(m: dict) -> str:
    """40_robustness, placed right after the cell that predicts and scores the testbed: how often cancer_cpt's answer
    follows an edited note, and its F1 drop from clean notes to the noisiest rate (misspellings and OCR)."""
    cf = m.get("counterfactual", {})
    f1 = m.get("f1", {})
    focus = _focus(set(cf) | {s for c in f1.values() for r in c.values() for t in r.values() for s in t})
    if focus is None:
        return "No ablation model was run on the robustness testbed."
    out = []
    if focus in cf:
        c = cf[focus]
        others = ", ".join(f"{SHORT.get(s, s)} {v['evidence_following']:.1f}" for s, v in cf.items() if s != focus)
        out.append(f"On {c['n']} counterfactual notes {focus} answers the edited value in "
                   f"{c['evidence_following']:.1f}% of cases (95% CI {c['evidence_following_ci_low']:.1f}–"
                   f"{c['evidence_following_ci_high']:.1f})" + (f"; {others}" if others else "") + ".")
    rates = [r for r in m.get("rates", []) if r > 0]
    top = f"{max(rates):g}" if rates else None
    drops = []
    for t in TASK_NAMES:
        clean = f1.get("misspelling", {}).get("0", {}).get(t, {}).get(focus)
        noisy = [(f1.get(c, {}).get(top, {}).get(t, {}).get(focus), label) for c, label in
                 (("misspelling", "misspelled"), ("ocr", "OCR-corrupted"))] if top else []
        noisy = [f"{v['f1']:.1f} ({_signed(v['f1'] - clean['f1'])}) with {float(top):.0%} of words {label}"
                 for v, label in noisy if v] if clean else []
        if noisy:
            drops.append(f"on {TASK_NAMES[t]} (n = {clean['n']}) from {clean['f1']:.1f} on clean notes to "
                         + " and ".join(noisy))
    if drops:
        out.append("Its F1 moves " + "; ".join(drops) + ".")
    return " ".join(out) if out else f"The robustness metrics hold no result for {focus}."


def efficiency_finding(m: dict) -> str:
    """50_efficiency (metrics.json with timings.json merged), placed at the end of the chapter: its measurements
    run one after another and are written together by the last cell. Training time of this run's models, LoRA
    against full fine-tuning, and batched against one-prompt generation."""
    hw = m.get("hardware", {})
    costs = m.get("stage_costs", {})
    out = []
    secs = {k: v["seconds"] for k, v in costs.items() if isinstance(v.get("seconds"), (int, float))}
    if secs:
        by = {s: sum(v for k, v in secs.items() if costs[k].get("stage") == s) for s in ("CPT", "SFT")}
        where = f" on {hw.get('physical_cores', '?')} cores of {hw['device']}" if hw.get("device") else ""
        out.append(f"Training this run's {len(secs)} models took {sum(secs.values()):,.0f} s{where} (CPT "
                   f"{by['CPT']:,.0f} s, instruction tuning {by['SFT']:,.0f} s).")
    lora, full = m.get("lora_vs_full", {}).get("lora"), m.get("lora_vs_full", {}).get("full")
    if lora and full and lora.get("step_seconds") and full.get("step_seconds"):
        out.append(f"LoRA trains {100 * lora['params_trainable'] / lora['params_total']:.0f}% of the weights at "
                   f"{lora['step_seconds'] / full['step_seconds']:.2f}× the step time of full fine-tuning.")
    inf = m.get("inference", {})
    batch = {k: v for k, v in inf.items() if v.get("experiment") == "batch size" and v.get("tokens_per_second")}
    if batch:
        best = max(batch.values(), key=lambda v: v["tokens_per_second"])
        one = next((v for v in inf.values() if v.get("experiment") == "reference loop"
                    and v.get("tokens_per_second")), None)
        out.append(f"Batched generation peaks at {best['tokens_per_second']:,.0f} tokens/s (batch {best['setting']})"
                   + (f", {best['tokens_per_second'] / one['tokens_per_second']:.1f}× the reference code's one prompt "
                      f"at a time" if one else "") + ".")
    ext = m.get("extraction") or {}
    reps = [v for v in ext.values() if v.get("experiment") == "reports" and v.get("seconds_per_report")]
    ref = next((v for v in ext.values() if v.get("experiment") == "reference loop" and v.get("seconds")), None)
    ours = next((v for v in ext.values() if v.get("experiment") == "ours, free decoding" and v.get("seconds")), None)
    if reps:
        best = max(reps, key=lambda v: v["reports"])
        out.append(f"Extracting a report (every field and the diagnosis) costs {best['seconds_per_report']:.2f} s"
                   + (f", {ref['seconds'] / ours['seconds']:.1f}× faster than the reference's one-prompt loop with the "
                      f"same answers on {ref['answers_as_ours']} instances" if ref and ours else "") + ".")
    return " ".join(out) if out else "This run's efficiency measurements are not available."


def retrieval_finding(m: dict) -> str:
    """60_retrieval, placed right after the cell that scores every condition: per task, the range of cancer_cpt's F1
    change with retrieved examples on clean notes (paired bootstrap), and how many of all gains have a CI above 0."""
    gains = [g for g in m.get("gains", []) if not g.get("noise")]
    if not gains:
        return "This run measured no retrieval gain."
    focus = _focus({g["system"] for g in gains})
    out = []
    for t in TASK_NAMES:
        g = [x for x in gains if x["task"] == t and x["system"] == focus]
        if not g:
            continue
        lo, hi = min(g, key=lambda x: x["diff"]), max(g, key=lambda x: x["diff"])
        span = (f"by {_signed(lo['diff'])} ({lo['retriever']}) to {_signed(hi['diff'])} ({hi['retriever']})"
                if len(g) > 1 else f"by {_signed(hi['diff'])} ({hi['retriever']})")
        out.append(f"{span} on {TASK_NAMES[t]} (n = {g[0]['n']}" + (", too few to tell" if g[0]["n"] < FEW else "")
                   + ")")
    k = gains[0].get("k", "?")
    up = sum(x["ci_low"] > 0 for x in gains)
    return (f"With k = {k} retrieved examples, {focus}'s F1 changes " + " and ".join(out) + f". {up} of {len(gains)} "
            f"clean-note gains (every model and retriever) have a 95% CI above 0.") if out else \
        f"{focus} has no retrieval gain in this run."


#: stage -> its finding function (a registry, as the runner names stages)
FINDINGS = {"00_data_profiling": profiling_finding, "10_continued_pretraining": cpt_finding,
            "20_instruction_tuning": sft_finding, "30_evaluation": evaluation_finding,
            "35_calibration": calibration_finding, "40_robustness": robustness_finding,
            "50_efficiency": efficiency_finding, "60_retrieval": retrieval_finding}


def chapter_finding(out: Path) -> str:
    """The Markdown paragraph "**Finding.** ..." for the stage directory `out` (its name picks the function). Never
    raises: a stage without metrics.json, or whose metrics lack a key the sentence needs, gets a sentence saying so,
    so a partial run still builds its book."""
    from .provenance import read_metrics

    out = Path(out)
    fn = FINDINGS.get(out.name)
    if fn is None:
        return f"*No finding is defined for stage {out.name}.*"
    if not (out / "metrics.json").is_file():
        return f"*Finding not available: stage {out.name} has written no metrics.json.*"
    try:
        return "**Finding.** " + fn(read_metrics(out))
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError) as err:
        return f"*Finding not available: this stage's metrics.json lacks what the sentence needs ({err!r}).*"
