"""RFM: recency, frequency and monetary value per customer, quintile scores and named segments.

A customer is a person with at least one purchase event (``event``, default "Order Completed")
at or before ``as_of`` (default: the latest event). Per customer:

- **recency_days**: days from their latest purchase to ``as_of``;
- **frequency**: number of purchase events;
- **monetary**: sum of their ``revenue`` (a purchase without revenue adds 0).

**Scores** 1–5 are quintiles over customers, computed in the engine from ranks: a customer's
score is ``1 + floor(5 * below / n)``, where ``below`` is how many customers have a strictly
worse value (older latest purchase; fewer purchases; less revenue) and ``n`` the number of
customers. Ties therefore share a score — everyone with one purchase gets the same F score —
instead of being split across quintiles in an arbitrary order as SQL ``ntile`` does, so a
score never depends on row order. With many ties a score may be skipped (no F=2 if more than
40% of customers bought once).

**FM score** = ``ceil((F + M) / 2)``. **Segments** follow the widely used grid of R against FM:

- Champions: R 5, FM 4–5
- Loyal: R 3–4, FM 4–5
- Potential Loyalist: R 4–5, FM 2–3
- New Customers: R 5, FM 1
- Promising: R 4, FM 1
- Need Attention: R 3, FM 3
- About to Sleep: R 3, FM 1–2
- At Risk: R 1–2, FM 3–4
- Cannot Lose Them: R 1–2, FM 5
- Hibernating: R 2 with FM 1–2, and R 1 with FM 2
- Lost: R 1, FM 1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, Result, Spec
from journeylens.analysis.filters import PropertyFilter, filter_events
from journeylens.analysis.registry import Analysis, register
from journeylens.analysis.segments import SegmentResult, as_of_or_latest, iso

__all__ = [
    "SEGMENTS",
    "RFMResult",
    "RFMSegmentName",
    "RFMSegmentSpec",
    "RFMSpec",
    "rfm",
    "rfm_members",
    "rfm_segment_name",
]

RFMSegmentName = Literal[
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
]
#: Segment names, best first.
SEGMENTS: tuple[str, ...] = get_args(RFMSegmentName)

# _GRID[5 - r][fm - 1]: the grid of the module docstring.
_GRID: tuple[tuple[str, ...], ...] = (
    ("New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"),
    ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"),
    ("Lost", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"),
)


def rfm_segment_name(r: int, fm: int) -> str:
    """The segment of an R score and an FM score (both 1–5).

    >>> rfm_segment_name(5, 5), rfm_segment_name(1, 1), rfm_segment_name(2, 5)
    ('Champions', 'Lost', 'Cannot Lose Them')
    """
    return _GRID[5 - r][fm - 1]


class RFMSpec(Spec):
    """RFM settings.

    >>> RFMSpec().event
    'Order Completed'
    """

    event: str = Field(default="Order Completed", min_length=1)
    filters: tuple[PropertyFilter, ...] = ()
    as_of: datetime | None = None


class RFMSegmentSpec(RFMSpec):
    """The customers in some RFM segments, as a segment that can be saved.

    >>> RFMSegmentSpec(segments=["At Risk", "Cannot Lose Them"]).segments
    ('At Risk', 'Cannot Lose Them')
    """

    segments: tuple[RFMSegmentName, ...] = Field(min_length=1)


@dataclass(frozen=True)
class RFMResult(Result):
    """Per-customer RFM values, scores and segments (see :func:`rfm`)."""

    as_of: datetime | None
    customers: pd.DataFrame
    warnings: tuple[AnalysisWarning, ...] = ()

    def segments(self) -> pd.DataFrame:
        """One row per segment (all eleven, best first): ``segment``, ``customers``, ``share``
        (of all customers; NaN without any), ``recency_days``, ``frequency``, ``monetary``
        (means over the segment's customers; NaN for an empty segment)."""
        table = self.customers.groupby("segment").agg(
            customers=("person_id", "size"),
            recency_days=("recency_days", "mean"),
            frequency=("frequency", "mean"),
            monetary=("monetary", "mean"),
        )
        table = table.reindex(list(SEGMENTS)).rename_axis("segment").reset_index()
        table["customers"] = table.customers.fillna(0).astype("int64")
        total = len(self.customers)
        table.insert(2, "share", table.customers / total if total else float("nan"))
        return table

    def to_frame(self) -> pd.DataFrame:
        """One row per customer (see ``customers`` in :func:`rfm`)."""
        return self.customers.copy()

    def to_dict(self) -> dict[str, Any]:
        """``as_of``, ``customers`` (rows), ``segments`` (rows), ``warnings``; NaN → None."""
        return {
            "as_of": iso(self.as_of),
            "customers": _records(self.customers),
            "segments": _records(self.segments()),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Customers on the R × FM grid, each cell labelled with its segment and count."""
        counts = self.customers.groupby(["r", "fm"]).size()
        z = [[int(counts.get((r, fm), 0)) for fm in range(1, 6)] for r in range(1, 6)]
        text = [
            [f"{rfm_segment_name(r, fm)}<br>{z[r - 1][fm - 1]}" for fm in range(1, 6)]
            for r in range(1, 6)
        ]
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=list(range(1, 6)),
                y=list(range(1, 6)),
                text=text,
                texttemplate="%{text}",
                colorscale="Blues",
                colorbar={"title": "customers"},
            )
        )
        fig.update_layout(
            title="RFM segments", xaxis_title="FM score", yaxis_title="R score (5 = recent)"
        )
        return fig


def rfm(events: ibis.Table, spec: RFMSpec) -> RFMResult:
    """Recency, frequency and monetary value of every customer, their 1–5 scores and segment.

    Returns:
        RFMResult whose ``customers`` table has one row per customer (sorted by ``person_id``):
        ``person_id``; ``last_purchase_at`` (UTC); ``recency_days`` (``as_of`` minus the latest
        purchase, days); ``frequency`` (purchases); ``monetary`` (sum of revenue); ``r``, ``f``,
        ``m`` (quintile scores 1–5 over customers, 5 best, ties share a score); ``fm``
        (``ceil((f + m) / 2)``); ``segment`` (see the module's grid). ``segments()`` summarises
        them per segment, ``share`` over all customers. Warning ``NO_PURCHASES`` when nobody
        made a purchase event.

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "b", "b"], "event": ["Order Completed"] * 3,
    ...     "timestamp": ["2024-01-01", "2024-01-02", "2024-01-09"], "revenue": [10.0, 5.0, 7.0]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> rfm(ev, RFMSpec()).customers[["person_id", "frequency", "monetary", "r"]].values.tolist()
    [['a', 1, 10.0, 1], ['b', 2, 12.0, 3]]
    """
    as_of = as_of_or_latest(events, spec.as_of)
    if as_of is None:
        return RFMResult(None, _empty(), (_no_purchases(spec.event),))
    table = _customer_table(events, spec, as_of).execute()
    if table.empty:
        return RFMResult(as_of, _empty(), (_no_purchases(spec.event),))
    table["last_purchase_at"] = pd.to_datetime(table.last_purchase_at, utc=True)
    table["segment"] = [
        rfm_segment_name(int(r), int(fm)) for r, fm in zip(table.r, table.fm, strict=True)
    ]
    table = table.sort_values("person_id").reset_index(drop=True)
    return RFMResult(as_of, table[list(_COLUMNS)].astype(_COLUMNS), ())


def rfm_members(events: ibis.Table, spec: RFMSegmentSpec) -> SegmentResult:
    """The customers whose RFM segment is one of ``spec.segments``.

    Returns:
        SegmentResult: ``person_ids`` (sorted), ``count``, ``persons`` (every person with an
        event at or before ``as_of``, customer or not: the denominator of ``share``), ``as_of``.
        Warnings of :func:`rfm` carry over.

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "b"], "event": ["Order Completed"] * 2,
    ...     "timestamp": ["2024-01-01", "2024-01-09"], "revenue": [5.0, 50.0]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> rfm_members(ev, RFMSegmentSpec(segments=["Lost"])).person_ids
    ('a',)
    """
    result = rfm(events, RFMSpec(**spec.model_dump(exclude={"segments"})))
    if result.as_of is None:
        return SegmentResult(None, (), 0, result.warnings)
    customers = result.customers
    members = customers.person_id[customers.segment.isin(spec.segments)]
    moment = ibis.literal(result.as_of, type="timestamp('UTC')")
    known = events.filter(events.person_id.notnull() & (events.timestamp <= moment))
    persons = int(known.person_id.nunique().execute())
    return SegmentResult(result.as_of, tuple(sorted(members)), persons, result.warnings)


def _customer_table(events: ibis.Table, spec: RFMSpec, as_of: datetime) -> ibis.Table:
    """The engine-side customer table: every column of ``RFMResult.customers`` but
    ``segment``."""
    moment = ibis.literal(as_of, type="timestamp('UTC')")
    bought = events.filter(
        events.person_id.notnull() & (events.event == spec.event) & (events.timestamp <= moment)
    )
    bought = filter_events(bought, list(spec.filters))
    per = bought.group_by("person_id").aggregate(
        last_purchase_at=bought.timestamp.max(),
        frequency=bought.count(),
        monetary=bought.revenue.fill_null(0).sum(),
    )
    seconds = moment.epoch_seconds() - per.last_purchase_at.epoch_seconds()
    per = per.mutate(recency_days=seconds / 86_400)
    everyone = ibis.window()
    scored = per.mutate(
        r=_score(per.last_purchase_at, everyone),
        f=_score(per.frequency, everyone),
        m=_score(per.monetary, everyone),
    )
    return scored.mutate(fm=(scored.f + scored.m + 1) // 2)


def _score(value: ir.Column, everyone: Any) -> ir.IntegerValue:
    # rank() is 0-based and gives tied values the lowest rank: "customers strictly below".
    below = ibis.rank().over(order_by=value)
    n = value.count().over(everyone)
    return ((below * 5) // n + 1).cast("int64")


_COLUMNS = {
    "person_id": object,
    "last_purchase_at": "datetime64[us, UTC]",
    "recency_days": "float64",
    "frequency": "int64",
    "monetary": "float64",
    "r": "int64",
    "f": "int64",
    "m": "int64",
    "fm": "int64",
    "segment": object,
}


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=kind) for name, kind in _COLUMNS.items()})


def _no_purchases(event: str) -> AnalysisWarning:
    return AnalysisWarning("NO_PURCHASES", f"No person has a {event!r} event at or before as_of.")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return iso(value)
    return value.item() if hasattr(value, "item") else value


register(
    Analysis(
        name="rfm",
        spec=RFMSpec,
        run=rfm,
        title="RFM",
        summary="How recently, how often and for how much each customer buys, scored and named.",
        example={"event": "Order Completed"},
    )
)
