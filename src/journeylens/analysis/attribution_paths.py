"""Journeys as aggregated paths, and the rule-based attribution models over them.

Every path model of attribution (the five rules here, ``markov`` and ``shapley``) reads the
same input: :class:`PathCounts`, the distinct journeys (touch channels, oldest first) with the
conversions, conversion value and non-converting journeys of each. It is small however many
events produced it (one row per distinct path), so the models are plain numpy over it.

Internally a :class:`PathCounts` holds its touches flattened: one integer code per touch (the
channel's position in :attr:`PathCounts.channels`, which is sorted), the path each touch belongs
to, and each touch's position in its path. A rule model is then one weight per touch (the share
of its path's conversion the touch earns; the weights of a path add up to 1) and one
``bincount`` over channels, which handles half a million paths in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from journeylens.errors import UnknownNameError, ValidationError

__all__ = [
    "RULE_MODELS",
    "PathCounts",
    "path_counts_from_frame",
    "rule_credits",
]

#: The rule-based models :func:`rule_credits` computes.
RULE_MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")

CREDIT_COLUMNS = ["channel", "conversions", "value"]


@dataclass(frozen=True, eq=False)
class PathCounts:
    """Distinct journeys with their outcomes (the input of every path model).

    ``paths`` are the touch channels of each journey, oldest first; each is a non-empty tuple of
    non-empty channel names (lists are accepted and stored as tuples). The three arrays run
    parallel to ``paths``: ``conversions`` (conversions that ended this path), ``value`` (their
    summed value) and ``non_conversions`` (journeys on this path that did not convert), all
    finite and non-negative (stored as read-only float64). A path may appear more than once:
    every model adds its rows up, so duplicates count as one path with the summed numbers.

    ``eq=False``: two instances compare by identity (their arrays have no single truth value).

    >>> counts = PathCounts(
    ...     paths=(("Email", "Direct"), ("Search",)),
    ...     conversions=[1.0, 2.0], value=[10.0, 30.0], non_conversions=[4.0, 0.0])
    >>> counts.channels
    ('Direct', 'Email', 'Search')
    >>> counts.codes.tolist(), counts.path_index.tolist()
    ([1, 0, 2], [0, 0, 1])
    """

    paths: tuple[tuple[str, ...], ...]
    conversions: np.ndarray
    value: np.ndarray
    non_conversions: np.ndarray
    #: Distinct channel names, sorted; a touch's code is its channel's position here.
    channels: tuple[str, ...] = field(init=False, repr=False)
    #: Channel code of every touch, paths concatenated in order (int64, one per touch).
    codes: np.ndarray = field(init=False, repr=False)
    #: Index of the path each touch belongs to (int64, one per touch).
    path_index: np.ndarray = field(init=False, repr=False)
    #: Where each path's touches start in ``codes``, plus the total at the end (n_paths + 1).
    offsets: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        paths = tuple(_as_path(p, i) for i, p in enumerate(self.paths))
        object.__setattr__(self, "paths", paths)
        n = len(paths)
        for name in ("conversions", "value", "non_conversions"):
            object.__setattr__(self, name, _as_counts(getattr(self, name), name, n))

        lengths = np.fromiter(map(len, paths), dtype=np.int64, count=n)
        flat = np.fromiter(chain.from_iterable(paths), dtype=object, count=int(lengths.sum()))
        raw_codes, uniques = pd.factorize(flat)
        for name in uniques:
            if not isinstance(name, str) or not name:
                raise ValidationError(
                    "Every channel name in a path must be non-empty text",
                    received=name,
                    fix="Drop empty touches and cast channel names to text",
                )
        # Sorted channel codes, so every result lists channels in the same order.
        order = np.argsort(np.asarray(uniques, dtype=object))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = rank[raw_codes]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        for name, array in (
            ("channels", tuple(str(uniques[i]) for i in order)),
            ("codes", codes),
            ("path_index", np.repeat(np.arange(n, dtype=np.int64), lengths)),
            ("offsets", offsets),
        ):
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def lengths(self) -> np.ndarray:
        """Touches per path (int64)."""
        return np.diff(self.offsets)

    @property
    def positions(self) -> np.ndarray:
        """Each touch's position in its path, 0 for the first touch (int64, one per touch)."""
        return np.arange(len(self.codes), dtype=np.int64) - self.offsets[self.path_index]


def _as_path(path: Any, row: int) -> tuple[str, ...]:
    if type(path) is tuple and path:
        return path
    if isinstance(path, str | bytes) or not isinstance(path, Sequence):
        raise ValidationError(
            f"Path {row} must be a tuple of channel names",
            received=path,
            fix="Split path text into channels first (path_counts_from_frame does it)",
        )
    if not path:
        raise ValidationError(f"Path {row} has no touches", received=path)
    return tuple(path)


