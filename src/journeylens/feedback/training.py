"""Training the shipped sentiment heads from the sentiment data folder and the customer texts.

The data (``shared/data/sentiment``, see its README) and what is done with it:

- **Korean**: NSMC movie reviews — the negative/positive rows of ``ko_nsmc_train_bin20000`` and
  ``ko_nsmc_train_3cls15000`` train a binary head; their neutral (5–8 star) rows in the
  validation movies choose its neutral band. The movie-disjoint ``ko_nsmc_test_bin2000`` and
  ``ko_nsmc_test_3cls1500`` are held out.
- **English**: the UCI sentences (``en_uci_3000``: Amazon, IMDb and Yelp), binary only. A fixed
  random 20% (seeded, stratified by source and label) is held out; the rest trains a binary head
  whose neutral band is chosen on 5-fold out-of-fold scores of the English customer texts.
- **Customer texts** (``tests/feedback/data/customer_texts.tsv``, written for this project):
  rows marked ``train`` join each language's training set with a larger sample weight (movie
  reviews are not delivery complaints: the weight lets ~100 in-domain texts count); rows marked
  ``test`` are held out.

Each language's head averages an e5 view and a character n-gram view
(:mod:`~journeylens.feedback.heads`); the weight of the e5 view is chosen on a validation part of
the training data (Korean: 10% of the training *movies*; English: 20% of the training rows), then
both views are refitted on all training rows. Everything here uses scikit-learn, which the
shipped heads do not need.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from journeylens.feedback.embed import DIM, MODEL_ID
from journeylens.feedback.heads import CLASSES, LanguageHead, LinearView, NgramFeatures, char_ngrams
from journeylens.feedback.language import detect_language
from journeylens.feedback.sentiment import apply_heads

__all__ = [
    "SentimentData",
    "TrainedHeads",
    "evaluate_heads",
    "read_sentiment_data",
    "train_heads",
]

#: NSMC / UCI label codes → index into CLASSES (negative, neutral, positive).
_NSMC_CLASS: Final = {0: 0, 1: 2, 2: 1}
_WORD_CLASS: Final = {name: i for i, name in enumerate(CLASSES)}
#: The e5-view weights tried on validation (1.0 = no n-gram view).
_WEIGHTS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
#: Neutral-band widths tried for the binary English head.
_BANDS: Final = tuple(np.round(np.arange(0.0, 0.95, 0.05), 2))

Embedder = Callable[[Sequence[str]], np.ndarray]


def _read_tsv(path: Path) -> pd.DataFrame:
    # QUOTE_NONE: review texts contain bare quote characters; no field contains a tab.
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SentimentData:
    """The training and test sets, each a frame with ``text`` and ``y`` (index into CLASSES).

    Korean frames also carry ``movie_id``; customer frames ``language`` and ``topic``.
    """

    ko_train: pd.DataFrame
    ko_test_bin: pd.DataFrame
    ko_test_3cls: pd.DataFrame
    en_train: pd.DataFrame
    en_test: pd.DataFrame
    customer_train: pd.DataFrame
    customer_test: pd.DataFrame


def read_sentiment_data(
    data_dir: str | Path, customer_path: str | Path, *, seed: int = 0
) -> SentimentData:
    """Read the sentiment files and make the held-out splits.

    Args:
        data_dir: the folder with the NSMC and UCI files (``shared/data/sentiment``).
        customer_path: ``customer_texts.tsv`` (columns text, label, language, topic, split).
        seed: seeds the English held-out draw.

    Returns:
        A :class:`SentimentData`. ``en_test`` is 20% of ``en_uci_3000`` drawn within each
        (source, label) cell; ``en_train`` the other 80%.
    """
    folder = Path(data_dir)

    def nsmc(name: str) -> pd.DataFrame:
        frame = _read_tsv(folder / name)
        frame["y"] = frame["label"].astype(int).map(_NSMC_CLASS)
        return frame[["text", "y", "movie_id"]]

    ko_train = pd.concat(
        [nsmc("ko_nsmc_train_bin20000.tsv"), nsmc("ko_nsmc_train_3cls15000.tsv")],
        ignore_index=True,
    )
    uci = _read_tsv(folder / "en_uci_3000.tsv")
    uci["y"] = uci["label"].astype(int).map(_NSMC_CLASS)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(uci), dtype=bool)
    for _, cell in uci.groupby(["source", "y"]):
        pick = rng.choice(cell.index.to_numpy(), size=round(0.2 * len(cell)), replace=False)
        held[pick] = True
    customer = _read_tsv(Path(customer_path))
    customer["y"] = customer["label"].map(_WORD_CLASS)
    return SentimentData(
        ko_train=ko_train,
        ko_test_bin=nsmc("ko_nsmc_test_bin2000.tsv"),
        ko_test_3cls=nsmc("ko_nsmc_test_3cls1500.tsv"),
        en_train=uci.loc[~held, ["text", "y", "source"]].reset_index(drop=True),
        en_test=uci.loc[held, ["text", "y", "source"]].reset_index(drop=True),
        customer_train=customer[customer["split"] == "train"].reset_index(drop=True),
        customer_test=customer[customer["split"] == "test"].reset_index(drop=True),
    )


def _fit_linear(x: Any, y: np.ndarray, weight: np.ndarray, c: float) -> LinearView:
    from sklearn.linear_model import LogisticRegression

    three = len(np.unique(y)) == 3
    target = y if three else (y == 2).astype(int)
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(x, target, sample_weight=weight)
    return LinearView(model.coef_.astype(np.float64), model.intercept_.astype(np.float64))


def _fit_ngrams(
    texts: Sequence[str], y: np.ndarray, weight: np.ndarray, c: float
) -> tuple[NgramFeatures, LinearView]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    n_min, n_max = 1, 4

    def analyzer(text: str) -> list[str]:
        return char_ngrams(text, n_min, n_max)

    vectorizer = TfidfVectorizer(analyzer=analyzer, min_df=2, norm="l2", sublinear_tf=False)
    vectorizer.fit(texts)
    vocabulary = np.array(vectorizer.get_feature_names_out(), dtype=str)
    features = NgramFeatures(vocabulary, vectorizer.idf_.astype(np.float64), n_min, n_max)
    return features, _fit_linear(features.transform(texts), y, weight, c)


def _fit_head(
    texts: Sequence[str],
    vectors: np.ndarray,
    embedded: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    e5_weight: float,
    *,
    e5_c: float,
    ngram_c: float,
) -> LanguageHead:
    """A binary head: its e5 view learns from the ``embedded`` negative/positive rows, its
    n-gram view from all negative/positive rows (neutral rows only choose the band)."""
    polar = y != 1
    e5 = _fit_linear(vectors[embedded & polar], y[embedded & polar], weight[embedded & polar], e5_c)
    if e5_weight >= 1.0:
        return LanguageHead(e5, None, None, 1.0, 0.0)
    features, ngram = _fit_ngrams(
        [texts[i] for i in np.flatnonzero(polar)], y[polar], weight[polar], ngram_c
    )
    return LanguageHead(e5, ngram, features, e5_weight, 0.0)


def _binary_accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    polar = y != 1
    score = proba[polar, 2] - proba[polar, 0]
    return float(np.mean((score > 0) == (y[polar] == 2)))


def _choose_weight(
    texts: list[str],
    vectors: np.ndarray,
    embedded: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    validation: np.ndarray,
    *,
    e5_c: float,
    ngram_c: float,
) -> tuple[float, dict[str, float], np.ndarray]:
    """The e5-view weight with the lowest log-loss on the (embedded) polar validation rows.

    Log-loss rather than accuracy: on a thousand validation reviews accuracy moves in steps of
    0.1% and ties or flips on a handful of texts, while the log-loss ranks the weights smoothly.

    Returns:
        ``(weight, log-loss by weight, scores)``: ``scores`` are P(pos) − P(neg) at that
        weight for every embedded validation row (neutral ones too, to choose a band on).
    """
    fit = ~validation
    head = _fit_head(
        [texts[i] for i in np.flatnonzero(fit)],
        vectors[fit],
        embedded[fit],
        y[fit],
        weight[fit],
        0.5,
        e5_c=e5_c,
        ngram_c=ngram_c,
    )
    check = validation & embedded
    p_e5 = head.e5.proba(vectors[check])
    ngram, features = head.ngram, head.features
    if ngram is None or features is None:  # only when the weight 0.5 is changed to 1.0 above
        raise ValueError("the validation head has no n-gram view")
    p_ngram = ngram.proba(features.transform([texts[i] for i in np.flatnonzero(check)]))
    polar = y[check] != 1
    positive = y[check][polar] == 2

    def log_loss(w: float) -> float:
        p = (w * p_e5 + (1 - w) * p_ngram)[polar, 2].clip(1e-9, 1 - 1e-9)
        return float(-np.mean(np.where(positive, np.log(p), np.log(1 - p))))

    losses = {w: log_loss(w) for w in _WEIGHTS}
    best = min(losses, key=lambda w: (losses[w], -w))
    p = best * p_e5 + (1 - best) * p_ngram
    return best, {str(w): round(a, 4) for w, a in losses.items()}, p[:, 2] - p[:, 0]


def _choose_band(scores: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, float]]:
    """The neutral band with the best balanced 3-class accuracy on held-out scores.

    Balanced accuracy (the mean of the three classes' recalls) keeps the classes' shares in the
    validation data from deciding: NSMC's validation movies hold six polar reviews per neutral
    one, and plain accuracy would then never call anything neutral.
    """

    def accuracy(band: float) -> float:
        label = np.where(np.abs(scores) < band, 1, np.where(scores > 0, 2, 0))
        return float(np.mean([np.mean(label[y == k] == k) for k in np.unique(y)]))

    table = {float(b): accuracy(float(b)) for b in _BANDS}
    best = max(table, key=lambda b: (table[b], -b))
    return best, {str(b): round(a, 4) for b, a in table.items()}


@dataclass(frozen=True)
class TrainedHeads:
    """Heads and the card describing how they were made and how well they measured."""

    heads: dict[str, LanguageHead]
    card: dict[str, Any]

    def save(self, folder: str | Path) -> None:
        """Write ``sentiment_heads.npz`` and ``sentiment_card.json`` into ``folder``."""
        import json

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for lang, head in self.heads.items():
            arrays |= head.to_arrays(lang)
        np.savez_compressed(out / "sentiment_heads.npz", **arrays)
        text = json.dumps(self.card, ensure_ascii=False, indent=2) + "\n"
        (out / "sentiment_card.json").write_text(text, encoding="utf-8")


def evaluate_heads(
    heads: dict[str, LanguageHead], frame: pd.DataFrame, vectors: np.ndarray
) -> dict[str, float | int]:
    """Accuracy of heads on a labelled frame, routed by detected language as in scoring.

    Returns:
        ``rows``; ``binary_accuracy``: share of the negative/positive rows whose score
        (P(pos) − P(neg)) has the right sign (``binary_rows`` of them); and, when the frame has
        neutral rows, ``accuracy_3class``: share of all rows whose label is right.
    """
    texts = frame["text"].tolist()
    y = frame["y"].to_numpy()
    proba, label = apply_heads(heads, detect_language(texts), vectors, texts)
    out: dict[str, float | int] = {
        "rows": len(frame),
        "binary_rows": int(np.sum(y != 1)),
        "binary_accuracy": round(_binary_accuracy(proba, y), 4),
    }
    if np.any(y == 1):
        out["accuracy_3class"] = round(float(np.mean(label == y)), 4)
    return out


def _oof_scores(vectors: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float, rows: np.ndarray):
    """Out-of-fold scores P(pos) − P(neg) of ``rows`` from a 5-fold e5-view fit."""
    folds = np.arange(len(rows)) % 5
    scores = np.empty(len(rows))
    for k in range(5):
        held = rows[folds == k]
        keep = np.ones(len(y), dtype=bool)
        keep[held] = False
        polar = keep & (y != 1)
        view = _fit_linear(vectors[polar], y[polar], weight[polar], c)
        p = view.proba(vectors[held])
        scores[folds == k] = p[:, 2] - p[:, 0]
    return scores


def train_heads(
    data: SentimentData,
    embed_texts: Embedder,
    *,
    customer_weight: float = 10.0,
    ko_limit: int | None = None,
    seed: int = 0,
) -> TrainedHeads:
    """Train the Korean and English heads and measure them on every held-out set.

    Args:
        data: from :func:`read_sentiment_data`.
        embed_texts: texts → ``(n, 384)`` e5 embeddings (normally
            :func:`~journeylens.feedback.embed.embed` with a cache).
        customer_weight: sample weight of each customer training text (movie rows weigh 1).
        ko_limit: the Korean e5 view learns from at most this many movie rows (a seeded draw),
            to bound the embedding time; the n-gram view always uses all. ``None``: all.
        seed: seeds the Korean draw and the validation splits.

    Returns:
        :class:`TrainedHeads` with ``heads`` ``{"ko", "en"}`` and a ``card`` dict (the fields
        of :class:`~journeylens.feedback.sentiment.SentimentModelCard`).
    """
    rng = np.random.default_rng(seed)
    # The e5 view of Korean learns from a prefix of one permutation of the movie rows (a larger
    # limit keeps every row of a smaller one, so a growing cache is reused); the n-gram view,
    # which needs no embeddings, learns from all of them.
    ko_e5 = np.zeros(len(data.ko_train), dtype=bool)
    ko_e5[rng.permutation(len(data.ko_train))[: ko_limit or len(data.ko_train)]] = True
    heads: dict[str, LanguageHead] = {}
    card_heads: dict[str, Any] = {}
    training: dict[str, Any] = {}
    # Inverse regularisation strengths: e5 vectors have unit length and small spread, so their
    # classifier needs a weak penalty; 10 was best for both views on NSMC.
    cs = {"e5_c": 10.0, "ngram_c": 10.0}
    sets = (
        ("ko", data.ko_train.assign(e5=ko_e5)),
        ("en", data.en_train.assign(e5=True, movie_id="")),
    )
    for lang, movies in sets:
        own = data.customer_train[data.customer_train["language"] == lang]
        frame = pd.concat(
            [movies.assign(customer=False), own.assign(customer=True, movie_id="", e5=True)],
            ignore_index=True,
        )[["text", "y", "customer", "movie_id", "e5"]]
        # Both heads are binary; neutral rows (NSMC 5–8 stars, customer neutrals) only choose
        # the neutral band.
        fit = frame
        texts = fit["text"].tolist()
        y = fit["y"].to_numpy()
        is_customer = fit["customer"].to_numpy()
        embedded = fit["e5"].to_numpy(dtype=bool)
        weight = np.where(is_customer, customer_weight, 1.0)
        vectors = np.zeros((len(fit), DIM), dtype=np.float32)
        vectors[embedded] = embed_texts([texts[i] for i in np.flatnonzero(embedded)])
        if lang == "ko":
            movie = fit["movie_id"].to_numpy()
            ids = np.unique(movie[embedded & ~is_customer])
            val_movies = rng.choice(ids, size=max(1, len(ids) // 10), replace=False)
            validation = np.isin(movie, val_movies) & ~is_customer
        else:
            validation = (rng.random(len(fit)) < 0.2) & ~is_customer
        e5_weight, weight_table, val_scores = _choose_weight(
            texts, vectors, embedded, y, weight, validation, **cs
        )
        head = _fit_head(texts, vectors, embedded, y, weight, e5_weight, **cs)
        if lang == "ko":
            # Korean validation movies carry NSMC's neutral (5–8 star) reviews.
            band, band_table = _choose_band(val_scores, y[validation & embedded])
        else:
            # The English data has no neutral class: choose the band on out-of-fold scores of
            # the English customer training texts, the only English rows with neutrals.
            all_vectors = embed_texts(frame["text"].tolist())
            all_y = frame["y"].to_numpy()
            all_weight = np.where(frame["customer"], customer_weight, 1.0)
            rows = np.flatnonzero(frame["customer"].to_numpy())
            oof = _oof_scores(all_vectors, all_y, all_weight, cs["e5_c"], rows)
            band, band_table = _choose_band(oof, all_y[rows])
        head = LanguageHead(head.e5, head.ngram, head.features, head.e5_weight, band)
        heads[lang] = head
        card_heads[lang] = {
            "classes": ["negative", "positive"],
            "e5_weight": head.e5_weight,
            "ngram_vocabulary": 0 if head.features is None else len(head.features.vocabulary),
            "neutral_rule": f"|P(pos) - P(neg)| < {head.neutral_band}",
            "validation_log_loss_by_e5_weight": weight_table,
            "validation_neutral_band": band_table,
        }
        training[lang] = {
            "movie_rows": len(movies),
            "movie_rows_embedded": int(movies["e5"].sum()),
            "customer_rows": len(own),
            "customer_weight": customer_weight,
            "rows_by_class": {CLASSES[k]: int(v) for k, v in fit["y"].value_counts().items()},
        }
    training["ko"]["files"] = ["ko_nsmc_train_bin20000.tsv", "ko_nsmc_train_3cls15000.tsv"]
    training["en"]["files"] = ["en_uci_3000.tsv (80%, seeded draw per source and label)"]
    tests = {
        "ko_nsmc_test_bin2000": data.ko_test_bin,
        "ko_nsmc_test_3cls1500": data.ko_test_3cls,
        "en_uci_3000_heldout": data.en_test,
        "customer_texts_test_ko": data.customer_test[data.customer_test["language"] == "ko"],
        "customer_texts_test_en": data.customer_test[data.customer_test["language"] == "en"],
    }
    accuracy = {
        name: evaluate_heads(heads, frame, embed_texts(frame["text"].tolist()))
        for name, frame in tests.items()
    }
    now = datetime.now(UTC)
    # The version names the training day and the exact weights, so two trainings never share it.
    digest = hashlib.sha256()
    for lang in sorted(heads):
        for name, array in sorted(heads[lang].to_arrays(lang).items()):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    card = {
        "version": f"{now:%Y.%m.%d}+{digest.hexdigest()[:8]}",
        "encoder": MODEL_ID,
        "heads": card_heads,
        "training": training,
        "accuracy": accuracy,
        "trained_at": now.date().isoformat(),
    }
    return TrainedHeads(heads, card)
