"""Retrievers over note bodies (`RETRIEVERS`): `bm25` (the `bm25s` library; English stop words, NLTK's local
Porter stemmer), `tfidf` (scikit-learn word 1-2-grams, cosine) and `char_ngram` (character 3-5-grams inside
word boundaries, cosine; robust to OCR noise and misspellings). Each has `fit(docs)` and a batched
`search(queries, k)` that returns (document indices, scores), best first, equal scores in document order.
Used in notebooks/60_retrieval.ipynb.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


@lru_cache(maxsize=1)
def _porter():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.NLTK_EXTENSIONS)


def _stem(words: list[str]) -> list[str]:
    return [_porter().stem(w) for w in words]


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k columns per row, ties broken by the lower document index (stable)."""
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(scores, idx, axis=1)


class BM25Retriever:
    """Okapi BM25 (Lucene variant) from `bm25s`, Porter-stemmed words without English stop words."""

    def fit(self, docs: list[str]):
        import bm25s

        self.n_docs = len(docs)
        self.model = bm25s.BM25()
        self.model.index(self._tokens(docs, ids=True), show_progress=False)
        return self

    @staticmethod
    def _tokens(texts, ids=False):
        import bm25s

        return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stem, return_ids=ids, show_progress=False)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n_docs)
        docs, scores = self.model.retrieve(self._tokens(queries), k=k, show_progress=False, n_threads=0)
        # bm25s sorts by score only; re-sort so equal scores always come in document order, as the others do
        order = np.lexsort((docs, -scores), axis=1) if len(docs) else np.zeros((0, k), int)
        return np.take_along_axis(docs, order, 1).astype(int), np.take_along_axis(scores, order, 1)


class _CosineRetriever:
    vectorizer_kwargs: ClassVar[dict] = {}

    def fit(self, docs: list[str]):
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, **self.vectorizer_kwargs)
        self.docs = self.vectorizer.fit_transform(list(docs))  # rows are L2-normalised: dot product = cosine
        return self

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = (self.vectorizer.transform(list(queries)) @ self.docs.T).toarray()  # all queries at once
        return _top_k(sims, min(k, self.docs.shape[0]))


class TfidfRetriever(_CosineRetriever):
    """Word unigrams and bigrams, sublinear tf-idf, cosine similarity."""
    vectorizer_kwargs: ClassVar[dict] = {"ngram_range": (1, 2)}


class CharNgramRetriever(_CosineRetriever):
    """Character 3-5-grams inside word boundaries, tf-idf, cosine: a misspelt word still shares most n-grams."""
    vectorizer_kwargs: ClassVar[dict] = {"analyzer": "char_wb", "ngram_range": (3, 5)}


RETRIEVERS = {"bm25": BM25Retriever, "tfidf": TfidfRetriever, "char_ngram": CharNgramRetriever}
