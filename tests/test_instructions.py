"""Instruction data: the input framing (``join_input`` / ``split_input`` are exact inverses; robustness and
retrieval rely on them), the answerable-instruction invariant (every gold value is stated in the text the model
is given), the sentence-level QA examples, and the note-level assembly of passage answers."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cancerllm import instructions
from cancerllm.data.schema import NOT_MENTIONED
from cancerllm.data.synthetic import generate_cohort
from cancerllm.inference import assemble, sentence_prompts
from cancerllm.instructions import NOT_RELEVANT, QUESTIONS, join_input, split_input
from cancerllm.modeling import train_tokenizer


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(24, seed=5)


@pytest.fixture(scope="module")
def big():
    return generate_cohort(200, seed=11)


@pytest.mark.parametrize("style", ["alpaca", "short"])
@pytest.mark.parametrize("cut", [False, True])
def test_split_input_inverts_every_built_context(cohort, cut, style):
    tok = train_tokenizer(list(cohort.notes["text"]), 300) if cut else None
    df = instructions.build_instructions(cohort, "train", tok, 160, 16, style)  # with a tokenizer diagnosis is cut
    assert set(df["task"]) == set(instructions.TASKS)
    for r in df.to_dict("records"):
        body, question = split_input(r["context"], r["field"])
        assert join_input(body, question) == r["context"]
        assert r["prompt"] == instructions.TEMPLATES[style].format(instruction=r["instruction"], context=r["context"])
        if r["task"] == "phenotype_extraction":
            assert question == QUESTIONS[r["field"]] and r["context"] == f"In the text: {body} {question}"
        else:
            assert (body, question) == (r["context"], "")


@pytest.mark.parametrize("body", ["", "G2 tumour. ", "In the text: G2", "grade?  " + QUESTIONS["grade"], "a\n\nb"])
def test_join_then_split_is_identity(body):
    q = QUESTIONS["grade"]
    assert split_input(join_input(body, q), "grade") == (body, q)
    assert split_input(join_input(body), "diagnosis") == (body, "")
    assert join_input(body, "") == body


def test_every_synthetic_value_is_answerable_from_the_report(big):
    """The invariant of issue 12: for every field, every labelled value is stated in a passage of the report
    the phenotype question is asked of (the generator's evidence spans say where it wrote it)."""
    tab = instructions.answerability(big)
    assert list(tab.index) == big.fields and (tab["instances"] > 0).all()
    assert (tab["% answerable"] == 100.0).all(), tab


def test_evidence_spans_hold_the_gold_value(big):
    """The recorded spans are where the value is: the stage digit, the size number, a word of the site."""
    labels = big.labels.set_index("patient_id")
    checked = 0
    for nid, spans in big.evidence.items():
        note = big.notes.set_index("note_id").loc[nid]
        text, lab = note["text"], labels.loc[note["patient_id"]]
        for a, b, fld in spans:
            assert 0 <= a < b <= len(text)
            if fld == "tumor_size" and lab[fld] != NOT_MENTIONED:
                cm = float(lab[fld].split()[0])  # gold is in cm; the note may say mm
                stated = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text[a:b])]
                assert any(abs(x - cm) < 1e-9 or abs(x - 10 * cm) < 1e-6 for x in stated), (nid, text[a:b], lab[fld])
                checked += 1
    assert checked > 50


def test_sentence_examples_answer_with_value_or_not_relevant(big):
    ex = instructions.sentence_examples(big, "train", "short", negatives=2.0, seed=3)
    labels = big.labels.set_index("patient_id")
    pos = ex[ex["response"] != NOT_RELEVANT]
    neg = ex[ex["response"] == NOT_RELEVANT]
    assert len(neg) >= 1.5 * len(pos) > 0  # about `negatives` per evidence passage
    for r in pos.itertuples():
        assert r.gold == labels.loc[r.patient_id, r.field]
        body, _ = split_input(r.context, r.field)
        assert len(body) < 400  # one passage, not the report
        for piece in r.response.split(", "):  # the phrase as the passage writes it (the paper's span answer)
            assert piece in body, (r.id, r.response, body)
    assert pos["gold"].notna().all() and neg["gold"].isna().all()
    assert (pos["response"] != pos["gold"]).mean() > 0.3  # "26 mm", "pT2", "G2": not the label itself
    again = instructions.sentence_examples(big, "train", "short", negatives=2.0, seed=3)
    assert again["id"].tolist() == ex["id"].tolist()  # seeded


