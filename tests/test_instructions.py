"""The framing of an instruction's input: ``join_input`` builds "In the text: {body} {question}" (the body
alone for diagnosis) and ``split_input`` is its exact inverse; robustness and retrieval both rely on it."""

from __future__ import annotations

import pytest

from cancerllm import instructions
from cancerllm.data.synthetic import generate_cohort
from cancerllm.instructions import QUESTIONS, join_input, split_input
from cancerllm.modeling import train_tokenizer


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(24, seed=5)


@pytest.mark.parametrize("cut", [False, True])
def test_split_input_inverts_every_built_context(cohort, cut):
    tok = train_tokenizer(list(cohort.notes["text"]), 300) if cut else None
    df = instructions.build_instructions(cohort, "train", tok, 160, 16)  # with a tokenizer most notes are cut
    assert set(df["task"]) == set(instructions.TASKS)
    for r in df.to_dict("records"):
        body, question = split_input(r["context"], r["field"])
        assert join_input(body, question) == r["context"]
        assert r["prompt"] == instructions.TEMPLATE.format(instruction=r["instruction"], context=r["context"])
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
