"""How feedback texts of one sentiment are grouped into topics, named and quoted.

Why the texts are not clustered on their sentence embeddings: within one sentiment, what
separates two e5 sentence vectors most is the *phrasing* ("Very disappointed with the …" against
"… took forever, I want a refund"), not the thing talked about. On the simulator's texts
(8 topics × 4 phrasings per sentiment and language) KMeans on sentence vectors groups by
phrasing: topic purity 0.12, no better than chance. A topic is what the text is *about*, so each
text is represented by the e5 vectors of its **aspect terms** (:func:`aspect_weights`):

- A term used in praise, in neutral remarks and in complaints alike ("delivery", "배송") names
  an aspect; a term used in one sentiment only ("disappointed", "최고") expresses the feeling,
  which the sentiment split already holds. A term's aspect weight is ``1 − (m − 1/S) / (1 −
  1/S)`` where ``m`` is the largest of its smoothed per-sentiment rates normalised to sum to 1
  (``S`` sentiments present): 1 for a term spread evenly, near 0 for a one-sentiment term. With
  one sentiment present every term weighs 1.
- A text's vector is the sum of its terms' centred e5 vectors (the mean term vector removed:
  e5 vectors share a large common direction) weighted by aspect weight × IDF within the
  sentiment, then L2-normalised. The term vectors are multilingual, so "delivery" and "배송"
  land close. A text without any embedded term falls back to its own sentence vector.

KMeans then runs on the distinct texts (weighted by how often each was said), projected on
their first 32 principal directions for speed, with the number of topics chosen by the
silhouette over 2…``max_topics`` (cosine, on at most 2,000 texts; one KMeans start per
candidate, then the chosen number refitted with four). Only terms said in two or more texts
are embedded, at most 500 per sentiment (:func:`_vocabulary`).
Topics are named by class-based TF-IDF (each topic's terms against all topics of every
sentiment; Grootendorst 2022, BERTopic) and quoted by the distinct texts nearest their centroid.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

__all__ = ["Clusters", "aspect_weights", "cluster_texts", "distinctive_terms", "text_vectors"]

#: Pseudo-count (as a share of each sentiment's texts) that keeps a rare term from being
#: called one-sentiment on one sighting.
_SMOOTHING = 0.01
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
#: Principal directions KMeans and the silhouette work on.
_WIDTH = 32
#: Texts the silhouette is measured on, at most (it costs the square of the count).
_SILHOUETTE_SAMPLE = 2_000
#: A term must be said in this many texts of the sentiment to be embedded and count.
_MIN_TEXTS = 2
#: Most terms embedded per sentiment (see :func:`_vocabulary`).
_MAX_TERMS = 500
#: KMeans restarts of the chosen number of topics; each candidate k of the scan gets one.
_RESTARTS = 4

Embedder = Callable[[Sequence[str]], np.ndarray]


def aspect_weights(terms: Sequence[Sequence[str]], labels: Sequence[str]) -> dict[str, float]:
    """How much each term names an aspect rather than a feeling (formula in the module doc).

    Args:
        terms: the terms of each text; ``labels``: its sentiment label.

    Returns:
        term → weight in [0, 1]: 1 for a term used at the same rate in every sentiment present
        (or when only one sentiment is present), 0 for one used in a single sentiment.

    >>> w = aspect_weights([["delivery", "late"], ["delivery", "fast"]], ["negative", "positive"])
    >>> round(w["delivery"], 2), round(w["late"], 2)
    (1.0, 0.02)
    """
    kinds = sorted(set(labels))
    if len(kinds) < 2:
        return {t: 1.0 for text in terms for t in text}
    column = {k: i for i, k in enumerate(kinds)}
    sizes = np.zeros(len(kinds))
    seen: dict[str, np.ndarray] = {}
    for text, label in zip(terms, labels, strict=True):
        sizes[column[label]] += 1
        for t in set(text):
            seen.setdefault(t, np.zeros(len(kinds)))[column[label]] += 1
    if not seen:
        return {}
    counts = np.array(list(seen.values()))
    rates = (counts + _SMOOTHING * sizes) / (sizes * (1 + _SMOOTHING))
    top = (rates / rates.sum(axis=1, keepdims=True)).max(axis=1)
    even = 1.0 / len(kinds)
    weight = 1.0 - (top - even) / (1.0 - even)
    return dict(zip(seen, np.clip(weight, 0.0, 1.0).tolist(), strict=True))


def text_vectors(
    terms: Sequence[Sequence[str]],
    texts: Sequence[str],
    weights: dict[str, float],
    embed: Embedder,
) -> np.ndarray:
    """One aspect vector per text (see the module doc); texts are those of one sentiment.

    Returns:
        ``(len(texts), d)`` float array of unit rows (``d`` the embedding width).
    """
    n = len(texts)
    df = Counter(t for text in terms for t in set(text))
    vocab = _vocabulary(df, weights)
    index = {t: i for i, t in enumerate(vocab)}
    term_vectors = np.asarray(embed(vocab), dtype=np.float64) if vocab else np.empty((0, 0))
    # Centre each script's terms on their own mean: e5 vectors share a large common direction,
    # and Korean and English terms each have their own, which would split topics by language.
    hangul = np.array([_HANGUL.search(t) is not None for t in vocab], dtype=bool)
    for script in (hangul, ~hangul):
        if script.any():
            term_vectors[script] -= term_vectors[script].mean(axis=0)
    idf = {t: np.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
    rows: list[np.ndarray | None] = []
    for text in terms:
        w = np.zeros(len(vocab))
        for t in text:
            if t in index:
                w[index[t]] += weights.get(t, 1.0) * idf[t]
        rows.append(w @ term_vectors if w.any() else None)
    bare = [i for i, row in enumerate(rows) if row is None or not np.linalg.norm(row) > 0]
    if bare:
        fallback = np.asarray(embed([texts[i] for i in bare]), dtype=np.float64)
        for i, vector in zip(bare, fallback, strict=True):
            rows[i] = vector
    out = np.vstack(rows)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _vocabulary(df: Counter, weights: dict[str, float]) -> list[str]:
    """The terms worth an embedding: said in at least ``_MIN_TEXTS`` texts, at most
    ``_MAX_TERMS`` of them by aspect-weighted document frequency (ties by term), sorted.

    Embedding terms is what a cold run pays most for (on 1,000 real reviews, 2,566 distinct
    terms against 715 said twice or more); a term said once cannot pull two texts together, and
    past a few hundred terms the rare ones barely move a topic's centre."""
    kept = [t for t, c in df.items() if c >= _MIN_TEXTS]
    kept.sort(key=lambda t: (-weights.get(t, 1.0) * df[t], t))
    return sorted(kept[:_MAX_TERMS])


