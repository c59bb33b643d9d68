"""Rule segments: the persons who meet a tree of conditions on what they did and who they are.

A rule is a nested tree, written as JSON the way a marketer says it:

- an **event condition** (``kind="event"``): did ``event`` (optionally with event property
  filters) at least / at most / exactly ``count`` times, within the last ``within`` before
  ``as_of`` (or ever, up to ``as_of``); ``did=false`` negates the whole count test, so "did not do
  Order Completed in the last 7 days" is ``{"kind": "event", "event": "Order Completed",
  "within": "7d", "did": false}`` and it holds for people who never did it;
- a **trait condition** (``kind="trait"``): a person property filter (PostHog operators) on the
  person's latest trait as of ``as_of``;
- an **all** group (every child holds) or an **any** group (at least one child holds).

Everything is evaluated as of ``as_of`` (default: the latest event in the table): events after it
are ignored, traits included. The persons considered are those with at least one event at or
before ``as_of``; rows with a null ``person_id`` are not persons.

The whole tree is one query: each leaf becomes one conditional count per person in a single
``group_by``, and the tree a boolean expression over those counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, DurationField, Result, Spec
from journeylens.analysis.filters import PropertyFilter, with_match
from journeylens.analysis.registry import Analysis, register

__all__ = [
    "AllOf",
    "AnyOf",
    "Condition",
    "EventCondition",
    "SegmentResult",
    "SegmentSpec",
    "TraitCondition",
    "as_of_or_latest",
    "iso",
    "segment",
]

CountOperator = Literal["gte", "gt", "eq", "lte", "lt"]


class EventCondition(Spec):
    """Did ``event`` ``operator`` ``count`` times (within ``within`` before ``as_of``).

    >>> EventCondition(event="Product Added", within="7d").count
    1
    """

    kind: Literal["event"] = "event"
    event: str = Field(min_length=1)
    operator: CountOperator = "gte"
    count: int = Field(default=1, ge=0)
    within: DurationField | None = None
    filters: tuple[PropertyFilter, ...] = ()
    did: bool = True


class TraitCondition(PropertyFilter):
    """A person property filter: the person's latest trait as of ``as_of``.

    >>> TraitCondition(property="plan", value="pro").source
    'person'
    """

    kind: Literal["trait"] = "trait"
    source: Literal["person"] = "person"


class AllOf(Spec):
    """Every condition holds."""

    kind: Literal["all"] = "all"
    conditions: tuple[Condition, ...] = Field(min_length=1)


class AnyOf(Spec):
    """At least one condition holds."""

    kind: Literal["any"] = "any"
    conditions: tuple[Condition, ...] = Field(min_length=1)


#: One node of a rule tree, told apart by ``kind``.
Condition = Annotated[EventCondition | TraitCondition | AllOf | AnyOf, Field(discriminator="kind")]
AllOf.model_rebuild()
AnyOf.model_rebuild()


class SegmentSpec(Spec):
    """A rule segment.

    >>> spec = SegmentSpec.model_validate({"rule": {"kind": "all", "conditions": [
    ...     {"kind": "event", "event": "Product Added", "within": "7d"},
    ...     {"kind": "event", "event": "Order Completed", "within": "7d", "did": False}]}})
    >>> spec.rule.conditions[1].did
    False
    """

    rule: Condition
    as_of: datetime | None = None


@dataclass(frozen=True)
class SegmentResult(Result):
    """The members of a rule segment (see :func:`segment`)."""

    as_of: datetime | None
    person_ids: tuple[str, ...]
    persons: int
    warnings: tuple[AnalysisWarning, ...] = ()

    @property
    def count(self) -> int:
        """How many persons are members."""
        return len(self.person_ids)

    @property
    def share(self) -> float | None:
        """Members over all persons seen up to ``as_of``; None when there are none."""
        return self.count / self.persons if self.persons else None

    def to_frame(self) -> pd.DataFrame:
        """One row per member: ``person_id``."""
        return pd.DataFrame({"person_id": list(self.person_ids)}, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """``as_of`` (ISO text), ``person_ids``, ``count``, ``persons``, ``share``, ``warnings``."""
        return {
            "as_of": iso(self.as_of),
            "person_ids": list(self.person_ids),
            "count": self.count,
            "persons": self.persons,
            "share": self.share,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Members against everyone else, as one horizontal bar."""
        fig = go.Figure()
        others = self.persons - self.count
        fig.add_bar(y=["persons"], x=[self.count], name="in segment", orientation="h")
        fig.add_bar(y=["persons"], x=[others], name="not in segment", orientation="h")
        share = f"{self.share:.1%}" if self.share is not None else "n/a"
        fig.update_layout(barmode="stack", title=f"Segment: {self.count} persons ({share})")
        return fig