def test_passages_split_sentences_and_keep_headers_with_their_line():
    text = "FINAL DIAGNOSIS:\nA. Left breast, biopsy: invasive carcinoma. Grade 2; margins clear.\n\nComment - \nSee note."
    got = instructions.passage_texts(text)
    assert got == ["FINAL DIAGNOSIS: A. Left breast, biopsy: invasive carcinoma.", "Grade 2; margins clear.",
                   "Comment - See note."]


def test_sentence_prompts_ask_every_passage(cohort):
    row = instructions.build_instructions(cohort, "test", None, 4000, 16, "short").iloc[0]
    body, _ = split_input(row["context"], row["field"])
    prompts = sentence_prompts(row)
    assert len(prompts) == len(instructions.passages(body)) > 3
    assert all(p.endswith(QUESTIONS[row["field"]] + "\n\n### Response:\n") for p in prompts)


def test_assemble_votes_and_counts_conflicts():
    nr = [NOT_RELEVANT]
    assert assemble([nr, nr]) == ([NOT_MENTIONED], 0)
    assert assemble([["T2"], nr, ["t2"], ["T3"]]) == (["t2"], 2)  # majority (case-insensitive), last spelling
    assert assemble([["T2"], ["T3"]]) == (["T3"], 2)  # tie: the later passage (synoptic summaries come last)
    assert assemble([["T2"], ["T3"]], [0.9, 0.2]) == (["T2"], 2)  # confidence-weighted
    assert assemble([["ER positive", "PR negative"]]) == (["ER positive", "PR negative"], 1)


def test_passages_lose_no_text(big):
    """Every non-space character of a note is in exactly one passage (a line with trailing spaces once lost)."""
    for text in list(big.notes["text"][:200]) + ["a  \nb \n\n  c. D"]:
        joined = "".join("".join(p.split()) for p in instructions.passage_texts(text))
        assert joined == "".join(text.split())


def test_phrases_found_by_value_on_real_text():
    """Real text has no generator marks: the phrase is the TNM token with its prefix, or the gold as written."""
    text = "Staging: pT2a pN1b cM0.\nHistologic type: Invasive Ductal Carcinoma."
    bounds = instructions.passages(text)
    assert instructions.evidence_phrase(text, bounds[0], None, "t_stage", "T2") == "pT2a"
    assert instructions.evidence_phrase(text, bounds[0], None, "n_stage", "N1") == "pN1b"
    assert instructions.evidence_phrase(text, bounds[1], None, "histologic_type",
                                        "invasive ductal carcinoma") == "Invasive Ductal Carcinoma"
    assert instructions.evidence_phrase(text, bounds[1], None, "grade", "G3") == "G3"  # not stated: the gold


def test_real_text_values_found_as_reports_write_them():
    """Grade in words, histology by its keyword under the registry's name, and an OCR'd zero ("pNO") count as
    stated, and the phrase is the value as written (without its "Header:"); a bare word "NO" does not."""
    def phrase(text, fld, gold):
        return instructions.evidence_phrase(text, (0, len(text)), None, fld, gold)

    assert phrase("Histologic grade: Moderately differentiated.", "grade", "G2") == "Moderately differentiated"
    assert phrase("Fuhrman grade: 2/4; size 3 cm", "grade", "G2") == "Fuhrman grade: 2/4"
    assert instructions.evidence_passages([(0, 20)], None, "Fuhrman grade 2/4 ..", "grade", "G3") == [False]
    assert phrase("Histologic Type: Papillary carcinoma, classic", "histologic_type",
                  "Thyroid Papillary Carcinoma - Classical/usual") == "Papillary carcinoma"
    assert phrase("Diagnosis: invasive ductal carcinoma", "histologic_type",
                  "Infiltrating Ductal Carcinoma") == "invasive ductal carcinoma"
    assert phrase("pT3NOMX", "n_stage", "N0") == "pT3NO" and phrase("(pNO) 0/12 nodes", "n_stage", "N0") == "pNO"
    text = "NO MALIGNANCY IDENTIFIED IN NODES"
    assert instructions.evidence_passages([(0, len(text))], None, text, "n_stage", "N0") == [False]
    long = "Diagnosis " + "word " * 15 + "adenocarcinoma"  # a clause too long to be a phrase: not found by keyword
    assert instructions.evidence_passages([(0, len(long))], None, long, "histologic_type", "Lung Adenocarcinoma") == [False]


