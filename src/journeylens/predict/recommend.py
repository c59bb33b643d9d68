"""Next-product recommendations from implicit feedback: item-item similarity with fallbacks.

What a person viewed, put in the cart and bought says what they like; nobody rates anything.
Each (person, product) pair gets a weight (by default a view counts 1, an add to cart 3 and a
purchase 5, summed, then ``log1p`` so a hundred views do not drown one purchase). Two products
are similar when the same persons engage with both: the cosine of their columns in the
person x product matrix, shrunk towards 0 for products with little support. A person's score for
a product is the sum, over their history, of their weight times the similarity.

Item-item was chosen over ALS (the ``implicit`` package): it needs no new dependency, has no
iteration count or factor rank to tune, gives a readable reason for every recommendation ("similar
to P-1052, which you bought") and, on catalogues of a few thousand products, is as accurate.

Slots a person's history cannot fill (a cold person, or a history with too few neighbours) are
filled from "bought together" (products bought by the persons who bought what this person
bought), then from popularity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

import ibis
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from journeylens.errors import ValidationError
from journeylens.jsontext import with_json_text
from journeylens.predict.cutoff import check_as_of

__all__ = [
    "EVENT_WEIGHTS",
    "ItemItemRecommender",
    "PopularityRecommender",
    "interactions",
    "recommend",
]

#: Implicit-feedback weight of one event of each kind.
EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"Product Viewed": 1.0, "Product Added": 3.0, "Order Completed": 5.0}
)
#: Order lines read from an order's ``products`` array (Segment e-commerce spec).
MAX_ORDER_LINES = 10
_PURCHASE = "Order Completed"
_COLUMNS = ["person_id", "rank", "product_id", "score", "reason"]


def interactions(
    events: ibis.Table,
    *,
    as_of: datetime,
    since: datetime | None = None,
    weights: Mapping[str, float] = EVENT_WEIGHTS,
) -> pd.DataFrame:
    """Per person and product, the summed weight of their product events in ``[since, as_of)``.

    A product event names its product in ``properties.product_id`` or, for orders, in
    ``properties.products[i].product_id`` (the first ``MAX_ORDER_LINES`` lines).

    Returns:
        DataFrame with ``person_id``, ``product_id``, ``weight`` (sum of ``weights[event]`` over
        the pair's events) and ``purchased`` (bool: an ``Order Completed`` names the product).

    >>> ev = ibis.memtable({"person_id": ["a"], "event": ["Product Viewed"], "message_id": ["1"],
    ...     "timestamp": [datetime(2024, 1, 1)], "properties": ['{"product_id": "P1"}']})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"),
    ...     timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> from datetime import UTC
    >>> interactions(ev, as_of=datetime(2024, 2, 1, tzinfo=UTC)).to_dict("records")
    [{'person_id': 'a', 'product_id': 'P1', 'weight': 1.0, 'purchased': False}]
    """
    as_of = check_as_of(as_of)
    if not weights or any(not np.isfinite(w) or w <= 0 for w in weights.values()):
        raise ValidationError(
            "recommend: event weights must be positive numbers",
            received=dict(weights),
            allowed='a non-empty mapping such as {"Product Viewed": 1, "Order Completed": 5}',
        )
    ev = events.filter(
        events.event.isin(list(weights)), events.person_id.notnull(), events.timestamp < as_of
    )
    if since is not None:
        ev = ev.filter(ev.timestamp >= check_as_of(since, name="since"))
    props = ev.properties
    lines = {f"_l{i}": props["products"][i]["product_id"] for i in range(MAX_ORDER_LINES)}
    ev = with_json_text(ev, _one=props["product_id"], **lines)
    ids = ibis.array([ev._one, *(ev[name] for name in lines)])
    weight = ibis.cases(*((ev.event == name, float(w)) for name, w in weights.items()))
    # An order with a products array names each line; the top-level product_id is kept too,
    # and set semantics (one row per distinct id per event) stop it counting twice.
    rows = ev.select(
        ev.person_id,
        ev.message_id,
        w=weight,
        bought=(ev.event == _PURCHASE),
        product_id=ids.unnest(),
    )
    rows = rows.filter(rows.product_id.notnull()).distinct()
    pairs = rows.group_by(["person_id", "product_id"]).agg(
        weight=rows.w.sum(), purchased=rows.bought.any()
    )
    out = pairs.to_pandas()
    out["weight"] = out["weight"].astype(float)
    out["purchased"] = out["purchased"].astype(bool)
    return out.sort_values(["person_id", "product_id"], ignore_index=True)


class _Matrix:
    """Persons x products: log1p weights and purchases, rows in the order of ``persons``."""

    def __init__(self, pairs: pd.DataFrame, products: pd.Index, persons: pd.Index) -> None:
        known = pairs[pairs.product_id.isin(products) & pairs.person_id.isin(persons)]
        rows = persons.get_indexer(known.person_id)
        cols = products.get_indexer(known.product_id)
        shape = (len(persons), len(products))
        self.weight = sp.csr_matrix((np.log1p(known.weight.to_numpy(float)), (rows, cols)), shape)
        bought = known.purchased.to_numpy(bool)
        self.bought = sp.csr_matrix(
            (np.ones(int(bought.sum())), (rows[bought], cols[bought])), shape
        )


def _checked(pairs: pd.DataFrame) -> pd.DataFrame:
    missing = {"person_id", "product_id", "weight", "purchased"} - set(pairs.columns)
    if missing:
        raise ValidationError(
            "recommend: the interactions table lacks columns",
            received=sorted(missing),
            allowed="the columns of journeylens.predict.recommend.interactions()",
            fix="build it with interactions(events, as_of=...)",
        )
    return pairs


def _fit_matrix(pairs: pd.DataFrame) -> tuple[pd.Index, _Matrix]:
    pairs = _checked(pairs)
    products = pd.Index(sorted(pairs.product_id.unique()))
    return products, _Matrix(pairs, products, pd.Index(pairs.person_id.unique()))


def _persons(persons: Iterable[str] | None, pairs: pd.DataFrame) -> pd.Index:
    chosen = pairs.person_id if persons is None else list(persons)
    return pd.Index(pd.unique(np.asarray(chosen, dtype=object)))


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(
            "recommend: k must be a whole number of recommendations",
            received=k,
            allowed="1 or more",
        )
    return k


class PopularityRecommender(BaseEstimator):
    """The baseline: everyone gets the products most persons engaged with.

    Attributes (after ``fit``): ``products_`` (product ids), ``popularity_`` (per product, the
    sum over persons of their log1p weight; the ranking score).

    >>> pairs = pd.DataFrame({"person_id": ["a", "b", "b"], "product_id": ["x", "x", "y"],
    ...     "weight": [1.0, 1.0, 5.0], "purchased": [False, False, True]})
    >>> PopularityRecommender().fit(pairs).recommend(pairs, ["c"], k=1).product_id.tolist()
    ['y']
    """

    def fit(self, pairs: pd.DataFrame) -> PopularityRecommender:
        """Learn product popularity from ``interactions()`` rows; returns self."""
        self.products_, matrix = _fit_matrix(pairs)
        self.popularity_ = np.asarray(matrix.weight.sum(axis=0)).ravel()
        return self

    def recommend(
        self,
        pairs: pd.DataFrame,
        persons: Iterable[str] | None = None,
        *,
        k: int = 10,
        exclude_purchased: bool = True,
    ) -> pd.DataFrame:
        """The ``k`` most popular products per person (default: every person in ``pairs``),
        minus what they bought when ``exclude_purchased``.

        Returns:
            DataFrame ``person_id``, ``rank`` (1 = best), ``product_id``, ``score`` (popularity
            share: the product's popularity over the sum of all products'), ``reason``
            (``popular``).
        """
        who = _persons(persons, _checked(pairs))
        matrix = _Matrix(pairs, self.products_, who)
        ranker = _Ranker(self.products_, self.popularity_, None, None)
        return ranker.rank(who, matrix, _check_k(k), exclude_purchased)


class ItemItemRecommender(BaseEstimator):
    """Item-item collaborative filtering on implicit feedback, with fallbacks.

    Args:
        neighbours: similar products kept per product (the rest count as 0).
        shrinkage: added to the cosine's denominator, so a pair seen by 2 persons is not
            "perfectly similar" (similarity = co-weight / (norm_i * norm_j + shrinkage)).

    Attributes (after ``fit``): ``products_``, ``similarity_`` (sparse product x product),
    ``together_`` (sparse: share of the buyers of the row product who also bought the column
    product), ``popularity_`` (as in :class:`PopularityRecommender`).

    >>> pairs = pd.DataFrame({"person_id": ["a", "a", "b", "c"], "product_id": ["x", "y", "x", "z"],
    ...     "weight": [1.0, 1.0, 1.0, 9.0], "purchased": [False] * 4})
    >>> recs = ItemItemRecommender().fit(pairs).recommend(pairs, ["b"], k=2)
    >>> recs[["product_id", "reason"]].values.tolist()
    [['y', 'similar to x you looked at'], ['z', 'popular']]
    """

    def __init__(self, neighbours: int = 50, shrinkage: float = 5.0) -> None:
        self.neighbours = neighbours
        self.shrinkage = shrinkage

    def fit(self, pairs: pd.DataFrame) -> ItemItemRecommender:
        """Learn product similarities from ``interactions()`` rows; returns self."""
        bad_count = isinstance(self.neighbours, bool) or not isinstance(self.neighbours, int)
        if bad_count or self.neighbours < 1 or not self.shrinkage >= 0:
            raise ValidationError(
                "recommend: neighbours must be a whole number >= 1 and shrinkage a number >= 0",
                received={"neighbours": self.neighbours, "shrinkage": self.shrinkage},
                allowed="neighbours >= 1, shrinkage >= 0",
            )
        self.products_, matrix = _fit_matrix(pairs)
        self.popularity_ = np.asarray(matrix.weight.sum(axis=0)).ravel()
        co = (matrix.weight.T @ matrix.weight).tocoo()
        norms = np.sqrt(np.asarray((matrix.weight.multiply(matrix.weight)).sum(axis=0)).ravel())
        values = co.data / (norms[co.row] * norms[co.col] + self.shrinkage)
        values[co.row == co.col] = 0.0  # a product is not its own neighbour
        self.similarity_ = _top_per_row(sp.csr_matrix((values, (co.row, co.col)), co.shape), self)
        both = (matrix.bought.T @ matrix.bought).tocsr()
        buyers = both.diagonal()
        both.setdiag(0)
        both.eliminate_zeros()
        self.together_ = sp.diags(1.0 / np.maximum(buyers, 1)) @ both
        return self

    def recommend(
        self,
        pairs: pd.DataFrame,
        persons: Iterable[str] | None = None,
        *,
        k: int = 10,
        exclude_purchased: bool = True,
    ) -> pd.DataFrame:
        """The ``k`` best products per person (default: every person in ``pairs``) from their
        history in ``pairs``, minus what they bought when ``exclude_purchased``.

        Returns:
            DataFrame ``person_id``, ``rank`` (1 = best), ``product_id``, ``score`` and
            ``reason``, in tiers: ``similar to <product> you bought|looked at`` (score: sum
            over the person's history of log1p weight x similarity; the product named
            contributes most), then ``bought together with <product>`` (score: mean over the
            person's purchases of the share of their buyers who also bought this), then
            ``popular`` (score: popularity share). Scores compare within a tier; rank orders
            all.
        """
        who = _persons(persons, _checked(pairs))
        matrix = _Matrix(pairs, self.products_, who)
        ranker = _Ranker(self.products_, self.popularity_, self.similarity_, self.together_)
        return ranker.rank(who, matrix, _check_k(k), exclude_purchased)


def _top_per_row(similarity: sp.csr_matrix, model: ItemItemRecommender) -> sp.csr_matrix:
    """Keep each product's ``neighbours`` most similar products (ties broken by position)."""
    rows, cols, vals = [], [], []
    for i in range(similarity.shape[0]):
        start, end = similarity.indptr[i], similarity.indptr[i + 1]
        data, idx = similarity.data[start:end], similarity.indices[start:end]
        keep = np.argsort(-data, kind="stable")[: model.neighbours]
        keep = keep[data[keep] > 0]
        rows.append(np.full(len(keep), i))
        cols.append(idx[keep])
        vals.append(data[keep])
    if not rows:
        return sp.csr_matrix(similarity.shape)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), similarity.shape
    )


