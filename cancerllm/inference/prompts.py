"""Passage prompts: the passage-level prompts of a note-level phenotype instance (the paper's sentence-level QA),
the prefix every question of a passage shares, and ``chat_wrapper`` for an untuned chat model's own template.
"""

from __future__ import annotations

from ..instructions import INPUT_PREFIX, join_input, passage_texts, render, split_input


def chat_wrapper(tokenizer):
    """A function putting a prompt into `tokenizer`'s chat template as one user turn followed by the assistant's
    turn (``apply_chat_template(..., add_generation_prompt=True)``), for scoring an untuned chat model as it
    was built to be asked; None when the tokenizer has no chat template. The template's leading BOS text is
    dropped because tokenising the prompt adds BOS again."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    bos = tokenizer.bos_token or ""

    def wrap(prompt: str) -> str:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt.rstrip()}], tokenize=False,
                                             add_generation_prompt=True)
        return text[len(bos):] if bos and text.startswith(bos) else text
    return wrap


def passage_prefix(prompt: str, passage: str) -> str:
    """A passage-level prompt up to the end of its passage: what every question asked of that passage shares
    (the question and the response marker come after it; ``first_tokens_shared``)."""
    return prompt[:prompt.rindex(passage) + len(passage)]


def sentence_prompts(row) -> list[str]:
    """The passage-level prompts of one note-level phenotype instance: each passage of the note (``passages``)
    asked the instance's question, in the instance's prompt style; worked examples put before "In the text:"
    (retrieval) are kept in front of every passage."""
    return [p for p, _ in sentence_prompt_passages(row)]


def sentence_prompt_passages(row) -> list[tuple[str, str]]:
    """``sentence_prompts`` with each prompt's passage: (prompt, passage text)."""
    context = str(row["context"])
    at = context.find(INPUT_PREFIX)
    head, rest = (context[:at], context[at:]) if at > 0 else ("", context)
    body, question = split_input(rest, row["field"])
    style = row.get("style", "alpaca") if hasattr(row, "get") else "alpaca"
    return [(render(row["instruction"], head + join_input(t, question), style), t) for t in passage_texts(body)]