def test_section_views_keep_the_label_and_every_section():
    df = pd.DataFrame([
        {"id": "P1:diagnosis", "instruction": "I", "context": "Site: left breast.\n\nAssessment: carcinoma.",
         "response": "Malignant neoplasm of left female breast", "prompt": "x"},
        {"id": "P2:diagnosis", "instruction": "I", "context": "Assessment: one section only.", "response": "y",
         "prompt": "x"},
    ])
    views = instructions.section_views(df, "short", seed=0)
    assert list(views.columns) == list(df.columns)
    assert views["id"].tolist() == ["P1:diagnosis#view0", "P1:diagnosis#view1", "P1:diagnosis#view2"]
    assert views["context"].tolist()[:2] == ["Site: left breast.", "Assessment: carcinoma."]
    assert sorted(views["context"].iloc[2].split("\n\n")) == ["Assessment: carcinoma.", "Site: left breast."]
    assert set(views["response"]) == {"Malignant neoplasm of left female breast"}
    assert all(p == instructions.render("I", c, "short") for p, c in zip(views["prompt"], views["context"]))


def test_sft_examples_add_the_views_only_when_asked(cohort):
    from cancerllm import pipeline
    from cancerllm.config import make_config

    tok = train_tokenizer([r for r in cohort.notes["text"]] + instructions.frame_texts(), 300)
    notes = instructions.build_instructions(cohort, "train", tok, 256, 24, "short")
    n_dx = int((notes["task"] == "diagnosis_generation").sum())
    plain = pipeline.sft_examples(make_config({"sft_diagnosis_repeat": 2}), cohort, notes, "train")
    viewed = pipeline.sft_examples(make_config({"sft_diagnosis_repeat": 2, "sft_diagnosis_views": True}), cohort,
                                   notes, "train")
    views = viewed[viewed["id"].str.contains("#view")]
    assert (plain["task"] == "diagnosis_generation").sum() == 2 * n_dx
    assert len(viewed) == len(plain) + len(views) and len(views) > n_dx  # >= 2 sections + 1 shuffle each
    assert set(views["task"]) == {"diagnosis_generation"}


def test_real_text_passage_stating_another_value_is_no_not_relevant_example():
    """On real text the registry's label and the report can disagree (label T2, report "pT3"): the passage that
    states the other value is neither evidence nor an example of "not relevant" for that field (tuned as "not
    relevant", it taught the model to pass over stated stages); for the other fields it may still be one."""
    from cancerllm.data.schema import Cohort

    texts = {"P1": "Staging: pT3 N0.\nMargins are free of tumor.\nSpecimen received fresh.\nNo further findings.",
             "P2": "Staging: pT2 N0.\nMargins are free of tumor.\nSpecimen received fresh.\nNo further findings."}
    notes = pd.DataFrame([{"patient_id": p, "note_id": f"{p}-r", "note_type": "pathology_report", "text": t,
                           "split": "train"} for p, t in texts.items()])
    labels = pd.DataFrame([{"patient_id": p, "split": "train", "cancer_type": "x", "t_stage": "T2",
                            "n_stage": "N0", "diagnosis": None} for p in texts])
    real = Cohort("real-like", True, notes, labels, fields=["t_stage", "n_stage"])
    ex = instructions.sentence_examples(real, "train", "short", negatives=3.0, seed=0)
    t = ex[ex["field"] == "t_stage"]
    # P1 states pT3 against the label T2: not a positive, and not a negative either
    assert not t["id"].str.startswith("P1:t_stage:s0").any()
    assert (t["response"] == NOT_RELEVANT).sum() > 0  # its other passages still are
    # P2 states the label: its passage is the positive, answered as written
    assert t.loc[t["id"] == "P2:t_stage:s0", "response"].tolist() == ["pT2"]
    # for N, P1's staging passage is the evidence all the same
    assert ex.loc[ex["id"] == "P1:n_stage:s0", "response"].tolist() == ["N0"]
