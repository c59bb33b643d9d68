"""Training the shipped sentiment heads from the sentiment data folder and the customer texts.

The data (``shared/data/sentiment``, see its README) and what is done with it:

- **Korean**: NSMC movie reviews — the negative/positive rows of ``ko_nsmc_train_bin20000`` and
  of ``ko_nsmc_train_3cls15000`` (35,000 rows, 30,000 of them polar) train a binary head; the
  3-class file's neutral (5–8 star) rows only choose its neutral band. The movie-disjoint
  ``ko_nsmc_test_bin2000`` and ``ko_nsmc_test_3cls1500`` are held out.
- **English**: the UCI sentences (``en_uci_3000``: Amazon, IMDb and Yelp), binary only. A fixed
  random 20% (seeded, stratified by source and label) is held out as the test set; the rest
  trains a binary head whose neutral band is chosen on 5-fold out-of-fold scores of the English
  customer training texts.
- **Customer texts** (``tests/feedback/data/customer_texts.tsv``, written for this project):
  rows marked ``train`` join each language's training set with a larger sample weight (movie
  reviews are not delivery complaints: the weight lets ~100 in-domain texts count); rows marked
  ``test`` are held out.

**Protocol** — every choice is made on a validation split carved out of the *training* rows,
and the test sets are scored once, at the end, by the finished heads:

1. Validation split: Korean — 20% of the training *movies* (seeded; a movie's reviews are all
   in or all out, as in the movie-disjoint test files); English — 20% of the training sentences
   within each (source, label) cell. Customer training texts always stay on the fitting side.
2. On the fitting side, each view (:mod:`~journeylens.feedback.heads`: e5, and the n-gram views
   of :data:`NGRAM_VIEWS`) is fitted for each inverse penalty C of its grid; the C with the
   lowest validation log-loss is kept (log-loss rather than accuracy: on a few thousand reviews
   accuracy moves in coarse steps and flips on a handful of texts).
3. The views' weights in the head: the point of a 0.1-step grid on the simplex with the lowest
   validation log-loss; a view whose weight comes out 0 is not shipped.
4. The neutral band: the width with the best balanced 3-class accuracy on validation scores
   (Korean: the validation movies' neutral reviews; English: out-of-fold scores of the customer
   texts, the only English rows with neutrals).
5. With those settings every view is refitted on all training rows (fitting + validation side)
   and the test sets are scored, once.

The n-gram views themselves (character 1–4-grams with sublinear counts; Kiwi morpheme 1–3-grams
for Korean) and keeping the 3-class file's polar rows as binary training data were chosen on
another 20% movie-disjoint validation draw from the Korean training files
(``docs/adr/0010-sentiment.md`` has the table). Everything here uses scikit-learn, which the
shipped heads do not need.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from journeylens.feedback.embed import DIM, MODEL_ID
from journeylens.feedback.heads import (
    CLASSES,
    LanguageHead,
    LinearView,
    NgramFeatures,
    NgramView,
    Unit,
    char_ngrams,
    morpheme_ngrams,
)
from journeylens.feedback.language import detect_language
from journeylens.feedback.sentiment import apply_heads

__all__ = [
    "NGRAM_VIEWS",
    "SentimentData",
    "TrainedHeads",
    "evaluate_heads",
    "read_sentiment_data",
    "train_heads",
]

#: NSMC / UCI label codes → index into CLASSES (negative, neutral, positive).
_NSMC_CLASS: Final = {0: 0, 1: 2, 2: 1}
_WORD_CLASS: Final = {name: i for i, name in enumerate(CLASSES)}


@dataclass(frozen=True)
class _NgramSpec:
    unit: Unit
    n_min: int
    n_max: int
    sublinear: bool

    @property
    def name(self) -> str:
        return f"{self.unit}{self.n_min}-{self.n_max}"

    def grams(self, texts: Sequence[str]) -> list[list[str]]:
        if self.unit == "morpheme":
            return morpheme_ngrams(texts, self.n_min, self.n_max)
        return [char_ngrams(t, self.n_min, self.n_max) for t in texts]


_CHAR: Final = _NgramSpec("char", 1, 4, sublinear=True)
_MORPHEME: Final = _NgramSpec("morpheme", 1, 3, sublinear=False)
#: The n-gram views tried beside e5, per language (Kiwi analyses Korean only).
NGRAM_VIEWS: Final = {"ko": (_CHAR, _MORPHEME), "en": (_CHAR,)}
#: Inverse penalties tried per view. e5 vectors have unit length and small spread, so their
#: classifier needs a weak penalty; sparse TF-IDF rows likewise.
_E5_CS: Final = (1.0, 3.0, 10.0, 30.0)
_NGRAM_CS: Final = (3.0, 10.0, 30.0)
#: Neutral-band widths tried.
_BANDS: Final = tuple(np.round(np.arange(0.0, 0.95, 0.05), 2))
#: Share of the training movies (Korean) or sentences (English) held out for validation.
_VALIDATION_SHARE: Final = 0.2

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
    """A binary logistic classifier of positive vs negative (``y`` holds only classes 0 and 2)."""
    from sklearn.linear_model import LogisticRegression

    # liblinear: on 30,000 × 200,000 sparse rows it converges in seconds where lbfgs takes
    # minutes at the weak penalties chosen here.
    model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    model.fit(x, (y == 2).astype(int), sample_weight=weight)
    return LinearView(model.coef_.astype(np.float64), model.intercept_.astype(np.float64))


def _fit_features(spec: _NgramSpec, grams: Sequence[Sequence[str]]) -> NgramFeatures:
    """The TF-IDF vocabulary and idf of n-grams seen in at least two of the training texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=list, min_df=2, norm="l2", sublinear_tf=spec.sublinear)
    vectorizer.fit(grams)
    return NgramFeatures(
        np.array(vectorizer.get_feature_names_out(), dtype=str),
        vectorizer.idf_.astype(np.float64),
        spec.n_min,
        spec.n_max,
        unit=spec.unit,
        sublinear=spec.sublinear,
    )


