"""Sentiment heads as plain arrays: what is shipped, how it is stored and how it is applied.

A head turns a text into three probabilities (negative, neutral, positive). Each language has
one, made of *views* of the text whose probabilities are averaged with fixed weights:

- the **e5 view**: a linear classifier over the 384-dimensional e5 embedding;
- **n-gram views** (optional), each a linear classifier over TF-IDF weights of
  - character n-grams of each word of the normalised, lower-cased text (``unit="char"``), which
    catch the word endings and slang ("노잼", "ㅋㅋ", "최악") a small sentence encoder smooths
    away, or
  - morpheme n-grams from Kiwi's analysis (``unit="morpheme"``, Korean): "form/tag" tokens such
    as "배송/NNG" and "늦/VA", so that 늦었어요, 늦어서 and 늦음 share their stem whatever
    ending follows it.

Each view is a binary logistic classifier (P(positive) = sigmoid of one weight row), so a head
has no neutral probability: a text is labelled neutral when ``|P(pos) − P(neg)|`` falls inside
the head's ``neutral_band``, a width chosen on held-out texts with neutral labels. (The data
decided this: a 3-class head trained on NSMC's 5–8-star "neutral" reviews scored no better on
the binary test set and called plainly positive customer texts neutral.)

Everything is stored in one ``.npz`` of numeric and unicode arrays (read with
``allow_pickle=False``) so a shipped file loads on any numpy and scikit-learn version: the heads
are fitted with scikit-learn in :mod:`journeylens.feedback.training` but applied here with numpy
and scipy only (plus Kiwi for the morpheme view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
from scipy import sparse

from journeylens.feedback.embed import normalise_text

__all__ = [
    "CLASSES",
    "LanguageHead",
    "LinearView",
    "NgramFeatures",
    "NgramView",
    "char_ngrams",
    "load_heads",
    "morpheme_ngrams",
]

#: The class order of every probability array a head returns.
CLASSES: Final = ("negative", "neutral", "positive")

Unit = Literal["char", "morpheme"]


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


def morpheme_ngrams(texts: Sequence[str], n_min: int, n_max: int) -> list[list[str]]:
    """Morpheme n-grams of each text from Kiwi's analysis of the normalised text.

    Returns:
        One list per text: every run of ``n_min`` to ``n_max`` consecutive "form/tag" morphemes
        (joined by a space), in order, repeats kept.

    Example:
        >>> morpheme_ngrams(["배송 늦음"], 1, 2)
        [['배송/NNG', '늦/VA', '음/EF', '배송/NNG 늦/VA', '늦/VA 음/EF']]
    """
    # One Kiwi per process, shared with the topic terms (it takes a second to load).
    from journeylens.feedback.tokens import _kiwi

    analysed = _kiwi().tokenize([normalise_text(t) for t in texts])
    out: list[list[str]] = []
    for tokens in analysed:
        units = [f"{t.form}/{t.tag}" for t in tokens]
        grams: list[str] = []
        for n in range(n_min, n_max + 1):
            grams.extend(" ".join(units[i : i + n]) for i in range(len(units) - n + 1))
        out.append(grams)
    return out


@dataclass(frozen=True)
class NgramFeatures:
    """TF-IDF over a fixed vocabulary of character or morpheme n-grams (l2-normalised rows).

    The weights match scikit-learn's ``TfidfVectorizer(analyzer=..., norm="l2",
    sublinear_tf=...)``: counts (or ``1 + log(count)`` when ``sublinear``) times the fitted idf,
    each row scaled to unit length; n-grams outside the vocabulary are ignored.
    """

    vocabulary: np.ndarray  # (V,) unicode
    idf: np.ndarray  # (V,) float
    n_min: int
    n_max: int
    unit: Unit = "char"
    sublinear: bool = False

    def grams(self, texts: Sequence[str]) -> list[list[str]]:
        """The n-grams of each text (one list per text, repeats kept)."""
        if self.unit == "morpheme":
            return morpheme_ngrams(texts, self.n_min, self.n_max)
        return [char_ngrams(t, self.n_min, self.n_max) for t in texts]

    def weigh(self, grams: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        """The ``(len(grams), V)`` TF-IDF matrix of texts given as their n-gram lists."""
        index = self._index
        rows: list[int] = []
        cols: list[int] = []
        for r, text_grams in enumerate(grams):
            for gram in text_grams:
                c = index.get(gram)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
        counts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, cols)),
            shape=(len(grams), len(self.vocabulary)),
        )
        counts.sum_duplicates()
        if self.sublinear:
            counts.data = 1.0 + np.log(counts.data)
        weighted = counts.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ weighted

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The ``(len(texts), V)`` TF-IDF matrix of the texts."""
        return self.weigh(self.grams(texts))

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
class NgramView:
    """A linear classifier over one kind of n-gram features, and its weight in the head."""

    features: NgramFeatures
    linear: LinearView
    weight: float

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, 3)`` probabilities of (negative, neutral, positive) of the texts."""
        return self.linear.proba(self.features.transform(texts))


@dataclass(frozen=True)
class LanguageHead:
    """The sentiment head of one language: e5 view, n-gram views, neutral rule.

    The head's probabilities are ``e5_weight`` × the e5 view's plus each n-gram view's
    ``weight`` × its own (the weights sum to 1). A text is neutral when ``|P(pos) − P(neg)|``
    is below ``neutral_band``.
    """

    e5: LinearView
    e5_weight: float
    ngrams: tuple[NgramView, ...]
    neutral_band: float

    def e5_only(self) -> LanguageHead:
        """The same head with its e5 view alone (for texts its n-grams cannot read)."""
        return LanguageHead(self.e5, 1.0, (), self.neutral_band)

    def proba(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """``(n, 3)`` probabilities of (negative, neutral, positive) for aligned inputs."""
        p = self.e5_weight * self.e5.proba(embeddings)
        for view in self.ngrams:
            p = p + view.weight * view.proba(texts)
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
        for k, view in enumerate(self.ngrams):
            name = f"{prefix}.ngram{k}"
            out |= {
                f"{name}.coef": view.linear.coef.astype(np.float32),
                f"{name}.intercept": view.linear.intercept.astype(np.float32),
                f"{name}.weight": np.float64(view.weight),
                f"{name}.vocabulary": view.features.vocabulary.astype(str),
                f"{name}.idf": view.features.idf.astype(np.float32),
                f"{name}.n": np.array([view.features.n_min, view.features.n_max]),
                f"{name}.unit": np.array(view.features.unit),
                f"{name}.sublinear": np.array(view.features.sublinear),
            }
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> LanguageHead:
        """The head stored under ``prefix`` by :meth:`to_arrays`."""

        def get(name: str) -> np.ndarray:
            return np.asarray(arrays[f"{prefix}.{name}"])

        views: list[NgramView] = []
        while f"{prefix}.ngram{len(views)}.coef" in arrays:
            name = f"ngram{len(views)}"
            n_min, n_max = (int(v) for v in get(f"{name}.n"))
            features = NgramFeatures(
                get(f"{name}.vocabulary"),
                get(f"{name}.idf").astype(np.float64),
                n_min,
                n_max,
                unit=str(get(f"{name}.unit")),  # type: ignore[arg-type]
                sublinear=bool(get(f"{name}.sublinear")),
            )
            linear = LinearView(get(f"{name}.coef").astype(np.float64), get(f"{name}.intercept"))
            views.append(NgramView(features, linear, float(get(f"{name}.weight"))))
        return cls(
            e5=LinearView(get("e5.coef").astype(np.float64), get("e5.intercept")),
            e5_weight=float(get("e5_weight")),
            ngrams=tuple(views),
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