@dataclass(frozen=True)
class Clusters:
    """Topics of one sentiment: ``label`` per text (0 = the most said topic), ``silhouette``
    of the chosen split (NaN with one topic) and each topic's ``centroid`` (unit rows)."""

    label: np.ndarray
    silhouette: float
    centroids: np.ndarray


def cluster_texts(
    vectors: np.ndarray, texts: Sequence[str], *, max_topics: int, seed: int
) -> Clusters:
    """Group one sentiment's texts into topics, choosing how many by the silhouette.

    Args:
        vectors: :func:`text_vectors` of the texts; ``texts``: the texts (equal texts are
            clustered once, weighted by how often they occur).
        max_topics: most topics to consider (at least 1); ``seed``: KMeans's random state.

    Returns:
        :class:`Clusters`; topics are numbered by texts, most first (ties by first text).
        Three or fewer distinct texts make one topic (the silhouette needs 2 ≤ k < texts).

    >>> v = np.array([[1.0, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.1, 0.9]])
    >>> cluster_texts(v, ["a", "b", "c", "d", "d"], max_topics=3, seed=0).label.tolist()
    [1, 1, 0, 0, 0]
    """
    first_row: dict[str, int] = {}
    for i, text in enumerate(texts):
        first_row.setdefault(text, i)
    position = {t: j for j, t in enumerate(first_row)}
    first = np.array(list(first_row.values()), dtype=int)
    where = np.array([position[t] for t in texts], dtype=int)
    unique = vectors[first]
    counts = np.bincount(where, minlength=len(first)).astype(float)
    reduced = _principal(unique, _WIDTH)
    best = np.zeros(len(first), dtype=int), float("nan"), 1
    # The scan only ranks the candidate k, so one k-means++ start each is enough; the chosen
    # k is then refitted with restarts and the lowest-inertia split kept.
    for k in range(2, min(max_topics, len(first) - 1) + 1):
        labels = KMeans(k, n_init=1, random_state=seed).fit_predict(reduced, sample_weight=counts)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(
            reduced,
            labels,
            metric="cosine",
            sample_size=min(len(first), _SILHOUETTE_SAMPLE),
            random_state=seed,
        )
        if np.isnan(best[1]) or score > best[1]:
            best = labels, float(score), k
    labels, silhouette, k = best
    if k > 1:
        refit = KMeans(k, n_init=_RESTARTS, random_state=seed)
        labels = refit.fit_predict(reduced, sample_weight=counts)
    # Renumber by volume so topic 0 is the most said, whatever KMeans called it.
    volume = np.bincount(labels, weights=counts)
    order = sorted(range(len(volume)), key=lambda c: (-volume[c], np.argmax(labels == c)))
    rank = np.empty(len(volume), dtype=int)
    rank[order] = np.arange(len(volume))
    labels = rank[labels]
    centroids = np.vstack(
        [
            np.average(unique[labels == c], axis=0, weights=counts[labels == c])
            for c in range(len(volume))
        ]
    )
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return Clusters(labels[where], silhouette, centroids)


