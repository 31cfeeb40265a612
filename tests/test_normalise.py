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


def _organ_examples():
    """Tuning rows of five real-like notes: "adenocarcinoma" copied from lung (3) and colon (2) reports, whose
    labels name the organ, and each note's diagnosis row."""
    rows = []
    for k, (dx, label) in enumerate([("Lung adenocarcinoma", "Lung Adenocarcinoma")] * 3
                                    + [("Colon adenocarcinoma", "Colon Adenocarcinoma")] * 2):
        rows += [{"patient_id": f"P{k}", "task": "phenotype_extraction", "field": "histologic_type",
                  "response": "adenocarcinoma", "gold": label},
                 {"patient_id": f"P{k}", "task": "diagnosis_generation", "field": "diagnosis", "response": dx,
                  "gold": None}]
    return pd.DataFrame(rows)


def test_histology_is_spelled_given_the_notes_diagnosis():
    """One copied keyword, several organ-specific labels: the label follows the diagnosis given (as written,
    else its organ), and without one falls back to the keyword's most common label."""
    from cancerllm.normalise import spelling_table

    norm = AnswerNormaliser().fit(_organ_examples())
    assert norm("histologic_type", "adenocarcinoma") == "Lung Adenocarcinoma"  # no diagnosis: the most common
    assert norm("histologic_type", "adenocarcinoma", "Colon adenocarcinoma") == "Colon Adenocarcinoma"
    assert norm("histologic_type", "adenocarcinoma", "Rectum adenocarcinoma") == "Colon Adenocarcinoma"  # organ
    assert norm("histologic_type", "adenocarcinoma", "Thymoma") == "Lung Adenocarcinoma"  # unseen: keyword
    assert norm("t_stage", "pT2", "Colon adenocarcinoma") == "T2"  # other fields ignore the diagnosis
    assert spelling_table(_organ_examples(), norm).loc["histologic_type", "back to label %"] == 100.0


def test_predict_spells_histology_given_the_same_models_diagnosis():
    """``inference.predict`` hands the normaliser, for a note's histology phrases, that model's own answer to
    the note's diagnosis question in the same call (never the gold), and nothing when the call lacks it."""
    from cancerllm import inference, modeling
    from cancerllm.config import make_config

    cohort = generate_cohort(12, seed=3, n_general_notes=0)
    tok = modeling.train_tokenizer(list(cohort.notes["text"]) + instructions.frame_texts(5), 400)
    df = instructions.build_instructions(cohort, "train", tok, 320, 6, "short")
    pids = sorted(df["patient_id"].unique())[:2]
    rows = df[df["patient_id"].isin(pids) & df["field"].isin(["histologic_type", "diagnosis"])]
    rows = rows[~((rows["patient_id"] == pids[1]) & (rows["field"] == "diagnosis"))].reset_index(drop=True)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok)  # random: answers every passage with something

    class Recorder(AnswerNormaliser):
        def __init__(self):
            super().__init__()
            self.seen = []

        def __call__(self, field, phrase, diagnosis=None):
            self.seen.append((field, diagnosis))
            return super().__call__(field, phrase, diagnosis)

    norm = Recorder()
    raw, _ = inference.predict(model, tok, rows, 6, 16, normaliser=norm)
    said = {pid: r for pid, r, t in zip(rows["patient_id"], raw, rows["task"]) if t == "diagnosis_generation"}
    assert set(said) == {pids[0]}
    first = [d for f, d in norm.seen if f == "histologic_type"]
    assert first and set(first) <= {", ".join(inference.parse_answer(said[pids[0]])), None}
    assert None in first and ", ".join(inference.parse_answer(said[pids[0]])) in first  # P1 has no diagnosis row
    gold = rows.loc[rows["field"] == "diagnosis", "response"].iloc[0]
    assert gold not in first  # the model's answer, never the gold


@pytest.mark.parametrize("field, phrase, ok", [
    ("grade", "FUHRMAN NUCLEAR GRADE IS", False), ("grade", "Histologic grade", False), ("grade", "G2", True),
    ("grade", "moderately differentiated", True), ("t_stage", "Esophagus", False), ("t_stage", "pT2a", True),
    ("n_stage", "pN1", True), ("m_stage", "margins", False), ("histologic_type", "anything at all", True),
    ("tumor_size", "anything at all", True)])
def test_a_tnm_or_grade_phrase_no_reader_reads_states_no_value(field, phrase, ok):
    assert AnswerNormaliser.states_value(field, phrase) is ok


def test_predict_keeps_unreadable_stage_phrases_out_of_the_vote():
    """A random model copies arbitrary phrases; with a normaliser, a T-stage phrase no reader reads counts as
    not relevant, so the note's answer is a readable stage or "not mentioned" — never a copied header."""
    from cancerllm import inference, modeling
    from cancerllm.config import make_config
    from cancerllm.normalise import read_phrase

    cohort = generate_cohort(12, seed=3, n_general_notes=0)
    tok = modeling.train_tokenizer(list(cohort.notes["text"]) + instructions.frame_texts(5), 400)
    df = instructions.build_instructions(cohort, "train", tok, 320, 6, "short")
    rows = df[df["field"] == "t_stage"].head(4).reset_index(drop=True)
    cfg = make_config({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "num_key_value_heads": 1, "initializer_range": 0.2})
    model = modeling.build_small_model(cfg, tok)
    _, free = inference.predict(model, tok, rows, 6, 16, copy=True)
    _, read = inference.predict(model, tok, rows, 6, 16, copy=True, normaliser=AnswerNormaliser())
    assert any(read_phrase("t_stage", ", ".join(a)) is None for a in free)  # the vote picked unreadable phrases
    assert all(a == ["not mentioned"] or read_phrase("t_stage", ", ".join(a)) for a in read)
