"""Sentiment heads as plain arrays: what is shipped, how it is stored and how it is applied.

A head turns a text into three probabilities (negative, neutral, positive). Each language has
one, made of up to two *views* of the text whose probabilities are averaged:

- the **e5 view**: a linear classifier over the 384-dimensional e5 embedding;
- the **n-gram view** (optional): a linear classifier over TF-IDF weights of character n-grams
  of the normalised, lower-cased text, which catches the word endings and slang
  ("노잼", "ㅋㅋ", "최악") a small sentence encoder smooths away.

Each view is a binary logistic classifier (P(positive) = sigmoid of one weight row), so a head
has no neutral probability: a text is labelled neutral when ``|P(pos) − P(neg)|`` falls inside
the head's ``neutral_band``, a width chosen on held-out texts with neutral labels. (The data
decided this: a 3-class head trained on NSMC's 5–8-star "neutral" reviews scored no better on
the binary test set and called plainly positive customer texts neutral.)

Everything is stored in one ``.npz`` of numeric and unicode arrays (read with
``allow_pickle=False``) so a shipped file loads on any numpy and scikit-learn version: the heads
are fitted with scikit-learn in :mod:`journeylens.feedback.training` but applied here with numpy
and scipy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from scipy import sparse

from journeylens.feedback.embed import normalise_text

__all__ = ["CLASSES", "LanguageHead", "LinearView", "NgramFeatures", "char_ngrams", "load_heads"]

#: The class order of every probability array a head returns.
CLASSES: Final = ("negative", "neutral", "positive")


def char_ngrams(text: str, n_min: int, n_max: int) -> list[str]:
    """Character n-grams of each word of a text, the word padded with spaces at both ends.

    Returns:
        Every n-gram (``n_min`` ≤ n ≤ ``n_max``) of " word " for each whitespace-separated word
        of the normalised, lower-cased text, in order, repeats kept.

    Example:
        >>> char_ngrams("Bad app", 2, 3)
        [' b', 'ba', 'ad', 'd ', ' ba', 'bad', 'ad ', ' a', 'ap', 'pp', 'p ', ' ap', 'app', 'pp ']
    """
    grams: list[str] = []
    for word in normalise_text(text).lower().split(" "):
        if not word:
            continue
        padded = f" {word} "
        for n in range(n_min, n_max + 1):
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


@dataclass(frozen=True)
class NgramFeatures:
    """TF-IDF over a fixed vocabulary of character n-grams (l2-normalised rows).

    The weights match scikit-learn's ``TfidfVectorizer(analyzer=..., norm="l2")``: raw counts
    times the fitted idf, each row scaled to unit length; n-grams outside the vocabulary are
    ignored.
    """

    vocabulary: np.ndarray  # (V,) unicode
    idf: np.ndarray  # (V,) float
    n_min: int
    n_max: int

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The ``(len(texts), V)`` TF-IDF matrix of the texts."""
        index = self._index
        rows: list[int] = []
        cols: list[int] = []
        for r, text in enumerate(texts):
            for gram in char_ngrams(text, self.n_min, self.n_max):
                c = index.get(gram)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
        counts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, cols)),
            shape=(len(texts), len(self.vocabulary)),
        )
        counts.sum_duplicates()
        weighted = counts.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ weighted

    @property
    def _index(self) -> dict[str, int]:
        # Built on demand and memoised on the frozen instance.
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {str(g): i for i, g in enumerate(self.vocabulary)}
            object.__setattr__(self, "_index_cache", cached)
        return cached


@dataclass(frozen=True)
class LinearView:
    """One binary logistic classifier: P(positive) = sigmoid(x · coef + intercept)."""

    coef: np.ndarray  # (1, d)
    intercept: np.ndarray  # (1,)

    def proba(self, x: np.ndarray | sparse.spmatrix) -> np.ndarray:
        """``(n, 3)`` probabilities of (negative, neutral, positive); neutral is always 0."""
        logits = np.asarray(x @ self.coef.T)[:, 0] + self.intercept[0]
        pos = 1.0 / (1.0 + np.exp(-logits))
        return np.column_stack([1.0 - pos, np.zeros_like(pos), pos])


@dataclass(frozen=True)
class LanguageHead:
    """The sentiment head of one language: e5 view, optional n-gram view, neutral rule.

    ``e5_weight`` is the weight of the e5 view in the average (1.0 = e5 only). A text is
    neutral when ``|P(pos) − P(neg)|`` is below ``neutral_band``.
    """

    e5: LinearView
    ngram: LinearView | None
    features: NgramFeatures | None
    e5_weight: float
    neutral_band: float

    def proba(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """``(n, 3)`` probabilities of (negative, neutral, positive) for aligned inputs."""
        p = self.e5.proba(embeddings)
        if self.ngram is not None and self.features is not None and self.e5_weight < 1.0:
            q = self.ngram.proba(self.features.transform(texts))
            p = self.e5_weight * p + (1.0 - self.e5_weight) * q
        return p

    def label(self, proba: np.ndarray) -> np.ndarray:
        """Index into :data:`CLASSES` of each row's label (by the score and the band)."""
        score = proba[:, 2] - proba[:, 0]
        return np.where(np.abs(score) < self.neutral_band, 1, np.where(score > 0, 2, 0))

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The head as named arrays for :func:`numpy.savez` (names start with ``prefix``)."""
        out = {
            f"{prefix}.e5.coef": self.e5.coef.astype(np.float32),
            f"{prefix}.e5.intercept": self.e5.intercept.astype(np.float32),
            f"{prefix}.e5_weight": np.float64(self.e5_weight),
            f"{prefix}.neutral_band": np.float64(self.neutral_band),
        }
        if self.ngram is not None and self.features is not None:
            out |= {
                f"{prefix}.ngram.coef": self.ngram.coef.astype(np.float32),
                f"{prefix}.ngram.intercept": self.ngram.intercept.astype(np.float32),
                f"{prefix}.ngram.vocabulary": self.features.vocabulary.astype(str),
                f"{prefix}.ngram.idf": self.features.idf.astype(np.float32),
                f"{prefix}.ngram.n": np.array([self.features.n_min, self.features.n_max]),
            }
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> LanguageHead:
        """The head stored under ``prefix`` by :meth:`to_arrays`."""

        def get(name: str) -> np.ndarray:
            return np.asarray(arrays[f"{prefix}.{name}"])

        ngram = features = None
        if f"{prefix}.ngram.coef" in arrays:
            n_min, n_max = (int(v) for v in get("ngram.n"))
            ngram = LinearView(get("ngram.coef").astype(np.float64), get("ngram.intercept"))
            features = NgramFeatures(get("ngram.vocabulary"), get("ngram.idf"), n_min, n_max)
        return cls(
            e5=LinearView(get("e5.coef").astype(np.float64), get("e5.intercept")),
            ngram=ngram,
            features=features,
            e5_weight=float(get("e5_weight")),
            neutral_band=float(get("neutral_band")),
        )


def load_heads(path: str | Path) -> dict[str, LanguageHead]:
    """Read the heads saved in an ``.npz`` file.

    Returns:
        ``{language: head}`` for each language stored (the prefixes before the first dot).
    """
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    languages = sorted({k.split(".", 1)[0] for k in arrays})
    return {lang: LanguageHead.from_arrays(arrays, lang) for lang in languages}
