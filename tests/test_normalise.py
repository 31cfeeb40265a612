"""The phrase -> label normaliser (``cancerllm.normalise``): every phrase the synthetic generator writes maps
back to its note's label, the normaliser reads only the phrase (an edited phrase gives the edited value), and
biomarker phrases from several sentences merge into one value."""

from __future__ import annotations

import pandas as pd
import pytest

from cancerllm import instructions
from cancerllm.data.synthetic import generate_cohort
from cancerllm.inference import assemble
from cancerllm.normalise import AnswerNormaliser


@pytest.fixture(scope="module")
def fitted():
    cohort = generate_cohort(200, seed=11)
    ex = instructions.sentence_examples(cohort, "train", "short", negatives=1.0, seed=3)
    return ex, AnswerNormaliser().fit(ex)


def test_generator_phrases_map_back_to_their_labels(fitted):
    ex, norm = fitted
    pos = ex[ex["gold"].notna() & (ex["field"] != "biomarker_status")]
    wrong = [(f, r, norm(f, r), g) for f, r, g in zip(pos["field"], pos["response"], pos["gold"]) if norm(f, r) != g]
    assert len(pos) > 500 and len(wrong) <= 0.01 * len(pos), wrong[:10]
    bio = ex[ex["gold"].notna() & (ex["field"] == "biomarker_status")]
    merged = bio.groupby("patient_id").apply(lambda d: norm.merge("biomarker_status", list(d["response"])) == d["gold"].iloc[0])
    assert len(merged) > 20 and merged.mean() > 0.98


@pytest.mark.parametrize("field, phrase, label", [
    ("tumor_size", "47 mm", "4.7 cm"),  # not a size it was fitted on: read, not looked up
    ("tumor_size", "0.9 x 1.4 x 3.8 cm", "3.8 cm"),
    ("t_stage", "pT4", "T4"), ("n_stage", "pT1N3M0", "N3"),
    ("grade", "poorly differentiated", "grade 3"), ("grade", "Gleason 4+4=8", "grade 4"),
])
def test_the_phrase_alone_decides_the_value(fitted, field, phrase, label):
    assert fitted[1](field, phrase) == label


def test_unread_phrase_is_kept_and_labels_are_learned():
    norm = AnswerNormaliser().fit(pd.DataFrame({
        "task": ["phenotype_extraction"] * 3, "field": ["grade", "grade", "histologic_type"],
        "response": ["G2", "grade II", "IDC"], "gold": ["G2", "G2", "Infiltrating Ductal Carcinoma"]}))
    assert norm("grade", "moderately differentiated") == "G2"  # grade 2 is spelled "G2" in this cohort
    assert norm("histologic_type", "IDC") == "Infiltrating Ductal Carcinoma"
    assert norm("tumor_site", "somewhere odd") == "somewhere odd"


def test_assemble_votes_on_normalised_values():
    norm = AnswerNormaliser()
    answers = [["26 mm"], [instructions.NOT_RELEVANT], ["2.6 x 1.1 x 0.4 cm"], ["3.1 cm"]]
    got = assemble(answers, None, lambda p: norm("tumor_size", p))
    assert got == (["2.6 cm"], 2)  # two phrases of the same size outvote the third


def test_spelling_table_reports_the_normalisers_fidelity(fitted):
    from cancerllm.normalise import spelling_table

    ex, norm = fitted
    tab = spelling_table(ex, norm)
    assert tab.index.name == "field"  # the book shows field names, not a row number
    assert set(tab.index) == set(ex.loc[ex["gold"].notna(), "field"])
    assert (tab["back to label %"] >= 98).all(), tab
    assert tab.loc["tumor_size", "rewritten %"] > 50  # "26 mm" is written "2.6 cm"
    broken = AnswerNormaliser()  # unfitted: phrases whose label differs from the extractor's key stay unmapped
    assert spelling_table(ex, broken).loc["histologic_type", "back to label %"] < 100