class _Ranker:
    """Top-k per person in tiers, a batch of persons at a time so memory stays bounded."""

    _CELLS = 20_000_000  # dense score cells per batch (~160 MB of float64)

    def __init__(self, products, popularity, similarity, together) -> None:
        self.products = np.asarray(products, dtype=object)
        total = popularity.sum()
        self.popular = popularity / total if total else popularity
        self.similarity = similarity
        self.together = together

    def rank(self, persons: pd.Index, matrix: _Matrix, k: int, exclude: bool) -> pd.DataFrame:
        n = len(self.products)
        if not len(persons) or not n:
            return _empty()
        step = max(1, self._CELLS // n)
        parts = [
            self._batch(persons[s : s + step], matrix, s, k, exclude)
            for s in range(0, len(persons), step)
        ]
        return pd.concat(parts, ignore_index=True)

    def _batch(self, persons, matrix: _Matrix, start: int, k: int, exclude: bool):
        rows = slice(start, start + len(persons))
        history, bought = matrix.weight[rows], matrix.bought[rows]
        n = len(self.products)
        # Tiers as disjoint key ranges: similar (>2), bought together (1..2], popular [0..1).
        key = np.broadcast_to(self.popular, (len(persons), n)).copy()
        tier = np.zeros(key.shape, dtype=np.int8)
        similar = together = None
        if self.together is not None:
            per_buy = np.maximum(np.asarray(bought.sum(axis=1)), 1)
            together = (bought @ self.together).toarray() / per_buy
            hit = together > 0
            key[hit], tier[hit] = 1 + together[hit], 1
        if self.similarity is not None:
            similar = (history @ self.similarity).toarray()
            hit = similar > 0
            key[hit], tier[hit] = 2 + similar[hit], 2
        if exclude:
            key[bought.toarray() > 0] = -np.inf
        k = min(k, n)
        top = np.argpartition(-key, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(key, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        at = np.arange(len(persons))[:, None]
        keep = np.isfinite(key[at, top])
        slot_tier = tier[at, top]
        zero = np.zeros(key.shape)
        score = np.select(
            [slot_tier == 2, slot_tier == 1],
            [
                (zero if similar is None else similar)[at, top],
                (zero if together is None else together)[at, top],
            ],
            self.popular[top],
        )
        reason = np.full(top.shape, "popular", dtype=object)
        for slot in range(k):
            items = top[:, slot]
            if similar is not None:
                self._explain(reason, slot, items, slot_tier[:, slot] == 2, history, bought)
            if together is not None:
                self._explain(reason, slot, items, slot_tier[:, slot] == 1, bought, None)
        frame = pd.DataFrame(
            {
                "person_id": np.repeat(np.asarray(persons, dtype=object), k),
                "rank": np.tile(np.arange(1, k + 1), len(persons)),
                "product_id": self.products[top].ravel(),
                "score": score.ravel().astype(float),
                "reason": reason.ravel(),
            }
        )
        frame = frame[keep.ravel()]
        # Excluded products leave gaps: ranks count only what is shown.
        frame["rank"] = frame.groupby("person_id", sort=False).cumcount() + 1
        return frame.reset_index(drop=True)

    def _explain(self, reason, slot, items, rows, source, bought) -> None:
        """The source product contributing most to each chosen row's slot."""
        rows = np.flatnonzero(rows)
        if not len(rows):
            return
        link = self.similarity if bought is not None else self.together
        contribution = source[rows].multiply(link[:, items[rows]].T.tocsr())
        best = np.asarray(contribution.argmax(axis=1)).ravel()
        names = self.products[best]
        if bought is None:
            reason[rows, slot] = [f"bought together with {p}" for p in names]
            return
        was_bought = np.asarray(bought[rows, best]).ravel() > 0
        reason[rows, slot] = [
            f"similar to {p} you {'bought' if b else 'looked at'}"
            for p, b in zip(names, was_bought, strict=True)
        ]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.Series(dtype=object),
            "rank": pd.Series(dtype="int64"),
            "product_id": pd.Series(dtype=object),
            "score": pd.Series(dtype=float),
            "reason": pd.Series(dtype=object),
        }
    )


def recommend(
    events: ibis.Table,
    *,
    as_of: datetime,
    k: int = 10,
    persons: Iterable[str] | None = None,
    weights: Mapping[str, float] = EVENT_WEIGHTS,
    exclude_purchased: bool = True,
    model: ItemItemRecommender | None = None,
) -> pd.DataFrame:
    """The ``k`` next products for every person, learned from product events before ``as_of``.

    Fits ``model`` (default ``ItemItemRecommender()``) on :func:`interactions` and ranks for
    ``persons`` (default: every person with an event before ``as_of``; persons with no product
    history get the bought-together-free fallback, popularity).

    Returns:
        DataFrame ``person_id``, ``rank`` (1 = best), ``product_id``, ``score``, ``reason`` as
        in :meth:`ItemItemRecommender.recommend`; empty when no product events precede
        ``as_of``.

    >>> ev = ibis.memtable({"person_id": ["a", "b"], "event": ["Product Viewed", "Home"],
    ...     "message_id": ["1", "2"], "timestamp": [datetime(2024, 1, 1)] * 2,
    ...     "properties": ['{"product_id": "P1"}', "{}"]})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"),
    ...     timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> from datetime import UTC
    >>> recs = recommend(ev, as_of=datetime(2024, 2, 1, tzinfo=UTC), exclude_purchased=False)
    >>> recs.values.tolist()
    [['a', 1, 'P1', 1.0, 'popular'], ['b', 1, 'P1', 1.0, 'popular']]
    """
    as_of = check_as_of(as_of)
    pairs = interactions(events, as_of=as_of, weights=weights)
    if not len(pairs):
        return _empty()
    if persons is None:
        seen = events.filter(events.person_id.notnull(), events.timestamp < as_of)
        persons = seen.select("person_id").distinct().to_pandas().person_id.sort_values()
    fitted = (model if model is not None else ItemItemRecommender()).fit(pairs)
    return fitted.recommend(pairs, persons, k=k, exclude_purchased=exclude_purchased)
