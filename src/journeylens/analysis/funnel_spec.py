"""What a funnel asks for: steps, order, window, exclusions, breakdown and the unit counted.

The vocabulary is PostHog's (``ordered``/``strict``/``unordered``, exclusions between two
steps, breakdown attribution) plus Retentioneering's ``open`` and ``hybrid`` orders.
Steps and exclusions are 0-based in ``from_step``/``to_step``/``breakdown.step``, as in
PostHog's API; results number steps from 1.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from journeylens.analysis.base import DurationField, Interval, Spec
from journeylens.analysis.filters import PropertyFilter

__all__ = [
    "FunnelBreakdown",
    "FunnelCountBy",
    "FunnelExclusion",
    "FunnelOrder",
    "FunnelSpec",
    "FunnelStep",
]

#: ``ordered``: steps in sequence, other events may come between. ``strict``: the very next
#: event of the unit must be the next step. ``unordered``: any k distinct steps inside the
#: window. ``open``: each step counted wherever it happens. ``hybrid``: each step counted when
#: it happens at or after the unit's first step-1 event. ``closed`` is read as ``ordered``.
FunnelOrder = Literal["ordered", "strict", "unordered", "open", "hybrid"]

MAX_STEPS = 20


class FunnelStep(Spec):
    """One step: an event name (``None``: any event), filters, and whether only the person's
    very first such event counts.

    >>> FunnelStep(event="Signed Up", first_time_for_person=True).first_time_for_person
    True
    """

    event: str | None
    where: tuple[PropertyFilter, ...] = ()
    first_time_for_person: bool = False
    label: str | None = None

    @property
    def name(self) -> str:
        """How the step is shown: its label, its event, or "Any event"."""
        return self.label or self.event or "Any event"


class FunnelExclusion(Spec):
    """An event that must not happen while an attempt waits between two steps (0-based:
    after step ``from_step`` and before step ``to_step``)."""

    event: str | None
    from_step: int = Field(default=0, ge=0)
    to_step: int = Field(default=1, ge=1)
    where: tuple[PropertyFilter, ...] = ()

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.to_step <= self.from_step:
            raise ValueError("to_step must be after from_step (steps are 0-based)")
        return self


class FunnelBreakdown(Spec):
    """Split the funnel by a property.

    ``attribution``: ``first_touch`` (the earliest value among the unit's funnel events),
    ``last_touch`` (the latest), ``all_events`` (the funnel run separately per value on the
    events carrying it: one unit may appear under several values), ``step`` (the value on the
    event that fills 0-based step ``step``; every such value is its own row). Values past the
    ``limit`` most-converting ones are folded into ``"Other"``.
    """

    property: str
    source: Literal["event", "person"] = "event"
    attribution: Literal["first_touch", "last_touch", "all_events", "step"] = "first_touch"
    step: int | None = Field(default=None, ge=0)
    limit: int = Field(default=25, ge=1, le=1000)

    @model_validator(mode="after")
    def _step_given(self) -> Self:
        if (self.attribution == "step") != (self.step is not None):
            raise ValueError("'step' is given exactly when attribution is 'step'")
        return self


class FunnelCountBy(Spec):
    """Count distinct values of a property instead of persons (e.g. the company of an event);
    events without the property do not count."""

    property: str
    source: Literal["event", "person"] = "event"


class FunnelSpec(Spec):
    """A funnel: ``jl.funnel(events, FunnelSpec(steps=["view", "buy"], window="7d"))``.

    Fields: ``steps`` (2–20 event names or :class:`FunnelStep`), ``order``, ``window``
    (conversion window from the attempt's first step, inclusive; default 14 days; ``"1mo"`` is
    31 days), ``where`` (filters on every step and exclusion), ``date_from``/``date_to``
    (every counted step inside; a date ``date_to`` includes that whole day), ``exclusions``,
    ``breakdown``, ``count_by`` (``"person"``, ``"session"`` or a property) and ``interval``
    (buckets of conversion over time, by the date of the first step).

    >>> spec = FunnelSpec(steps=["Product Viewed", "Order Completed"], window="7d")
    >>> spec.window.days, spec.order
    (7, 'ordered')
    """

    steps: tuple[FunnelStep, ...] = Field(min_length=2, max_length=MAX_STEPS)
    order: FunnelOrder = "ordered"
    window: DurationField = timedelta(days=14)
    where: tuple[PropertyFilter, ...] = ()
    date_from: datetime | date | None = None
    date_to: datetime | date | None = None
    exclusions: tuple[FunnelExclusion, ...] = ()
    breakdown: FunnelBreakdown | None = None
    count_by: Literal["person", "session"] | FunnelCountBy = "person"
    interval: Interval = "day"

    @property
    def distinct_ordered(self) -> bool:
        """Whether this is an ordered funnel whose steps and exclusions are all different named
        events, so no event can match two of them (the fast path of
        :mod:`~journeylens.analysis.funnel_chain`).

        >>> FunnelSpec(steps=["view", "buy"]).distinct_ordered
        True
        >>> FunnelSpec(steps=["view", "view"]).distinct_ordered
        False
        """
        names = [s.event for s in self.steps] + [x.event for x in self.exclusions]
        steps = {s.event for s in self.steps}
        return (
            self.order == "ordered"
            and None not in names
            and len(steps) == len(self.steps)
            and not steps & {x.event for x in self.exclusions}
        )

    @field_validator("order", mode="before")
    @classmethod
    def _closed_is_ordered(cls, value: object) -> object:
        return "ordered" if value == "closed" else value

    @field_validator("steps", mode="before")
    @classmethod
    def _names_are_steps(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"event": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        n = len(self.steps)
        for ex in self.exclusions:
            if ex.to_step >= n:
                raise ValueError(f"exclusion to_step {ex.to_step} is past the last step ({n - 1})")
            if self.order == "unordered" and (ex.from_step, ex.to_step) != (0, n - 1):
                raise ValueError(
                    f"unordered funnels only take exclusions over the whole funnel "
                    f"(from_step=0, to_step={n - 1})"
                )
            if self.order in ("open", "hybrid"):
                raise ValueError(f"{self.order!r} funnels take no exclusions")
            for step in self.steps[ex.from_step : ex.to_step + 1]:
                if step.event == ex.event and step.where == ex.where:
                    raise ValueError(
                        f"exclusion {ex.event!r} is also a step between steps "
                        f"{ex.from_step} and {ex.to_step}; it could never be told apart"
                    )
        bd = self.breakdown
        if bd is not None and bd.step is not None:
            if bd.step >= n:
                raise ValueError(f"breakdown step {bd.step} is past the last step ({n - 1})")
            if self.order == "unordered" and bd.step != 0:
                raise ValueError("unordered funnels attribute a breakdown to step 0 only")
        if self.date_from and self.date_to and _start(self.date_to) < _start(self.date_from):
            raise ValueError("date_to is before date_from")
        return self


def _start(value: datetime | date) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
