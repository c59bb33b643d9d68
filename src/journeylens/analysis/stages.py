"""Journey stages: where persons are now, how that changed, how they move and where they stall.

Every event carries the ``stage`` enrichment gave it (awareness, consideration, purchase,
retention, advocacy, or null). The rules, all as of ``as_of`` (default: the latest event):

- **A person's stage** is the stage of their latest staged event. Several staged events at the
  same instant are ordered by the journey (awareness first, advocacy last), then by
  ``message_id``, so a "Checkout Started" and an "Order Completed" in the same second leave the
  person in purchase.
- **Entering a stage**: walking a person's staged events in that order, each change of stage is
  an entry; a run of events in one stage is one stay.
- **Transitions** are consecutive entries (from one stay to the next), in either direction.
- **Time in stage** is from entering a stage to entering the next one; a stay still open at
  ``as_of`` has no end and is left out of the median (it is censored, not finished).
- **Over time**, a person counts in the stage they were in at the end of each interval (their
  latest staged event before the interval ended); they count from the interval of their first
  staged event on.
- **Lost**: persons whose current stage is the stage and whose latest staged event is more than
  ``inactive_after`` before ``as_of``: the people that stage stopped holding.

Entries, transitions and interval counts are computed in the engine; Python only accumulates
the per-interval deltas (entries minus exits) of at most five stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from journeylens.analysis.base import AnalysisWarning, DurationField, Interval, Result, Spec
from journeylens.analysis.periods import bucket
from journeylens.analysis.registry import Analysis, register
from journeylens.analysis.segments import as_of_or_latest, iso
from journeylens.schema import STAGES

__all__ = ["StagesResult", "StagesSpec", "stages"]

_RANK = {name: rank for rank, name in enumerate(STAGES)}


class StagesSpec(Spec):
    """Stage analysis settings.

    >>> StagesSpec(inactive_after="30d").inactive_after.days
    30
    """

    interval: Interval = "week"
    inactive_after: DurationField = timedelta(days=30)
    as_of: datetime | None = None


@dataclass(frozen=True)
class StagesResult(Result):
    """Stage counts now and over time, transitions, time in stage and losses (see
    :func:`stages`)."""

    as_of: datetime | None
    interval: str
    inactive_after: timedelta
    persons: int
    current: pd.DataFrame
    over_time: pd.DataFrame
    transitions: pd.DataFrame
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per stage (see ``current`` in :func:`stages`)."""
        return self.current.copy()

    def to_dict(self) -> dict[str, Any]:
        """``as_of``, ``interval``, ``inactive_after_seconds``, ``persons``, ``stages`` (the
        ``current`` rows), ``over_time`` (``period`` as ISO text), ``transitions``,
        ``warnings``; NaN becomes None."""
        over = self.over_time.assign(period=[iso(p) for p in self.over_time.period])
        return {
            "as_of": iso(self.as_of),
            "interval": self.interval,
            "inactive_after_seconds": int(self.inactive_after.total_seconds()),
            "persons": self.persons,
            "stages": _records(self.current),
            "over_time": _records(over),
            "transitions": _records(self.transitions),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Left: persons per stage now, with those lost; right: persons per stage over time."""
        fig = make_subplots(rows=1, cols=2, subplot_titles=("Now", "Over time"))
        cur = self.current
        fig.add_bar(x=cur.stage, y=cur.persons - cur.lost, name="active", row=1, col=1)
        fig.add_bar(x=cur.stage, y=cur.lost, name="lost", row=1, col=1)
        for stage in STAGES:
            rows = self.over_time[self.over_time.stage == stage]
            fig.add_scatter(
                x=rows.period, y=rows.persons, name=stage, stackgroup="stages", row=1, col=2
            )
        fig.update_layout(barmode="stack", title="Journey stages")
        return fig


def stages(events: ibis.Table, spec: StagesSpec) -> StagesResult:
    """Persons per journey stage now and over time, moves between stages, time in each stage
    and where each stage loses people (rules in the module docstring).

    Returns:
        StagesResult with
        ``persons``: persons with at least one staged event at or before ``as_of``;
        ``current`` (one row per stage, journey order): ``stage``; ``persons`` (current stage);
        ``share`` (``persons`` / all staged persons); ``entered`` (persons who ever entered it);
        ``stays_completed`` (stays that ended by entering another stage); ``median_days_in_stage``
        (median length of those stays, days; NaN without any); ``lost`` (current stage, inactive
        longer than ``inactive_after``); ``lost_share`` (``lost`` / ``persons`` of the stage);
        ``over_time``: ``period`` (interval start, UTC), ``stage``, ``persons`` (in the stage at
        the end of the interval); ``transitions``: ``from_stage``, ``to_stage``, ``moves``
        (consecutive stays), ``persons`` (distinct persons making that move).
        Warning ``NO_STAGED_EVENTS`` when nobody has a staged event.

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "a"], "stage": ["awareness", "purchase"],
    ...     "timestamp": ["2024-01-01", "2024-01-03"], "message_id": ["1", "2"]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> r = stages(ev, StagesSpec())
    >>> r.current.set_index("stage").loc["awareness", "median_days_in_stage"]
    np.float64(2.0)
    """
    as_of = as_of_or_latest(events, spec.as_of)
    staged = events.filter(events.person_id.notnull() & events.stage.notnull())
    if as_of is not None:
        staged = staged.filter(staged.timestamp <= ibis.literal(as_of, type="timestamp('UTC')"))
    entries = _entries(staged)
    cutoff = None if as_of is None else as_of - spec.inactive_after
    current = _current(entries, cutoff)
    persons = int(current.persons.sum())
    if persons == 0:
        warning = AnalysisWarning("NO_STAGED_EVENTS", "No person has an event with a stage.")
        empty = pd.DataFrame({"period": [], "stage": [], "persons": []})
        return StagesResult(
            as_of, spec.interval, spec.inactive_after, 0, current, empty, _no_moves(), (warning,)
        )
    return StagesResult(
        as_of,
        spec.interval,
        spec.inactive_after,
        persons,
        current,
        _over_time(entries, spec.interval, as_of),
        _transitions(entries),
    )


def _entries(staged: ibis.Table) -> ibis.Table:
    """One row per stay: ``person_id``, ``stage``, ``entered_at``, ``next_stage``,
    ``next_entered_at`` (null for the open stay), ``last_seen`` (person's latest staged event)."""
    rank = ibis.cases(*((staged.stage == name, r) for name, r in _RANK.items()), else_=-1)
    staged = staged.mutate(_jl_rank=rank)
    order = [staged.timestamp, staged._jl_rank, staged.message_id]
    by_person = ibis.window(group_by=staged.person_id, order_by=order)
    marked = staged.mutate(
        _jl_previous=staged.stage.lag().over(by_person),
        last_seen=staged.timestamp.max().over(ibis.window(group_by=staged.person_id)),
    )
    stays = marked.filter(
        marked._jl_previous.isnull() | (marked._jl_previous != marked.stage)
    ).select("person_id", "stage", "last_seen", "_jl_rank", "message_id", entered_at="timestamp")
    following = ibis.window(
        group_by=stays.person_id, order_by=[stays.entered_at, stays._jl_rank, stays.message_id]
    )
    return stays.mutate(
        next_stage=stays.stage.lead().over(following),
        next_entered_at=stays.entered_at.lead().over(following),
    ).drop("_jl_rank", "message_id")


def _current(entries: ibis.Table, cutoff: datetime | None) -> pd.DataFrame:
    # A person's entries into a stage are counted once by flagging one of them: unlike a grouped
    # COUNT DISTINCT this spills to disk, so tens of millions of persons fit a 2 GB memory limit.
    once = ibis.window(group_by=[entries.person_id, entries.stage], order_by=entries.entered_at)
    entries = entries.mutate(_jl_first=ibis.row_number().over(once) == 0)
    # One pass over the stays: the open ones say where persons are now, the closed ones how long
    # a stay lasted (the median skips the open stays' null durations).
    is_open = entries.next_entered_at.isnull()
    # Without an as_of (an empty table) there is no cutoff: the comparison is null, lost is 0.
    inactive = is_open & (entries.last_seen < ibis.literal(cutoff, type="timestamp('UTC')"))
    seconds = entries.next_entered_at.epoch_seconds() - entries.entered_at.epoch_seconds()
    per_stage = entries.group_by("stage").aggregate(
        persons=is_open.cast("int64").sum(),
        lost=inactive.cast("int64").sum(),
        entered=entries._jl_first.cast("int64").sum(),
        stays_completed=(~is_open).cast("int64").sum(),
        median_seconds=seconds.median(),
    )
    table = pd.DataFrame({"stage": list(STAGES)})
    table = table.merge(per_stage.execute(), on="stage", how="left")
    for column in ("persons", "lost", "entered", "stays_completed"):
        table[column] = table[column].fillna(0).astype("int64")
    total = table.persons.sum()
    table["share"] = table.persons / total if total else float("nan")
    table["median_days_in_stage"] = table.pop("median_seconds").astype("float64") / 86_400
    table["lost_share"] = table.lost / table.persons.where(table.persons > 0)
    columns = ["stage", "persons", "share", "entered", "stays_completed"]
    return table[[*columns, "median_days_in_stage", "lost", "lost_share"]]


def _no_moves() -> pd.DataFrame:
    return pd.DataFrame({"from_stage": [], "to_stage": [], "moves": [], "persons": []})


def _transitions(entries: ibis.Table) -> pd.DataFrame:
    moves = entries.filter(entries.next_stage.notnull())
    # Distinct persons as two plain aggregations (per person, then per move), which spill to
    # disk where a grouped COUNT DISTINCT runs out of memory on tens of millions of persons.
    per_person = moves.group_by(
        from_stage=moves.stage, to_stage=moves.next_stage, person_id=moves.person_id
    ).aggregate(n=moves.count())
    counts = per_person.group_by(["from_stage", "to_stage"]).aggregate(
        moves=per_person.n.sum(), persons=per_person.count()
    )
    table = counts.execute()
    if table.empty:
        return _no_moves()
    table["_from"] = table.from_stage.map(_RANK)
    table["_to"] = table.to_stage.map(_RANK)
    table = table.sort_values(["_from", "_to"]).drop(columns=["_from", "_to"])
    return table.astype({"moves": "int64", "persons": "int64"}).reset_index(drop=True)


def _over_time(entries: ibis.Table, interval: Interval, as_of: datetime) -> pd.DataFrame:
    # A stay adds one person to its stage at the end of the interval it began in and every one
    # after, until the interval in which the next stay began; summing these deltas per interval
    # in the engine and accumulating them here gives each interval's closing counts.
    starts = entries.select(
        period=bucket(entries.entered_at, interval), stage=entries.stage, delta=ibis.literal(1)
    )
    ended = entries.filter(entries.next_entered_at.notnull())
    ends = ended.select(
        period=bucket(ended.next_entered_at, interval), stage=ended.stage, delta=ibis.literal(-1)
    )
    both = starts.union(ends)
    deltas = both.group_by(["period", "stage"]).aggregate(delta=both.delta.sum()).execute()
    deltas["period"] = pd.to_datetime(deltas.period, utc=True)
    last = pd.Timestamp(as_of).tz_convert("UTC")
    periods = _periods(deltas.period.min(), last, interval)
    grid = deltas.pivot_table(index="period", columns="stage", values="delta", aggfunc="sum")
    grid = grid.reindex(index=periods, columns=list(STAGES)).fillna(0).cumsum()
    long = grid.reset_index(names="period").melt(
        id_vars="period", var_name="stage", value_name="persons"
    )
    long["persons"] = long.persons.astype("int64")
    long["_rank"] = long.stage.map(_RANK)
    return long.sort_values(["period", "_rank"]).drop(columns="_rank").reset_index(drop=True)


def _periods(first: pd.Timestamp, last: pd.Timestamp, interval: Interval) -> pd.DatetimeIndex:
    """Every interval start from ``first``'s interval to ``last``'s (UTC, weeks on Monday)."""
    if interval == "week":
        start = (last - pd.Timedelta(days=last.weekday())).normalize()
        return pd.date_range(first, start, freq="W-MON")
    if interval == "month":
        return pd.date_range(first, last.normalize().replace(day=1), freq="MS")
    unit = {"hour": "h", "day": "D"}[interval]
    return pd.date_range(first, last.floor(unit), freq=unit)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


register(
    Analysis(
        name="stages",
        spec=StagesSpec,
        run=stages,
        title="Journey stages",
        summary="Where persons are in the journey, how they move and where they stall.",
        example={"interval": "week", "inactive_after": "30d"},
    )
)
