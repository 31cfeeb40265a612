"""Similar training cases for a prompt, a core layer under the chapters: retrievers (`retrievers`: bm25, tfidf,
char_ngram), the case index with its exclusions (`index`: a patient's own notes and held-out notes never come
back) and the worked-example prompts built from the hits (`prompts`: `augment`, `perturb`, `prompt_budget`).
Used by the retrieval chapter (cancerllm.retrieval), chapter 30's few-shot arms (evaluation.few_shot_rows) and
chapter 50's retrieval cost. The design is ours (see cancerllm.retrieval)."""