@dataclass
class _Rows:
    """One language's training rows and everything computed per row once."""

    texts: list[str]
    y: np.ndarray  # index into CLASSES
    weight: np.ndarray  # sample weights
    vectors: np.ndarray  # (n, DIM) e5; zero where not embedded
    embedded: np.ndarray  # bool: the e5 view may learn from this row
    grams: dict[str, list[list[str]]]  # per n-gram view name
    specs: tuple[_NgramSpec, ...]


def _fit_views(
    rows: _Rows, keep: np.ndarray, cs: dict[str, float]
) -> tuple[LinearView, dict[str, tuple[NgramFeatures, LinearView]]]:
    """Every view with the given Cs, fitted on the polar rows of ``keep``."""
    fit = keep & (rows.y != 1)
    e5 = _fit_linear(
        rows.vectors[fit & rows.embedded],
        rows.y[fit & rows.embedded],
        rows.weight[fit & rows.embedded],
        cs["e5"],
    )
    ngrams = {}
    for spec in rows.specs:
        grams = [rows.grams[spec.name][i] for i in np.flatnonzero(fit)]
        features = _fit_features(spec, grams)
        x = features.weigh(grams)
        ngrams[spec.name] = (features, _fit_linear(x, rows.y[fit], rows.weight[fit], cs[spec.name]))
    return e5, ngrams


