"""What notebooks/40_robustness.ipynb shows and stores: wide F1 tables, the abbreviation table, the Markdown
summary with this run's numbers, one synthetic example, and the stage's result files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import evaluation
from ..instructions import TASKS, split_input
from ..report import subsample_note


def _f1(sweep, metric):
    return sweep[sweep["metric"] == metric]


def sweep_wide(sweep: pd.DataFrame, task: str, metric: str = evaluation.HEADLINE) -> pd.DataFrame:
    """F1 (x100) per system (columns) and (condition, rate) (rows) for one task, after a column ``n`` (the test
    questions each row is scored on: a subsample of chapter 30's, see ``sample_note``)."""
    sub = _f1(sweep, metric)
    sub = sub[sub["task"] == task]
    tab = sub.pivot_table(index=["condition", "rate"], columns="system", values="f1", sort=False).round(1)
    tab.insert(0, "n", sub.groupby(["condition", "rate"], sort=False)["n"].first().astype(int).reindex(tab.index))
    return tab


def sample_note(testbed: pd.DataFrame, test: pd.DataFrame) -> str:
    """The line beside this chapter's clean scores: how many test questions per task the testbed's clean condition
    holds of chapter 30's test set (capped by robustness_max_instances), with a warning below report.FEW."""
    clean = testbed[(testbed["condition"] == "misspelling") & (testbed["rate"] == 0)]
    return subsample_note(clean.groupby("task").size().to_dict(), test.groupby("task").size().to_dict())


def abbreviation_table(sweep: pd.DataFrame, metric: str = evaluation.HEADLINE) -> pd.DataFrame:
    """Per task and system: the test questions scored (``n``), F1 on clean notes, with abbreviations contracted and
    expanded, and the changes."""
    sub = _f1(sweep, metric)
    key = {"clean": (sub["condition"] == "misspelling") & (sub["rate"] == 0),
           "contracted": sub["condition"] == "abbrev_contract", "expanded": sub["condition"] == "abbrev_expand"}
    cols = {k: sub[m].set_index(["task", "system"])["f1"] for k, m in key.items()}
    tab = pd.DataFrame(cols)
    tab["Δ contracted"] = tab["contracted"] - tab["clean"]
    tab["Δ expanded"] = tab["expanded"] - tab["clean"]
    tab.insert(0, "n", sub[key["clean"]].set_index(["task", "system"])["n"].astype(int))
    return tab.round(1)


def _noise_lines(sweep, metric, condition, label) -> list[str]:
    sub = _f1(sweep, metric)
    sub = sub[sub["condition"] == condition]
    if sub.empty:
        return []
    top = sub["rate"].max()
    lines = []
    for task in TASKS:
        t = sub[sub["task"] == task]
        if t.empty:
            continue
        parts, drops = [], {}
        for system, g in t.groupby("system", sort=False):
            a, b = g[g["rate"] == 0].iloc[0], g[g["rate"] == top].iloc[0]
            drops[system] = a.f1 - b.f1
            overlap = b.f1_ci_high >= a.f1_ci_low and a.f1_ci_high >= b.f1_ci_low
            parts.append(f"`{system}` {a.f1:.1f} → {b.f1:.1f} ({b.f1 - a.f1:+.1f}; 95% CI at {top:.0%}: "
                         f"{b.f1_ci_low:.1f}–{b.f1_ci_high:.1f}{', overlaps the clean CI' if overlap else ''})")
        worst, best = max(drops, key=drops.get), min(drops, key=drops.get)
        lines.append(f"- **{task.replace('_', ' ')}**, clean → {top:.0%} of words {label}: " + "; ".join(parts) +
                     f". Largest drop: `{worst}` ({-drops[worst]:+.1f} points); most stable: `{best}` "
                     f"({-drops[best]:+.1f} points).")
    return lines


def robustness_summary(sweep: pd.DataFrame, cf: pd.DataFrame, metric: str = evaluation.HEADLINE,
                       part: str = "all") -> str:
    """Markdown with this run's numbers, for a clinical reader. ``part``: "noise", "abbreviations",
    "counterfactual" or "all"."""
    out = []
    if part in ("noise", "all"):
        lines = _noise_lines(sweep, metric, "misspelling", "misspelled") + _noise_lines(sweep, metric, "ocr",
                                                                                         "OCR-confused")
        out.append("**Typing and scanning noise** (F1 ×100, clean → highest rate):\n\n" + "\n".join(lines) +
                   "\n\nA drop whose interval still overlaps the clean interval is within what this test set can "
                   "resolve; a system that keeps its F1 under noise can be used on hurriedly typed or scanned notes "
                   "with less worry than one whose F1 collapses.")
    if part in ("abbreviations", "all"):
        tab = abbreviation_table(sweep, metric)
        lines = [f"- `{system}` ({task.replace('_', ' ')}): clean {r['clean']:.1f}, contracted {r['contracted']:.1f} "
                 f"({r['Δ contracted']:+.1f}), expanded {r['expanded']:.1f} ({r['Δ expanded']:+.1f})"
                 for (task, system), r in tab.iterrows()]
        out.append("**Abbreviations** (F1 ×100):\n\n" + "\n".join(lines) + "\n\nA system that loses F1 when terms "
                   "are contracted depends on the spelled-out wording of its training notes; notes from services "
                   "that abbreviate heavily would be read worse.")
    if part in ("counterfactual", "all") and not cf.empty:
        lines = [f"- `{r.system}`: reported the edited value in {r.evidence_following:.0f}% "
                 f"(95% CI {r.evidence_following_ci_low:.0f}–{r.evidence_following_ci_high:.0f}%), the original "
                 f"label in {r.prior_following:.0f}% "
                 f"({r.prior_following_ci_low:.0f}–{r.prior_following_ci_high:.0f}%)"
                 f", something else in {r.other:.0f}% (n = {r.n})." for r in cf.itertuples()]
        best = cf.loc[cf["evidence_following"].idxmax()]
        lost = [f"`{s}`" for s in cf.loc[cf["other"] >= 50, "system"]]
        lost_txt = (f" {', '.join(lost)} gave neither value in at least half of the cases: on these questions "
                    "their answers do not track the note at all." if lost else "")
        out.append("**Counterfactual notes** (one stated value changed everywhere in the note):\n\n" +
                   "\n".join(lines) + f"\n\nThe system that most often reported what the edited note says was "
                   f"`{best.system}` ({best.evidence_following:.0f}%). Answers that repeat the original label come "
                   "from what a system learned is typical, not from the note in front of it: on a real patient "
                   "whose value is unusual, that system would report the usual value instead." + lost_txt)
    return "\n\n".join(out)


def example_or_notice(testbed: pd.DataFrame, is_real: bool, show: bool, chars: int = 500):
    """One misspelled note excerpt at the highest rate (synthetic data only; never real note text)."""
    from IPython.display import Markdown

    if is_real:
        return Markdown("*No example is shown: this run uses real patient text.*")
    sub = testbed[testbed["condition"] == "misspelling"]
    if not show or sub.empty:
        return Markdown("*Examples switched off (`show_examples: false`).*")
    top = sub[sub["rate"] == sub["rate"].max()].iloc[0]
    body, _ = split_input(top["context"], top["field"])
    return Markdown(f"Synthetic note, {top['rate']:.0%} of eligible words misspelled (first {chars} characters):"
                    f"\n\n```text\n{body[:chars]}\n```")


def save_results(out: Path, testbed: pd.DataFrame, sweep: pd.DataFrame, cf: pd.DataFrame,
                 coverage: pd.DataFrame, metric: str = evaluation.HEADLINE) -> None:
    """sweep.csv (the tidy table), counterfactual.csv and metrics.json in the stage directory."""
    from ..provenance import write_json

    out = Path(out)
    sweep.to_csv(out / "sweep.csv", index=False)
    cf.to_csv(out / "counterfactual.csv", index=False)
    f1: dict = {}
    for r in _f1(sweep, metric).itertuples():
        f1.setdefault(r.condition, {}).setdefault(f"{r.rate:g}", {}).setdefault(r.task, {})[r.system] = {
            "f1": round(r.f1, 4), "ci_low": round(r.f1_ci_low, 4), "ci_high": round(r.f1_ci_high, 4), "n": int(r.n)}
    n = testbed.groupby("condition", sort=False)["source_id"].nunique().to_dict()
    write_json(out / "metrics.json", {
        "metric": metric, "n_instances": {k: int(v) for k, v in n.items()},
        "rates": sorted(float(r) for r in testbed["rate"][testbed["condition"] == "misspelling"].unique()),
        "f1": f1, "counterfactual": {r["system"]: {k: (round(v, 4) if isinstance(v, float) else v)
                                                   for k, v in r.items() if k != "system"}
                                     for r in cf.to_dict("records")},
        "counterfactual_coverage": {f: {k: int(v) for k, v in row.items()} for f, row in coverage.iterrows()},
    })