def _principal(vectors: np.ndarray, width: int) -> np.ndarray:
    """``vectors`` on their first ``width`` principal directions (all when there are fewer).

    KMeans costs in proportion to the width of the vectors; on 384-wide e5 vectors of a thousand
    texts the k scan took 17 s, and topics differ along a few directions only."""
    if min(vectors.shape) <= width:
        return vectors
    centred = vectors - vectors.mean(axis=0)
    # The directions are the top eigenvectors of the d × d scatter matrix: the same subspace
    # as an SVD of the n × d rows, at a fraction of the cost when n is in the thousands.
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    return centred @ eigenvectors[:, ::-1][:, :width]


def distinctive_terms(
    terms: Sequence[Sequence[str]], topics: Sequence[str], top: int
) -> dict[str, list[str]]:
    """Each topic's most distinctive terms by class-based TF-IDF.

    For topic ``c`` and term ``t``: ``tf = count(t in c) / terms in c`` and
    ``idf = log(1 + A / f_t)`` with ``A`` the mean number of terms per topic and ``f_t`` the
    count of ``t`` over all topics.

    Returns:
        topic → up to ``top`` terms, most distinctive first (ties by term).

    >>> distinctive_terms([["late", "box"], ["late", "app"], ["app"]], ["x", "x", "y"], 1)
    {'x': ['late'], 'y': ['app']}
    """
    per_topic: dict[str, Counter] = {}
    for text, topic in zip(terms, topics, strict=True):
        per_topic.setdefault(topic, Counter()).update(text)
    overall = Counter()
    for counter in per_topic.values():
        overall.update(counter)
    if not overall:
        return {topic: [] for topic in per_topic}
    mean_size = sum(overall.values()) / len(per_topic)
    out = {}
    for topic, counter in per_topic.items():
        size = sum(counter.values())
        score = {t: c / size * np.log(1 + mean_size / overall[t]) for t, c in counter.items()}
        out[topic] = sorted(score, key=lambda t: (-score[t], t))[:top]
    return out