def _as_counts(values: Any, name: str, n: int) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be numbers", received=values) from exc
    if array.shape != (n,):
        raise ValidationError(
            f"{name} must have one number per path ({n})", received=f"shape {array.shape}"
        )
    bad = ~np.isfinite(array) | (array < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{name} must be finite and non-negative; path {row} is not",
            received=float(array[row]),
        )
    array.flags.writeable = False
    return array


def path_counts_from_frame(
    df: pd.DataFrame,
    *,
    path_col: str,
    conversions_col: str,
    value_col: str | None = None,
    non_conversions_col: str | None = None,
    separator: str = ">",
) -> PathCounts:
    """Read a table of path strings (``"email > search > direct"``) into :class:`PathCounts`.

    Each path is split on ``separator``; blanks around names are stripped and empty names
    dropped (``"a >> b "`` is ``a, b``). Rows with the same path after parsing are grouped and
    their numbers summed. Without ``value_col`` every value is 0; without
    ``non_conversions_col`` every non-conversion count is 0 (Markov then sees no failed
    journeys, so only paths that convert carry weight).

    Raises :class:`~journeylens.errors.UnknownNameError` for a missing column and
    :class:`~journeylens.errors.ValidationError` (naming the row by its index label) for a path
    that is not text or has no channel, and for a count or value that is missing, not a number,
    infinite or negative.

    Returns:
        PathCounts with one entry per distinct path, in order of first appearance:
        ``conversions`` / ``value`` / ``non_conversions`` are the column sums over the rows
        with that path.

    >>> frame = pd.DataFrame({"path": ["email > search", "direct", "email>search "],
    ...                       "conv": [1, 2, 3]})
    >>> counts = path_counts_from_frame(frame, path_col="path", conversions_col="conv")
    >>> counts.paths, counts.conversions.tolist()
    ((('email', 'search'), ('direct',)), [4.0, 2.0])
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(
            "Path data must be a pandas DataFrame",
            received=type(df).__name__,
            fix="Convert it first, e.g. table.to_pandas()",
        )
    if not separator:
        raise ValidationError("The path separator must be non-empty text", received=separator)
    columns = {
        "conversions": conversions_col,
        "value": value_col,
        "non_conversions": non_conversions_col,
    }
    for column in [path_col, *(c for c in columns.values() if c is not None)]:
        if column not in df.columns:
            raise UnknownNameError("column", column, map(str, df.columns))

    paths = _parse_paths(df[path_col], separator)
    numbers = {
        name: (np.zeros(len(df)) if column is None else _numeric_column(df[column], column))
        for name, column in columns.items()
    }
    group, distinct = pd.factorize(pd.Series(paths, dtype=object))
    size = len(distinct)
    return PathCounts(
        paths=tuple(distinct),
        **{
            name: np.bincount(group, weights=array, minlength=size)
            for name, array in numbers.items()
        },
    )


def _parse_paths(texts: pd.Series, separator: str) -> list[tuple[str, ...]]:
    """Each text split on ``separator``, names stripped, empty names dropped."""
    values = texts.tolist()
    try:
        # One comprehension of C-level calls: half a million paths parse in about half a second.
        paths = [tuple(filter(None, map(str.strip, text.split(separator)))) for text in values]
    except (AttributeError, TypeError):
        row = next(i for i, text in enumerate(values) if not isinstance(text, str))
        raise ValidationError(
            f"The path in row {texts.index[row]!r} is not text",
            received=values[row],
            allowed=f"channel names joined by {separator!r}",
        ) from None
    empty = [i for i, path in enumerate(paths) if not path]
    if empty:
        raise ValidationError(
            f"The path in row {texts.index[empty[0]]!r} has no channel ({len(empty)} such rows)",
            received=values[empty[0]],
            fix="Drop rows with empty paths, or fill them with a channel name",
        )
    return paths


def _numeric_column(column: pd.Series, name: str) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"Column {name!r} must hold finite numbers; row {column.index[first]!r} does not "
            f"({int(bad.sum())} such rows)",
            received=column.iloc[first],
            fix="Fill missing counts with 0 (df.fillna(0)) and cast the column to numbers",
        )
    negative = numbers < 0
    if negative.any():
        first = int(np.flatnonzero(negative)[0])
        raise ValidationError(
            f"Column {name!r} must not be negative; row {column.index[first]!r} is "
            f"({int(negative.sum())} such rows)",
            received=column.iloc[first],
        )
    return numbers


def rule_credits(
    paths: PathCounts,
    model: str,
    *,
    direct: str = "Direct",
    position_weights: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> pd.DataFrame:
    """Credit each path's conversions and value to its touches by a fixed rule.

    The rules (``model``), each giving the touches of one path weights that add up to 1:

    - ``first_touch``: the first touch gets everything; ``last_touch``: the last touch.
    - ``last_non_direct``: the last touch whose channel is not ``direct``; a journey of only
      direct touches credits ``direct`` (as GA4 does).
    - ``linear``: every touch the same share, so a channel touched twice in four touches gets
      half.
    - ``position_based`` with weights ``(w0, w1, w2)`` (non-negative, adding up to 1): one touch
      gets everything; two touches share ``w0 + w2`` in proportion (40/20/40 gives 50/50; if
      both are 0 they split equally); three or more give the first ``w0``, the last ``w2`` and
      the middle touches ``w1`` in equal parts.

    A channel touched more than once in a path earns the sum of its touches' weights.

    Returns:
        DataFrame with one row per channel that earned credit, in channel (alphabetical) order:
        ``channel``; ``conversions``, the attributed conversions (float; over all channels they
        add up to the observed conversions); ``value``, the attributed conversion value (adds
        up to the observed value).

    >>> counts = PathCounts(paths=(("Email", "Search", "Direct"),), conversions=[10.0],
    ...                     value=[100.0], non_conversions=[0.0])
    >>> rule_credits(counts, "position_based").to_dict("list")
    {'channel': ['Direct', 'Email', 'Search'], 'conversions': [4.0, 4.0, 2.0], 'value': [40.0, 40.0, 20.0]}
    """  # noqa: E501
    if model not in RULE_MODELS:
        raise UnknownNameError("attribution model", model, RULE_MODELS)
    weights = _touch_weights(paths, model, direct, _check_position_weights(position_weights))
    return credits_frame(paths, weights)


def credits_frame(paths: PathCounts, touch_weights: np.ndarray) -> pd.DataFrame:
    """Channel credits from per-touch weights: each touch earns its weight times its path's
    conversions and value (the frame :func:`rule_credits` returns; shared with ``shapley``)."""
    n_channels = len(paths.channels)
    conversions = np.bincount(
        paths.codes,
        weights=touch_weights * paths.conversions[paths.path_index],
        minlength=n_channels,
    )
    value = np.bincount(
        paths.codes, weights=touch_weights * paths.value[paths.path_index], minlength=n_channels
    )
    credited = (conversions > 0) | (value > 0)
    return pd.DataFrame(
        {
            "channel": pd.Series(np.asarray(paths.channels, dtype=object)[credited], dtype=object),
            "conversions": conversions[credited],
            "value": value[credited],
        },
        columns=CREDIT_COLUMNS,
    )


def _check_position_weights(weights: Sequence[float]) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    if (
        array.shape != (3,)
        or not np.isfinite(array).all()
        or (array < 0).any()
        or abs(array.sum() - 1.0) > 1e-9
    ):
        raise ValidationError(
            "position_weights must be three non-negative numbers adding up to 1",
            received=tuple(weights),
            allowed="(first, middle, last), e.g. (0.4, 0.2, 0.4)",
        )
    return array


def _touch_weights(
    paths: PathCounts, model: str, direct: str, position_weights: np.ndarray
) -> np.ndarray:
    """The share of its path's conversion each touch earns under ``model``."""
    n_touches = len(paths.codes)
    first = paths.offsets[:-1]
    last = paths.offsets[1:] - 1
    weights = np.zeros(n_touches)
    if model == "first_touch":
        weights[first] = 1.0
    elif model == "last_touch":
        weights[last] = 1.0
    elif model == "last_non_direct":
        weights[_last_non_direct(paths, direct)] = 1.0
    elif model == "linear":
        weights = 1.0 / paths.lengths[paths.path_index]
    else:
        w_first, w_middle, w_last = position_weights
        lengths = paths.lengths
        ends = w_first + w_last
        if len(first):
            # Middle touches exist only from 3 touches on; guard the 1- and 2-touch divisions.
            middle = w_middle / np.maximum(lengths - 2, 1)
            weights = middle[paths.path_index]
            two = lengths == 2
            share_first = np.where(two, w_first / ends if ends > 0 else 0.5, w_first)
            share_last = np.where(two, w_last / ends if ends > 0 else 0.5, w_last)
            weights[first] = share_first
            weights[last] = share_last
            # A single touch is both first and last: it takes the whole conversion.
            weights[first[lengths == 1]] = 1.0
    return weights


def _last_non_direct(paths: PathCounts, direct: str) -> np.ndarray:
    """Index of each path's last touch that is not ``direct`` (its last touch if all are)."""
    if not len(paths):
        return np.zeros(0, dtype=np.int64)
    touch = np.arange(len(paths.codes), dtype=np.int64)
    if direct in paths.channels:
        candidate = np.where(paths.codes != paths.channels.index(direct), touch, -1)
    else:
        candidate = touch
    latest = np.maximum.reduceat(candidate, paths.offsets[:-1])
    return np.where(latest >= 0, latest, paths.offsets[1:] - 1)