def _log_loss(p_pos: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of P(positive) on the polar rows of ``y``."""
    polar = y != 1
    p = p_pos[polar].clip(1e-9, 1 - 1e-9)
    return float(-np.mean(np.where(y[polar] == 2, np.log(p), np.log(1 - p))))


def _binary_accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    polar = y != 1
    score = proba[polar, 2] - proba[polar, 0]
    return float(np.mean((score > 0) == (y[polar] == 2)))


def _choose_cs(rows: _Rows, validation: np.ndarray) -> tuple[dict[str, float], dict, dict]:
    """Each view's C by validation log-loss, fitted on the other training rows.

    Returns:
        ``(cs, tables, p_pos)``: the chosen C per view, log-loss by C per view, and each view's
        P(positive) at its chosen C for every validation row (neutral rows too).
    """
    fit = ~validation & (rows.y != 1)
    check = np.flatnonzero(validation)
    y_check = rows.y[check]
    cs: dict[str, float] = {}
    tables: dict[str, dict[str, float]] = {}
    p_pos: dict[str, np.ndarray] = {}

    def choose(name: str, grid: Sequence[float], fit_c: Callable[[float], np.ndarray]) -> None:
        found = {c: fit_c(c) for c in grid}
        losses = {c: _log_loss(p, y_check) for c, p in found.items()}
        best = min(losses, key=lambda c: (losses[c], c))
        cs[name], p_pos[name] = best, found[best]
        tables[name] = {str(c): round(v, 4) for c, v in losses.items()}

    e5_rows = fit & rows.embedded

    def fit_e5(c: float) -> np.ndarray:
        view = _fit_linear(rows.vectors[e5_rows], rows.y[e5_rows], rows.weight[e5_rows], c)
        return view.proba(rows.vectors[check])[:, 2]

    choose("e5", _E5_CS, fit_e5)
    for spec in rows.specs:
        grams = rows.grams[spec.name]
        train = [grams[i] for i in np.flatnonzero(fit)]
        features = _fit_features(spec, train)
        x_fit = features.weigh(train)
        x_check = features.weigh([grams[i] for i in check])

        def fit_ngram(c: float, x_fit=x_fit, x_check=x_check) -> np.ndarray:
            return _fit_linear(x_fit, rows.y[fit], rows.weight[fit], c).proba(x_check)[:, 2]

        choose(spec.name, _NGRAM_CS, fit_ngram)
    return cs, tables, p_pos


def _choose_weights(
    p_pos: dict[str, np.ndarray], y: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    """The views' weights (a 0.1-step grid on the simplex) with the lowest validation log-loss.

    Returns:
        ``(weights, table)``: the weight per view and the log-loss of the best few grid points.
    """
    names = list(p_pos)
    steps = range(11)
    losses: dict[tuple[float, ...], float] = {}
    for point in itertools.product(steps, repeat=len(names)):
        if sum(point) != 10:
            continue
        w = tuple(k / 10 for k in point)
        losses[w] = _log_loss(sum(wk * p_pos[n] for wk, n in zip(w, names, strict=True)), y)
    # Ties go to the point that leans most on e5 (the first view), the better-behaved one on
    # text unlike the training reviews.
    ranked = sorted(losses, key=lambda w: (losses[w], [-v for v in w]))
    table = {
        ", ".join(f"{n}={v}" for n, v in zip(names, w, strict=True)): round(losses[w], 4)
        for w in ranked[:8]
    }
    return dict(zip(names, ranked[0], strict=True)), table


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


def _head(
    e5: LinearView,
    ngrams: dict[str, tuple[NgramFeatures, LinearView]],
    weights: dict[str, float],
    band: float,
) -> LanguageHead:
    views = tuple(
        NgramView(features, linear, weights[name])
        for name, (features, linear) in ngrams.items()
        if weights[name] > 0
    )
    return LanguageHead(e5, weights["e5"], views, band)


def _oof_scores(
    rows: _Rows, cs: dict[str, float], weights: dict[str, float], held: np.ndarray
) -> np.ndarray:
    """Out-of-fold scores P(pos) − P(neg) of the ``held`` rows from 5 fits of the whole head."""
    folds = np.arange(len(held)) % 5
    scores = np.empty(len(held))
    for k in range(5):
        out = held[folds == k]
        keep = np.ones(len(rows.y), dtype=bool)
        keep[out] = False
        e5, ngrams = _fit_views(rows, keep, cs)
        head = _head(e5, ngrams, weights, 0.0)
        p = head.proba(rows.vectors[out], [rows.texts[i] for i in out])
        scores[folds == k] = p[:, 2] - p[:, 0]
    return scores


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
    proba, label = apply_heads(heads, detect_language(texts), vectors, texts)
    return _metrics(proba, label, frame["y"].to_numpy())


def _metrics(proba: np.ndarray, label: np.ndarray, y: np.ndarray) -> dict[str, float | int]:
    out: dict[str, float | int] = {
        "rows": len(y),
        "binary_rows": int(np.sum(y != 1)),
        "binary_accuracy": round(_binary_accuracy(proba, y), 4),
    }
    if np.any(y == 1):
        out["accuracy_3class"] = round(float(np.mean(label == y)), 4)
    return out


def _validation_split(lang: str, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Rows held out for validation (never customer texts): whole movies, or sentences by cell."""
    customer = frame["customer"].to_numpy()
    if lang == "ko":
        movie = frame["movie_id"].to_numpy()
        ids = np.unique(movie[~customer])
        picked = rng.choice(ids, size=round(_VALIDATION_SHARE * len(ids)), replace=False)
        return np.isin(movie, picked) & ~customer
    held = np.zeros(len(frame), dtype=bool)
    for _, cell in frame[~customer].groupby(["source", "y"]):
        size = round(_VALIDATION_SHARE * len(cell))
        held[rng.choice(cell.index.to_numpy(), size=size, replace=False)] = True
    return held


def _train_language(
    lang: str,
    frame: pd.DataFrame,
    embed_texts: Embedder,
    customer_weight: float,
    rng: np.random.Generator,
) -> tuple[LanguageHead, dict[str, Any]]:
    """Steps 1–5 of the protocol for one language (see the module docstring)."""
    texts = frame["text"].tolist()
    y = frame["y"].to_numpy()
    customer = frame["customer"].to_numpy()
    embedded = frame["e5"].to_numpy(dtype=bool)
    vectors = np.zeros((len(frame), DIM), dtype=np.float32)
    vectors[embedded] = embed_texts([texts[i] for i in np.flatnonzero(embedded)])
    specs = NGRAM_VIEWS[lang]
    grams: dict[str, list[list[str]]] = {}
    for spec in specs:
        # Grams once per text: Kiwi's analysis is the slow part of an n-gram view.
        grams[spec.name] = spec.grams(texts)
    weight = np.where(customer, customer_weight, 1.0)
    rows = _Rows(texts, y, weight, vectors, embedded, grams, specs)

    validation = _validation_split(lang, frame, rng) & embedded
    cs, c_tables, p_pos = _choose_cs(rows, validation)
    y_val = y[validation]
    weights, weight_table = _choose_weights(p_pos, y_val)
    p_val = sum(weights[n] * p for n, p in p_pos.items())
    proba_val = np.column_stack([1 - p_val, np.zeros_like(p_val), p_val])
    if lang == "ko":
        band, band_table = _choose_band(2 * p_val - 1, y_val)
    else:
        held = np.flatnonzero(customer)
        band, band_table = _choose_band(_oof_scores(rows, cs, weights, held), y[held])
    e5, ngrams = _fit_views(rows, np.ones(len(y), dtype=bool), cs)
    head = _head(e5, ngrams, weights, band)
    card = {
        "classes": ["negative", "positive"],
        "views": {
            "e5": {"weight": weights["e5"], "C": cs["e5"]},
            **{
                spec.name: {
                    "weight": weights[spec.name],
                    "C": cs[spec.name],
                    "unit": spec.unit,
                    "n": [spec.n_min, spec.n_max],
                    "sublinear_tf": spec.sublinear,
                    "vocabulary": len(ngrams[spec.name][0].vocabulary)
                    if weights[spec.name] > 0
                    else 0,
                }
                for spec in specs
            },
        },
        "neutral_rule": f"|P(pos) - P(neg)| < {band}",
        "validation": {
            "rows": "20% of training movies" if lang == "ko" else "20% of training sentences",
            "log_loss_by_C": c_tables,
            "log_loss_by_weights": weight_table,
            "neutral_band": band_table,
            "accuracy": _metrics(proba_val, head.label(proba_val), y_val),
        },
    }
    return head, card


def train_heads(
    data: SentimentData,
    embed_texts: Embedder,
    *,
    customer_weight: float = 10.0,
    ko_limit: int | None = None,
    seed: int = 0,
) -> TrainedHeads:
    """Train the Korean and English heads by the protocol above, then score every test set once.

    Args:
        data: from :func:`read_sentiment_data`.
        embed_texts: texts → ``(n, 384)`` e5 embeddings (normally
            :func:`~journeylens.feedback.embed.embed` with a cache).
        customer_weight: sample weight of each customer training text (movie rows weigh 1).
        ko_limit: the Korean e5 view learns from at most this many movie rows (a seeded draw),
            to bound the embedding time; the n-gram views always use all. ``None``: all.
        seed: seeds the Korean draw and the validation splits.

    Returns:
        :class:`TrainedHeads` with ``heads`` ``{"ko", "en"}`` and a ``card`` dict (the fields
        of :class:`~journeylens.feedback.sentiment.SentimentModelCard`).
    """
    rng = np.random.default_rng(seed)
    # The e5 view of Korean learns from a prefix of one permutation of the movie rows (a larger
    # limit keeps every row of a smaller one, so a growing cache is reused).
    ko_e5 = np.zeros(len(data.ko_train), dtype=bool)
    ko_e5[rng.permutation(len(data.ko_train))[: ko_limit or len(data.ko_train)]] = True
    heads: dict[str, LanguageHead] = {}
    card_heads: dict[str, Any] = {}
    training: dict[str, Any] = {}
    sets = (
        ("ko", data.ko_train.assign(e5=ko_e5, source="")),
        ("en", data.en_train.assign(e5=True, movie_id="")),
    )
    for lang, movies in sets:
        own = data.customer_train[data.customer_train["language"] == lang]
        frame = pd.concat(
            [
                movies.assign(customer=False),
                own.assign(customer=True, movie_id="", source="", e5=True),
            ],
            ignore_index=True,
        )[["text", "y", "customer", "movie_id", "source", "e5"]]
        heads[lang], card_heads[lang] = _train_language(
            lang, frame, embed_texts, customer_weight, rng
        )
        training[lang] = {
            "movie_rows": len(movies),
            "movie_rows_embedded": int(movies["e5"].sum()),
            "customer_rows": len(own),
            "customer_weight": customer_weight,
            "rows_by_class": {CLASSES[k]: int(v) for k, v in frame["y"].value_counts().items()},
        }
    training["ko"]["files"] = ["ko_nsmc_train_bin20000.tsv", "ko_nsmc_train_3cls15000.tsv"]
    training["en"]["files"] = ["en_uci_3000.tsv (80%, seeded draw per source and label)"]
    # Step 5: the test sets, scored once by the finished heads.
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
