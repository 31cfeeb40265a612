"""Robustness testbeds (cancerllm/robustness/): seeded perturbations, the counterfactual edits, the testbed
and its scoring, on synthetic instructions and hand-made predictions."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from cancerllm import instructions
from cancerllm import robustness as rb
from cancerllm.baselines import extract_grade, extract_tnm
from cancerllm.data.synthetic import generate_cohort
from cancerllm.metrics import clinical_normalize

TEXT = ("Sections show infiltrating nests of atypical epithelial cells in a desmoplastic stroma. The tumor measures "
        "2.5 cm, pathologic stage pT2N1M0, HER2 negative, ER positive, grade 2 of 3, margins free.")
RATES = [0.0, 0.3]


@pytest.fixture(scope="module")
def test_df():
    return instructions.build_instructions(generate_cohort(60, seed=3), "test")


@pytest.fixture(scope="module")
def bed(test_df):
    return rb.build_testbed(test_df, RATES, True, 18, seed=7)


def _row(body: str, field: str, gold: str, cancer_type: str = "breast") -> dict:
    context = rb.join_context(body, instructions.QUESTIONS[field])
    return {"id": f"X:{field}", "patient_id": "X", "cancer_type": cancer_type, "task": "phenotype_extraction",
            "field": field, "instruction": instructions.PHENOTYPE_INSTRUCTION, "context": context, "response": gold,
            "answers": [gold], "prompt": instructions.TEMPLATE.format(instruction="i", context=context),
            "completion": gold}


def _body(row) -> str:
    return rb.split_context(row["context"], row["field"])[0]


# ----------------------------------------------------------------------------- body / question split
def test_split_context_round_trips_every_built_row(test_df):
    for r in test_df.to_dict("records"):
        body, question = rb.split_context(r["context"], r["field"])
        assert rb.join_context(body, question) == r["context"]
        if r["task"] == "phenotype_extraction":
            assert question == instructions.QUESTIONS[r["field"]] and not body.startswith("In the text:")
            assert not body.endswith(question)
        else:
            assert (body, question) == (r["context"], "")


def test_split_context_is_lenient_with_hand_made_contexts():
    q = instructions.QUESTIONS["grade"]
    assert rb.split_context(f"In the text: G2 tumour.  {q}  ", "grade") == ("G2 tumour.", q)
    assert rb.split_context(f"G2 tumour. {q}", "grade") == ("G2 tumour.", q)
    assert rb.split_context("no question here", "grade") == ("no question here", q)


def test_perturb_bodies_is_the_seeded_perturbation_of_each_body(test_df):
    rows = test_df.head(20)
    bodies, edits = rb.perturb_bodies(rows, "misspelling", 0.3, 7)
    for r, body, n in zip(rows.to_dict("records"), bodies, edits):
        clean = rb.split_context(r["context"], r["field"])[0]
        assert body == rb.misspell(clean, 0.3, rb.stable_seed(7, r["id"], "misspelling"))
        assert n == rb.n_to_edit(0.3, len(re.findall(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z0-9])", clean)))
    assert rb.perturb_bodies(rows, "abbrev_contract", 0.0, 7)[0] == [
        rb.abbreviate(rb.split_context(c, f)[0], "contract")[0] for c, f in zip(rows["context"], rows["field"])]
    with pytest.raises(ValueError, match="unknown perturbation"):
        rb.perturb_bodies(rows, "typos", 0.3, 7)


def test_stable_seed_is_stable_and_distinguishes_parts():
    assert rb.stable_seed(42, "SYN-0001:grade", "ocr") == rb.stable_seed(42, "SYN-0001:grade", "ocr")
    assert rb.stable_seed(42, "a", "ocr") != rb.stable_seed(43, "a", "ocr") != rb.stable_seed(42, "b", "ocr")
    assert 0 <= rb.stable_seed(1, 2) < 2 ** 64


# ----------------------------------------------------------------------------- misspelling
def test_misspell_rate_zero_returns_text_unchanged():
    assert rb.misspell(TEXT, 0.0, 1) == TEXT
    assert rb.ocr_confuse(TEXT, 0.0, 1) == TEXT


def test_misspell_is_deterministic_and_seed_dependent():
    assert rb.misspell(TEXT, 0.3, 5) == rb.misspell(TEXT, 0.3, 5)
    assert rb.misspell(TEXT, 0.3, 5) != rb.misspell(TEXT, 0.3, 6)


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.3, 0.5, 1.0])
def test_misspell_edits_round_rate_times_eligible_words(rate):
    tokens = TEXT.split()
    eligible = len(re.findall(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z0-9])", TEXT))
    assert eligible == 19
    out = rb.misspell(TEXT, rate, 11).split()
    assert len(out) == len(tokens)  # whitespace is never touched
    changed = sum(a != b for a, b in zip(tokens, out))
    assert changed == int(rate * eligible + 0.5) == rb.n_to_edit(rate, eligible)


def test_misspell_leaves_numbers_codes_and_short_words_alone():
    out = rb.misspell(TEXT, 1.0, 3)
    for keep in ("2.5 cm", "pT2N1M0", "HER2", "ER ", "2 of 3", " a "):
        assert keep in out
    assert "infiltrating" not in out and "desmoplastic" not in out


def test_misspell_makes_one_edit_per_word():
    for seed in range(30):
        for a, b in zip(TEXT.split(), rb.misspell(TEXT, 1.0, seed).split()):
            if a == b:
                continue
            if len(a) == len(b):  # substitution or transposition
                diff = [i for i in range(len(a)) if a[i] != b[i]]
                assert len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]])
            else:  # one letter inserted or deleted
                longer, shorter = (a, b) if len(a) > len(b) else (b, a)
                assert len(longer) == len(shorter) + 1
                assert any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def test_misspell_substitutions_use_keyboard_neighbours():
    assert set(rb.QWERTY_NEIGHBOURS["s"]) == set("awedxz")
    assert set(rb.QWERTY_NEIGHBOURS["p"]) == set("ol")


def test_noise_is_nested_across_rates():
    low, high = rb.misspell(TEXT, 0.1, 9).split(), rb.misspell(TEXT, 0.5, 9).split()
    for a, lo, hi in zip(TEXT.split(), low, high):
        if lo != a:
            assert hi == lo  # a word edited at 10% carries the same edit at 50%


# ----------------------------------------------------------------------------- OCR
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_ocr_confuses_round_rate_times_eligible_tokens(rate):
    tokens = TEXT.split()
    eligible = [t for t in tokens if any(src in t for src, _ in rb.OCR_CONFUSIONS)]
    out = rb.ocr_confuse(TEXT, rate, 4).split()
    changed = [(a, b) for a, b in zip(tokens, out) if a != b]
    assert len(changed) == rb.n_to_edit(rate, len(eligible))
    for a, b in changed:  # exactly one table confusion per token
        assert any(a[:i] + dst + a[i + len(src):] == b for src, dst in rb.OCR_CONFUSIONS
                   for i in range(len(a)) if a.startswith(src, i))
    assert rb.ocr_confuse(TEXT, rate, 4) == rb.ocr_confuse(TEXT, rate, 4) != rb.ocr_confuse(TEXT, rate, 5)


def test_ocr_table_is_symmetric():
    pairs = set(rb.OCR_CONFUSIONS)
    assert all((dst, src) in pairs for src, dst in pairs)
    assert {("l", "1"), ("O", "0"), ("rn", "m"), ("I", "l"), ("S", "5"), ("cl", "d"), ("e", "c")} <= pairs


# ----------------------------------------------------------------------------- abbreviations
EXPANDED = [
    "Invasive ductal carcinoma, 2.5 centimeters, with lymphovascular invasion.",
    "Estrogen receptor positive, progesterone receptor negative, human epidermal growth factor receptor 2 negative.",
    "Biopsy of the right upper lobe showed squamous cell carcinoma; lymph nodes negative.",
    "A 4.0 centimeters mass: clear cell renal cell carcinoma. Past medical history: none.",
    "Ductal carcinoma in situ and non-small cell lung cancer in 12 millimeters fragments.",
]
CONTRACTED = [
    "IDC, 2.5 cm, with LVI.",
    "ER positive, PR negative, HER2 negative.",
    "Biopsy of the RUL showed SCC; LNs negative.",
    "A 4.0 cm mass: ccRCC. PMH: none.",
    "DCIS and NSCLC in 12 mm fragments.",
]


@pytest.mark.parametrize("expanded, contracted", list(zip(EXPANDED, CONTRACTED)))
def test_abbreviations_round_trip(expanded, contracted):
    out, n = rb.abbreviate(expanded, "contract")
    assert out == contracted and n > 0
    back, m = rb.abbreviate(out, "expand")
    assert back == expanded and m == n


def test_abbreviations_respect_word_boundaries_and_tnm():
    text = "pT2N1M0, ROS1 negative, ccRCC, Her2 score, the ERBB2 gene, ER-positive, 12cm, cm alone."
    out, n = rb.abbreviate(text, "expand")
    assert out == ("pT2N1M0, ROS1 negative, clear cell renal cell carcinoma, Her2 score, the ERBB2 gene, "
                   "estrogen receptor-positive, 12centimeters, cm alone.")
    assert n == 3
    assert rb.abbreviate("non-small cell lung cancer", "contract") == ("NSCLC", 1)
    assert rb.abbreviate("no change here", "contract") == ("no change here", 0)
    with pytest.raises(ValueError, match="direction"):
        rb.abbreviate("x", "both")


# ----------------------------------------------------------------------------- counterfactual
def _check_cf(row, seed=0):
    new, why = rb.counterfactual(row, random.Random(seed))
    assert why == "edited", why
    old = row["answers"]
    assert new["original_answers"] == old and new["answers"] == [new["response"]] == [new["completion"]]
    assert clinical_normalize(new["answers"][0]) != clinical_normalize(old[0])
    question = instructions.QUESTIONS[row["field"]]
    assert new["prompt"].endswith(f"In the text: {_body(new)} {question}\n\n### Response:\n")
    again, why_again = rb.counterfactual({**new, "answers": old}, random.Random(seed))  # old value left anywhere?
    assert again is None and why_again == "gold value not found in the note"
    return new


def test_counterfactual_t_stage_replaces_every_form():
    row = _row("Synoptic: pT2bN1aM0. Staging summary: pT2 (AJCC). Clinical cT1 before surgery.", "t_stage", "T2")
    new = _check_cf(row)
    t = new["answers"][0]
    assert _body(new) == f"Synoptic: p{t}N1aM0. Staging summary: p{t} (AJCC). Clinical cT1 before surgery."
    assert new["n_edits"] == 2 and extract_tnm(_body(new))["T"] == t


def test_counterfactual_n_stage_updates_the_synthetic_node_count():
    row = _row("Pathologic stage (AJCC 8th): pT1c pN0 M0\nLymph nodes: 0 involved of 9 examined.", "n_stage", "N0")
    new = _check_cf(row, seed=1)
    k = {"N1": 2, "N2": 5, "N3": 12}[new["answers"][0]]
    assert f"p{new['answers'][0]} M0" in _body(new) and f"{k} involved of {max(9, k + 3)} examined" in _body(new)


def test_counterfactual_grade_rewrites_every_encoding():
    row = _row("Carcinoma, moderately differentiated (G2). Nottingham histologic grade 2 (score 7/9). "
               "Histologic grade: grade II.", "grade", "grade 2")
    new = _check_cf(row)
    g = int(new["answers"][0].split()[-1])
    assert g in (1, 3) and new["n_edits"] == 5
    roman = {1: "I", 3: "III"}[g]
    word = {1: "well", 3: "poorly"}[g]
    score = {1: 5, 3: 8}[g]
    assert _body(new) == (f"Carcinoma, {word} differentiated (G{g}). Nottingham histologic grade {g} (score "
                          f"{score}/9). Histologic grade: grade {roman}.")


def test_counterfactual_gleason_grade_group():
    row = _row("Gleason score 3+4=7 (Grade Group 2). Also Gleason score 7 (3+4).", "grade", "grade 2", "prostate")
    new = _check_cf(row)
    g = int(new["answers"][0].split()[-1])
    assert g in (1, 3, 4, 5) and extract_grade(_body(new)) == g and "3+4" not in _body(new)


def test_counterfactual_tcga_grade_keeps_the_gold_format():
    new = _check_cf(_row("Histologic grade: G3, poorly differentiated.", "grade", "G3", "STAD"))
    assert re.fullmatch(r"G[12]", new["answers"][0])


def test_counterfactual_size_in_cm_and_mm():
    row = _row("Gross: a 2.5 x 1.8 x 1.2 cm lesion. Tumor size: 25 mm. Specimen 9.0 x 6.0 cm.", "tumor_size", "2.5 cm")
    new = _check_cf(row)
    s = float(new["answers"][0].split()[0])
    assert 3.5 <= s <= 5.5 and new["n_edits"] == 2
    assert _body(new) == (f"Gross: a {s:.1f} x 1.8 x 1.2 cm lesion. Tumor size: {round(s * 10)} mm. "
                          "Specimen 9.0 x 6.0 cm.")


def test_counterfactual_site_swaps_laterality_and_lobe_codes():
    row = _row("A. Right lung, upper lobe, lobectomy. Final: RUL, adenocarcinoma. right hilum.", "tumor_site",
               "right upper lobe", "lung")
    new = _check_cf(row)
    assert new["answers"] == ["left upper lobe"]
    assert _body(new) == "A. Left lung, upper lobe, lobectomy. Final: LUL, adenocarcinoma. left hilum."
    assert rb.counterfactual(_row("RML mass", "tumor_site", "right middle lobe", "lung"),
                             random.Random(0)) == (None, "no contralateral counterpart")


def test_counterfactual_histology_uses_the_synthetic_synonyms():
    row = _row("- Invasive ductal carcinoma (IDC), grade 2.\nHistologic type: infiltrating ductal carcinoma",
               "histologic_type", "invasive ductal carcinoma")
    new, why = rb.counterfactual(row, random.Random(0))
    assert why == "edited" and new["answers"][0] in ("invasive lobular carcinoma", "mucinous carcinoma")
    if new["answers"] == ["invasive lobular carcinoma"]:
        assert _body(new) == ("- Invasive lobular carcinoma (ILC), grade 2.\n"
                              "Histologic type: infiltrating lobular carcinoma")
    assert "ductal" not in _body(new).lower() and "IDC" not in _body(new)


def test_counterfactual_skips_with_reasons():
    assert rb.counterfactual(_row("no staging here", "t_stage", "not mentioned"), random.Random(0)) == (
        None, "gold is 'not mentioned'")
    assert rb.counterfactual(_row("no staging here", "t_stage", "T2"), random.Random(0)) == (
        None, "gold value not found in the note")
    assert rb.counterfactual(_row("ER positive", "biomarker_status", "ER positive"), random.Random(0)) == (
        None, "field not edited")
    assert rb.counterfactual(_row("sigmoid colon", "tumor_site", "sigmoid colon"), random.Random(0)) == (
        None, "gold has no laterality")


def test_counterfactual_set_on_synthetic_rows(test_df):
    rows, coverage = rb.counterfactual_set(test_df, -1, 42)
    assert set(rows["field"]) <= set(rb.CF_FIELDS) and len(rows) == coverage["edited"].sum() > 10
    assert all(a != o for a, o in zip(rows["answers"], rows["original_answers"]))
    eligible = test_df[test_df["field"].isin(rb.CF_FIELDS)]
    assert coverage.to_numpy().sum() == len(eligible)
    nm = eligible.groupby("field")["response"].apply(lambda r: int((r == "not mentioned").sum()))
    counted = coverage.get("gold is 'not mentioned'", pd.Series(0, index=nm.index))
    assert counted.reindex(nm.index, fill_value=0).equals(nm)
    again, _ = rb.counterfactual_set(test_df, -1, 42)
    pd.testing.assert_frame_equal(rows, again)


# ----------------------------------------------------------------------------- the testbed
def test_testbed_structure(bed, test_df):
    conds = bed.groupby(["condition", "rate"], sort=False).size()
    assert list(conds.index) == [("misspelling", 0.0), ("misspelling", 0.3), ("ocr", 0.0), ("ocr", 0.3),
                                 ("abbrev_contract", 0.0), ("abbrev_expand", 0.0), ("counterfactual", 0.0)]
    assert (conds.drop(("counterfactual", 0.0)) == 18).all() and 0 < conds[("counterfactual", 0.0)] <= 18
    assert bed["id"].is_unique
    blocks = [g["source_id"].tolist() for c, g in bed.groupby(["condition", "rate"], sort=False)
              if c[0] != "counterfactual"]
    assert all(b == blocks[0] for b in blocks)  # the same instances, same order, in every condition
    assert {"condition", "rate", "source_id", "original_answers", "n_edits", "prompt", "answers"} <= set(bed.columns)


def test_testbed_perturbs_only_the_body(bed, test_df):
    gold = test_df.set_index("id")
    noisy = bed[bed["condition"] != "counterfactual"]
    for r in noisy.itertuples():
        src = gold.loc[r.source_id]
        assert r.answers == src["answers"] == r.original_answers and r.response == src["response"]
        assert r.instruction == src["instruction"]
        body, q = rb.split_context(r.context, r.field)
        assert q == rb.split_context(src["context"], r.field)[1]
        assert r.prompt == instructions.TEMPLATE.format(instruction=r.instruction, context=rb.join_context(body, q))
    clean = noisy[(noisy["condition"] == "misspelling") & (noisy["rate"] == 0)]
    assert (clean["context"].to_numpy() == gold.loc[clean["source_id"], "context"].to_numpy()).all()
    assert (clean["n_edits"] == 0).all()
    hot = noisy[(noisy["condition"] == "misspelling") & (noisy["rate"] == 0.3)]
    assert (hot["context"].to_numpy() != clean["context"].to_numpy()).all()


def test_testbed_is_deterministic(bed, test_df):
    pd.testing.assert_frame_equal(bed, rb.build_testbed(test_df, RATES, True, 18, seed=7))
    other = rb.build_testbed(test_df, RATES, True, 18, seed=8)
    assert not bed["prompt"].equals(other["prompt"])


def test_testbed_adds_rate_zero_and_skips_ocr(test_df):
    b = rb.build_testbed(test_df, [0.2], False, 9, seed=1)
    assert sorted(set(zip(b["condition"], b["rate"]))) == sorted(
        {("misspelling", 0.0), ("misspelling", 0.2), ("abbrev_contract", 0.0), ("abbrev_expand", 0.0),
         ("counterfactual", 0.0)})


def test_testbed_table(bed):
    tab = rb.testbed_table(bed)
    assert tab.loc[("misspelling", 0.0), "% changed"] == 0 and tab.loc[("misspelling", 0.3), "% changed"] == 100
    assert tab.loc[("ocr", 0.0), "edits per instance"] == 0
    assert tab.loc[("counterfactual", 0.0), "% changed"] == 100


# ----------------------------------------------------------------------------- scoring
def _preds(bed):
    gold = [list(a) for a in bed["answers"]]
    prior = [list(a) for a in bed["original_answers"]]
    half = [g if i % 2 else ["something else"] for i, g in enumerate(gold)]
    return {"oracle": gold, "prior": prior, "half": half}


def test_sweep_table_values_and_determinism(bed):
    preds = _preds(bed)
    sweep = rb.sweep_table(bed, preds, 50, 3, metric_names=["exact_match", "rouge_l_reference"])
    assert list(sweep.columns) == ["condition", "rate", "task", "system", "metric", "precision", "recall", "f1",
                                   "f1_ci_low", "f1_ci_high", "n"]
    assert "counterfactual" not in set(sweep["condition"])
    assert (sweep.loc[sweep["system"] == "oracle", "f1"] == 100).all()
    assert (sweep.loc[sweep["system"] == "prior", "f1"] == 100).all()  # non-counterfactual rows: gold == original
    sub = sweep[(sweep["system"] == "half") & (sweep["metric"] == "exact_match")
                & (sweep["task"] == "phenotype_extraction")]
    assert (sub["f1"] < 100).all() and (sub["f1_ci_low"] <= sub["f1"]).all() and (sub["f1"] <= sub["f1_ci_high"]).all()
    assert sweep.groupby(["condition", "rate"])["n"].sum().eq(18 * 3 * 2).all()  # instances x systems x metrics
    pd.testing.assert_frame_equal(sweep, rb.sweep_table(bed, preds, 50, 3, metric_names=["exact_match",
                                                                                         "rouge_l_reference"]))
    wide = rb.sweep_wide(sweep, "phenotype_extraction", "exact_match")
    assert list(wide.columns) == ["n", "oracle", "prior", "half"] and wide.loc[("misspelling", 0.3), "oracle"] == 100
    n_ph = int((bed[(bed["condition"] == "misspelling") & (bed["rate"] == 0)]["task"] == "phenotype_extraction").sum())
    assert (wide["n"] == n_ph).all()  # every noise row scores the same capped questions
    abbr = rb.abbreviation_table(sweep, "exact_match")
    assert list(abbr.columns) == ["n", "clean", "contracted", "expanded", "Δ contracted", "Δ expanded"]
    assert abbr.loc[("phenotype_extraction", "oracle"), "n"] == n_ph
    assert abbr.loc[("phenotype_extraction", "oracle"), "Δ expanded"] == 0


def test_counterfactual_rates_on_hand_made_predictions(bed):
    preds = _preds(bed)
    cf = rb.counterfactual_rates(bed, preds, 200, 1).set_index("system")
    n = int((bed["condition"] == "counterfactual").sum())
    assert (cf["n"] == n).all()
    assert cf.loc["oracle", "evidence_following"] == 100 and cf.loc["oracle", "prior_following"] == 0
    assert cf.loc["prior", "prior_following"] == 100 and cf.loc["prior", "evidence_following"] == 0
    idx = bed.index[bed["condition"] == "counterfactual"]
    expected = 100 * sum(i % 2 for i in idx) / n  # "half" answers the new value on odd rows, nonsense elsewhere
    assert cf.loc["half", "evidence_following"] == pytest.approx(expected)
    assert cf.loc["half", "other"] == pytest.approx(100 - expected)
    assert cf.loc["half", "evidence_following_ci_low"] <= expected <= cf.loc["half", "evidence_following_ci_high"]
    assert cf.loc["oracle", "evidence_following_ci_low"] == 100  # no spread: zero-width interval
    # clinically equal answers count: "25 mm" for "2.5 cm", "G3" for "grade 3"
    by_field = rb.counterfactual_by_field(bed, preds)
    assert (by_field["oracle"] == 100).all() and by_field["n"].sum() == n


def test_summary_and_results_files(bed, test_df, tmp_path):
    import json

    preds = _preds(bed)
    sweep = rb.sweep_table(bed, preds, 20, 3, metric_names=["rouge_l_reference"])
    cf = rb.counterfactual_rates(bed, preds, 20, 3)
    text = rb.robustness_summary(sweep, cf, "rouge_l_reference")
    assert "`oracle` 100.0 → 100.0 (+0.0" in text and "`oracle`: reported the edited value in 100%" in text
    assert "**Abbreviations**" in text and "30% of words misspelled" in text
    assert rb.robustness_summary(sweep, cf, "rouge_l_reference", part="counterfactual").startswith("**Counterfactual")
    _, coverage = rb.counterfactual_set(test_df, 18, 7)
    rb.save_results(tmp_path, bed, sweep, cf, coverage, "rouge_l_reference")
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m) == {"metric", "n_instances", "rates", "f1", "counterfactual", "counterfactual_coverage"}
    assert m["rates"] == [0.0, 0.3] and m["n_instances"]["misspelling"] == 18
    assert m["f1"]["misspelling"]["0.3"]["phenotype_extraction"]["oracle"]["f1"] == 100
    assert m["counterfactual"]["prior"]["prior_following"] == 100
    assert pd.read_csv(tmp_path / "sweep.csv").shape == sweep.shape


def test_example_is_never_real_text(bed):
    assert "real patient text" in rb.example_or_notice(bed, True, True).data
    assert "switched off" in rb.example_or_notice(bed, False, False).data
    shown = rb.example_or_notice(bed, False, True).data
    assert "30% of eligible words misspelled" in shown and "```text" in shown
