"""What happened after a cut-off: churn and conversion labels for propensity models.

A label is defined for the persons **eligible** at ``cutoff``: those with activity (see
:func:`journeylens.predict.features.activity`) in the ``active_within`` window before it. It
reads only events in ``[cutoff - active_within, cutoff + horizon)``:

- **churn** = 1 when the person has no activity at all in ``[cutoff, cutoff + horizon)``;
- **conversion** = 1 when the person has a ``FeatureSpec.conversion`` event in that window.

The label window lies after ``cutoff``, so labels must only be computed at cut-offs at least
``horizon`` before the last moment a caller may look at; ``train_propensity`` places every
cut-off so that ``cutoff + horizon <= as_of``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import ibis

from journeylens.durations import Duration, parse_duration
from journeylens.errors import UnknownNameError
from journeylens.predict.cutoff import check_as_of
from journeylens.predict.features import FeatureSpec, activity, check_events

__all__ = ["Target", "outcome_labels"]

#: What a propensity model predicts.
Target = Literal["churn", "conversion"]
_TARGETS = ("churn", "conversion")


def outcome_labels(
    events: ibis.Table,
    *,
    target: Target,
    cutoff: datetime,
    horizon: Duration = "30d",
    active_within: Duration = "30d",
    spec: FeatureSpec | None = None,
) -> ibis.Table:
    """The label of every eligible person at ``cutoff`` (see the module docstring).

    Args:
        events: a ``ws.events()`` table.
        target: ``"churn"`` or ``"conversion"``.
        cutoff: timezone-aware; features are built at this moment, labels look after it.
        horizon: how far after ``cutoff`` the outcome is watched.
        active_within: how recently before ``cutoff`` a person must have been active to be
            eligible (a person already gone cannot churn again).
        spec: the activity and conversion definitions (``passive_events``, ``conversion``;
            default ``FeatureSpec()``).

    Returns:
        An Ibis table sorted by ``person_id``: ``person_id`` (every eligible person once) and
        ``label`` (int64, 1 = churned / converted in the horizon, 0 otherwise). The positive
        rate's denominator is the eligible persons.

    >>> import ibis, datetime as dt
    >>> ev = ibis.memtable({"person_id": ["a", "b", "b"], "type": ["page"] * 3,
    ...     "event": ["Home"] * 3, "timestamp": [dt.datetime(2024, 1, d) for d in (1, 1, 5)]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> cut = dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
    >>> outcome_labels(ev, target="churn", cutoff=cut, horizon="7d").execute().values.tolist()
    [['a', 1], ['b', 0]]
    """
    if target not in _TARGETS:
        raise UnknownNameError("propensity target", str(target), _TARGETS)
    check_events(events, step="outcome_labels", columns=("person_id", "type", "event", "timestamp"))
    cutoff = check_as_of(cutoff, name="cutoff")
    spec = FeatureSpec() if spec is None else spec
    horizon = parse_duration(horizon, field="horizon")
    active_within = parse_duration(active_within, field="active_within")
    start = ibis.literal(cutoff - active_within, type="timestamp('UTC')")
    middle = ibis.literal(cutoff, type="timestamp('UTC')")
    end = ibis.literal(cutoff + horizon, type="timestamp('UTC')")
    t = events.filter(
        events.person_id.notnull() & (events.timestamp >= start) & (events.timestamp < end)
    )
    t = t.mutate(_jl_active=activity(t, spec), _jl_after=t.timestamp >= middle)
    before = t._jl_active & ~t._jl_after
    if target == "churn":
        outcome = t.count(where=t._jl_active & t._jl_after) == 0
    else:
        outcome = t.count(where=t._jl_after & (t.event == spec.conversion)) > 0
    per = t.group_by("person_id").aggregate(_jl_eligible=t.count(where=before), label=outcome)
    per = per.filter(per._jl_eligible > 0)
    return per.select("person_id", label=per.label.cast("int64")).order_by("person_id")