def segment(events: ibis.Table, spec: SegmentSpec) -> SegmentResult:
    """The persons who meet ``spec.rule`` as of ``spec.as_of``.

    Returns:
        SegmentResult: ``as_of`` (the moment "now" was taken to be: ``spec.as_of`` or the latest
        event; None for an empty table), ``person_ids`` (members, sorted), ``count`` (members),
        ``persons`` (every person with an event at or before ``as_of``: the denominator) and
        ``share`` (``count / persons``; None when ``persons`` is 0). Warning ``NO_PERSONS`` when
        there is no one to segment.

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "b"], "event": ["Product Added", "Home"],
    ...     "timestamp": ["2024-01-02", "2024-01-03"], "type": ["track", "page"],
    ...     "message_id": ["1", "2"], "properties": ["{}", "{}"], "traits": [None, None]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"),
    ...     properties=ev.properties.cast("json"), traits=ev.traits.cast("json"))
    >>> rule = {"kind": "event", "event": "Product Added", "within": "7d"}
    >>> segment(ev, SegmentSpec.model_validate({"rule": rule})).person_ids
    ('a',)
    """
    as_of = as_of_or_latest(events, spec.as_of)
    if as_of is None:
        return SegmentResult(None, (), 0, (_no_persons(),))
    table = _person_table(events, spec.rule, as_of)
    members = table.filter(table._jl_member).person_id
    person_ids = tuple(sorted(members.to_pyarrow().to_pylist()))
    persons = int(table.count().execute())
    warnings = () if persons else (_no_persons(),)
    return SegmentResult(as_of, person_ids, persons, warnings)


def _person_table(events: ibis.Table, rule: Condition, as_of: datetime) -> ibis.Table:
    """One row per person with an event at or before ``as_of``: ``person_id`` and the boolean
    ``_jl_member`` (the rule holds), plus one ``_jl_leaf_<i>`` count per leaf condition."""
    events = events.filter(events.person_id.notnull() & (events.timestamp <= _moment(as_of)))
    leaves: list[EventCondition | TraitCondition] = []
    _collect_leaves(rule, leaves)
    marks: dict[str, ir.BooleanValue] = {}
    for i, leaf in enumerate(leaves):
        name = f"_jl_leaf_{i}"
        if isinstance(leaf, TraitCondition):
            events = with_match(events, [PropertyFilter(**_filter_fields(leaf))], name)
            marks[name] = events[name]
            continue
        events = with_match(events, list(leaf.filters), name)
        hit = events[name] & (events.event == leaf.event)
        if leaf.within is not None:
            hit = hit & (events.timestamp > _moment(as_of - leaf.within))
        marks[name] = hit
    counts = {name: mark.cast("int64").sum() for name, mark in marks.items()}
    table = events.group_by("person_id").aggregate(**counts)
    return table.mutate(_jl_member=_holds(table, rule, leaves))


def _collect_leaves(node: Condition, out: list[EventCondition | TraitCondition]) -> None:
    if isinstance(node, AllOf | AnyOf):
        for child in node.conditions:
            _collect_leaves(child, out)
    else:
        out.append(node)


def _holds(
    table: ibis.Table, node: Condition, leaves: list[EventCondition | TraitCondition]
) -> ir.BooleanValue:
    if isinstance(node, AllOf | AnyOf):
        parts = [_holds(table, child, leaves) for child in node.conditions]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if isinstance(node, AllOf) else combined | part
        return combined
    # Leaves are matched by identity: the same condition object may appear twice in a tree.
    index = next(i for i, leaf in enumerate(leaves) if leaf is node)
    count = table[f"_jl_leaf_{index}"].fill_null(0)
    if isinstance(node, TraitCondition):
        return count > 0
    test = {
        "gte": count >= node.count,
        "gt": count > node.count,
        "eq": count == node.count,
        "lte": count <= node.count,
        "lt": count < node.count,
    }[node.operator]
    return test if node.did else ~test


def _filter_fields(trait: TraitCondition) -> dict[str, Any]:
    return trait.model_dump(include={"property", "operator", "value", "source"})


def as_of_or_latest(events: ibis.Table, as_of: datetime | None) -> datetime | None:
    """``as_of`` as an aware UTC datetime, or the latest ``timestamp`` in ``events`` (None when
    the table is empty). Analyses take "now" from here, never from the clock."""
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    latest = events.timestamp.max().execute()
    if latest is None or pd.isna(latest):
        return None
    moment = pd.Timestamp(latest).to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: Any) -> str | None:
    """A timestamp as ISO-8601 UTC text (naive values are UTC); None for a missing value."""
    if moment is None or pd.isna(moment):
        return None
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat()


def _moment(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp('UTC')")


def _no_persons() -> AnalysisWarning:
    return AnalysisWarning("NO_PERSONS", "No person has an event at or before as_of.")


register(
    Analysis(
        name="segment",
        spec=SegmentSpec,
        run=segment,
        title="Segment",
        summary="The persons who meet a rule on what they did and who they are.",
        example={
            "rule": {
                "kind": "all",
                "conditions": [
                    {"kind": "event", "event": "Product Added", "within": "7d"},
                    {"kind": "event", "event": "Order Completed", "within": "7d", "did": False},
                ],
            }
        },
    )
)
