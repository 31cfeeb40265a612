"""The prompt frame: the reference's Alpaca-style template (and the short one), the two tasks' instructions, the
stock replies, ``render``, and an example's input framing, ``join_input`` / ``split_input``.
"""

from __future__ import annotations

from ..data.schema import NOT_MENTIONED, QUESTIONS

TEMPLATE = ("Below is an instruction that describes a task, paired with an input that provides further context.\n\n"
            "### Instruction:\n{instruction}\n\n### Input:\n{context}\n\n### Response:\n")
SHORT_TEMPLATE = "### Input:\n{context}\n\n### Response:\n"
TEMPLATES = {"alpaca": TEMPLATE, "short": SHORT_TEMPLATE}
RESPONSE_MARKER = "### Response:"
#: a passage's answer when it does not state the asked-for field (the paper: "a reply saying the question is not
#: relevant"; its exact string is not public)
NOT_RELEVANT = "not relevant"
PHENOTYPE_INSTRUCTION = "You are an excellent linguist. The task is to answer the question by given the context or text"
DIAGNOSIS_INSTRUCTION = ("You are a medical expert. This task involves generating the diagnosis based on the provided "
                         "context or text.")
TASKS = ["phenotype_extraction", "diagnosis_generation"]
INPUT_PREFIX = "In the text: "  # opens a phenotype row's input (join_input)
#: the frame's fixed pieces, each one token of a locally trained tokenizer (``modeling.train_tokenizer``'s
#: `phrases`; ours): the Alpaca preamble and instructions, the input and response markers, the input prefix
#: (without its space, so a passage's first word is tokenised as it is inside a note) and the questions' shared
#: tail. The text is unchanged; a passage question costs its passage and field words plus two tokens, not 13
#: more (the reading pass reads ~2.3x fewer tokens per note, and the tuning examples are ~40% shorter).
FRAME_TOKENS = (TEMPLATE.split("{instruction}")[0], PHENOTYPE_INSTRUCTION, DIAGNOSIS_INSTRUCTION, "\n\n### Input:\n",
                SHORT_TEMPLATE.split("{context}")[0], INPUT_PREFIX.rstrip(), " in the given context?",
                "\n\n### Response:\n")


def frame_texts(repeat: int = 100) -> list[str]:
    """The fixed text of every prompt (templates, instructions, questions, the two stock answers), `repeat`
    times: added to the BPE tokenizer's training text so that the frame costs a few tokens, not one per letter
    (with the notes alone, "not relevant" was 6 tokens and the short frame plus a question ~40)."""
    fixed = [TEMPLATES[s].format(instruction=i, context=join_input("", q) if q else "")
             for s in TEMPLATES for i, q in [(PHENOTYPE_INSTRUCTION, q) for q in QUESTIONS.values()]
             + [(DIAGNOSIS_INSTRUCTION, "")]]
    fixed += [f"{NOT_RELEVANT}\n{NOT_MENTIONED}"]
    return fixed * repeat


def render(instruction: str, context: str, style: str = "alpaca") -> str:
    """The prompt of one example: the reference's Alpaca template (``alpaca``), or ``short`` — the same input and
    response marker without the 40-word Alpaca preamble (the CPU demo's choice: its prompts are one sentence
    long, and the preamble would be ~3/4 of every training and inference token)."""
    return TEMPLATES[style].format(instruction=instruction, context=context)


# The input (``context``) of an example is framed by ``join_input`` and unframed by ``split_input``; the
# robustness testbeds (which edit the note body) and retrieval (which indexes it) rely on the pair.
def join_input(body: str, question: str = "") -> str:
    """An example's input: "In the text: {body} {question}" for a phenotype question, the body itself for
    diagnosis (no question). ``_example`` builds every context with it."""
    return f"{INPUT_PREFIX}{body} {question}" if question else body


def split_input(context: str, field: str) -> tuple[str, str]:
    """(body, question) of an example's input, the question being ``QUESTIONS[field]`` ("" for diagnosis).
    The exact inverse of ``join_input``: ``join_input(*split_input(c, f)) == c`` for every context
    ``build_instructions`` makes. A hand-made context is read leniently (prefix optional, spaces around the
    question dropped)."""
    s = str(context)
    question = QUESTIONS.get(field, "")
    if not question:
        return s, ""
    if s.startswith(INPUT_PREFIX) and s.endswith(" " + question):
        return s[len(INPUT_PREFIX):-len(question) - 1], question
    body = (s.removeprefix(INPUT_PREFIX)).rstrip()
    return (body[:-len(question)].rstrip(), question) if body.endswith(question) else (body, question)
