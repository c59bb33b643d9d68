"""The pages that show one analysis each: overview, funnels, journey map, stages, retention,
attribution and the click heatmap. Each builds its spec from the form, runs the analysis on the
filtered events and shows the Result's own figure and tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from journeylens.analysis import (
    AttributionSpec,
    FunnelSpec,
    HeatmapSpec,
    JourneyMapSpec,
    RetentionSpec,
    StagesSpec,
    TrendsSpec,
    attribution,
    funnel,
    funnel_actors,
    heatmap,
    journey_map,
    retention,
    stages,
    trends,
)
from journeylens.analysis.base import Result
from journeylens.analysis.funnel_result import FunnelResult
from journeylens.errors import ValidationError
from journeylens.feedback.emotion import EmotionSpec, emotion
from journeylens.feedback.scored import feedback_in_window
from journeylens.feedback.source import FeedbackSource
from journeylens.web.funnel_charts import conversion_over_time, time_to_convert
from journeylens.web.pages import Page, Param, Params, page, spec_of
from journeylens.web.scope import Scope
from journeylens.web.views import Chart, Kpi, Table, View

__all__: list[str] = []

_INTERVALS = ("day", "week", "month")
#: The overview compares the last two weeks with the two before when no range is picked.
_OVERVIEW_DAYS = 14


def _warnings(*results: Result) -> tuple[str, ...]:
    return tuple(f"{w.code}: {w.message}" for r in results for w in r.warnings)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# ---------------------------------------------------------------------------------- overview

_KPI_SERIES = [
    {"label": "Events"},
    {"label": "Active persons per period (average)", "math": "persons"},
    {"label": "Orders", "event": "Order Completed"},
    {"label": "Sign-ups", "event": "Signed Up"},
]
_REVENUE = {"label": "Revenue", "event": "Order Completed", "math": "sum", "property": "revenue"}


def _overview(scope: Scope, params: Params) -> View:
    f = scope.filters
    end = f.date_to or scope.latest_day()
    if end is None:
        return View(warnings=("NO_EVENTS: The workspace holds no events yet.",))
    start = f.date_from or end - timedelta(days=_OVERVIEW_DAYS - 1)
    events = scope.events(dates=False)  # the range goes into the spec: compare needs before it
    common = {"interval": params["interval"], "compare": True}
    span = {"date_from": _midnight(start), "date_to": _midnight(end)}
    activity = trends(
        events, spec_of(TrendsSpec, {"series": _KPI_SERIES, **common, **span}, label="overview")
    )
    revenue = trends(
        events, spec_of(TrendsSpec, {"series": [_REVENUE], **common, **span}, label="overview")
    )
    kpis = []
    for result in (activity, revenue):
        lines = {(line.series, line.compare): line for line in result.lines}
        for (series, compare), line in lines.items():
            if compare != "current":
                continue
            now = [v or 0 for v in line.values]
            before = [v or 0 for v in lines[(series, "previous")].values]
            if line.math == "persons":  # distinct per period: add up periods as an average
                kpis.append(Kpi(line.title, _mean(now), _mean(before)))
            else:
                kpis.append(Kpi(line.title, float(sum(now)), float(sum(before))))
    note = (
        f"{start} to {end} against the {(end - start).days + 1} days before; "
        "dashed lines are the previous period."
    )
    return View(
        charts=(Chart.of("Activity", activity.figure()), Chart.of("Revenue", revenue.figure())),
        tables=(
            Table("activity", "Activity per period", activity.to_frame()),
            Table("revenue", "Revenue per period", revenue.to_frame()),
        ),
        kpis=tuple(kpis),
        warnings=_warnings(activity, revenue),
        notes=(note,),
    )


def _mean(values: list[float]) -> float:
    return float(sum(values)) / len(values) if values else 0.0


page(
    Page(
        "",
        "Overview",
        "Key figures of the period against the period before, and their trends.",
        (Param("interval", "Interval", "day", "select", _INTERVALS),),
        _overview,
    )
)

# ----------------------------------------------------------------------------------- funnels

_STEPS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


def _funnels(scope: Scope, params: Params) -> View:
    breakdown = params["breakdown"]
    spec = spec_of(
        FunnelSpec,
        {
            "steps": list(params["steps"]),
            "order": params["order"],
            "window": params["window"],
            "breakdown": {"property": breakdown} if breakdown else None,
            "interval": params["interval"],
        },
        label="funnel",
    )
    events = scope.events()
    result = funnel(events, spec)
    timing, timing_table = time_to_convert(result)
    trend, trend_table = conversion_over_time(result)
    tables = [
        Table("steps", "Steps: conversion, drop-off and time to convert", result.to_frame()),
        timing_table,
        trend_table,
    ]
    step = _dropped_step(params["dropped_step"], result)
    if step is not None:
        who = funnel_actors(events, spec, step=step, outcome="dropped", limit=1000)
        title = f"Who dropped before step {step} ({result.steps[step - 1].name})"
        tables.append(Table("dropped", title, who))
    return View(
        charts=(Chart.of("Funnel", result.figure()), timing, trend),
        tables=tuple(tables),
        warnings=_warnings(result),
    )


def _dropped_step(given: str | tuple[str, ...], result: FunnelResult) -> int | None:
    """The asked step, or the step losing most units; None when nobody entered."""
    steps = result.steps
    if not steps or steps[0].count == 0:
        return None
    if isinstance(given, str) and given:
        if not given.isdigit() or not 2 <= int(given) <= len(steps):
            raise ValidationError(
                "dropped_step is not a step after the first",
                received=given,
                allowed=f"2..{len(steps)}",
                fix="Pick a step from the list",
            )
        return int(given)
    worst = max(range(1, len(steps)), key=lambda i: steps[i].drop_off)
    return worst + 1


page(
    Page(
        "funnels",
        "Funnels",
        "How many persons go through the steps in order, where they drop off, how long it takes.",
        (
            Param("steps", "Steps", _STEPS, "events"),
            Param("window", "Conversion window", "14d", hint="e.g. 1h, 7d, 2w"),
            Param("order", "Order", "ordered", "select", ("ordered", "strict", "unordered")),
            Param("breakdown", "Breakdown", "", hint="a property, e.g. channel or utm_source"),
            Param("interval", "Conversion over time by", "day", "select", _INTERVALS),
            Param("dropped_step", "Who dropped before step", "", "number", hint="2, 3, …"),
        ),
        _funnels,
    )
)

# ------------------------------------------------------------------------------- journey map


def _journeys(scope: Scope, params: Params) -> View:
    spec = spec_of(
        JourneyMapSpec,
        {"conversion_event": params["conversion_event"], "scope": params["scope"]},
        label="journey_map",
    )
    events = scope.events()
    result = journey_map(events, spec)
    charts = [Chart.of("Journey map", result.figure())]
    tables = [
        Table("drop_offs", "Where journeys end without converting", result.drop_offs),
        Table("stages", "Journeys per stage", result.stages),
        Table("flows", "Biggest moves between events", result.flows),
        Table("stage_flows", "Moves between stages", result.stage_flows),
    ]
    results: list[Result] = [result]
    notes: tuple[str, ...] = ()
    # The emotion line costs a sentiment pass over the feedback; a workspace without any text
    # is told so instead of paying for the query and an empty chart.
    said = feedback_in_window(events, FeedbackSource(), after=None, until=None)
    if said.limit(1).count().execute():
        felt = emotion(events, EmotionSpec())
        results.append(felt)
        charts.append(Chart.of("Emotion along the journey", felt.figure()))
        tables.append(Table("emotion", "Mean sentiment by stage", felt.of("stage")))
    else:
        notes = ("No feedback texts yet: the emotion line appears once customers say something.",)
    return View(
        charts=tuple(charts),
        tables=tuple(tables),
        warnings=_warnings(*results),
        notes=notes,
    )


page(
    Page(
        "journey-map",
        "Journey map",
        "How journeys move through the stages, where they stop without converting, and how "
        "customers feel at each stage.",
        (
            Param("conversion_event", "Conversion event", "Order Completed", "event"),
            Param("scope", "A journey is", "session", "select", ("session", "person")),
        ),
        _journeys,
    )
)

# ------------------------------------------------------------------------------------ stages


def _stages(scope: Scope, params: Params) -> View:
    spec = spec_of(
        StagesSpec,
        {"interval": params["interval"], "inactive_after": params["inactive_after"]},
        label="stages",
    )
    result = stages(scope.events(), spec)
    return View(
        charts=(Chart.of("Journey stages", result.figure()),),
        tables=(
            Table("current", "Persons per stage now", result.current),
            Table("transitions", "Moves between stages", result.transitions),
            Table("over_time", "Persons per stage over time", result.over_time),
        ),
        warnings=_warnings(result),
    )


page(
    Page(
        "stages",
        "Stages",
        "Persons in each journey stage now and over time, and the moves between stages.",
        (
            Param("interval", "Interval", "week", "select", _INTERVALS),
            Param("inactive_after", "Lost after", "30d", hint="inactive this long"),
        ),
        _stages,
    )
)

# --------------------------------------------------------------------------------- retention


def _retention(scope: Scope, params: Params) -> View:
    spec = spec_of(
        RetentionSpec,
        {
            "start_event": params["start_event"] or None,
            "return_event": params["return_event"] or None,
            "interval": params["interval"],
            "total_intervals": params["total_intervals"],
        },
        label="retention",
    )
    result = retention(scope.events(), spec)
    curve = pd.DataFrame(
        {
            "period": range(len(result.curve)),
            "persons": result.curve_persons,
            "base": result.curve_base,
            "retention": result.curve,
        }
    )
    return View(
        charts=(Chart.of("Retention", result.figure()),),
        tables=(
            Table("cohorts", "Retention by cohort and period", result.to_frame()),
            Table("curve", "Retention curve (weighted by cohort size)", curve),
        ),
        warnings=_warnings(result),
    )


page(
    Page(
        "retention",
        "Retention",
        "Of the persons who started in a period, how many came back in each later period.",
        (
            Param("start_event", "Start event", "", "event", hint="blank: any event"),
            Param("return_event", "Return event", "", "event", hint="blank: any event"),
            Param("interval", "Interval", "day", "select", _INTERVALS),
            Param("total_intervals", "Periods", "8", "number"),
        ),
        _retention,
    )
)

# ------------------------------------------------------------------------------- attribution


def _costs(text: str) -> list[dict[str, object]]:
    """``Channel = spend`` lines of the costs field."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        channel, sep, spend = line.rpartition("=")
        if not sep or not channel.strip():
            raise ValidationError(
                f"Cost line {number} is not 'Channel = spend'",
                received=line,
                fix="Write one channel per line, e.g. Paid Search = 1200",
            )
        rows.append({"channel": channel.strip(), "spend": spend.strip()})
    return rows


def _attribution(scope: Scope, params: Params) -> View:
    spec = spec_of(
        AttributionSpec,
        {
            "conversion": params["conversion"],
            "lookback": params["lookback"],
            "costs": _costs(str(params["costs"])),
        },
        label="attribution",
    )
    result = attribution(scope.events(), spec)
    top = result.top_paths.assign(path=[" > ".join(p) for p in result.top_paths["path"]])
    return View(
        charts=(
            Chart.of("Model comparison", result.figure("models")),
            Chart.of("Top converting paths", result.figure("paths")),
        ),
        tables=(
            Table("credits", "Credit, spend and ROI per model and channel", result.to_frame()),
            Table("top_paths", "Top converting paths", top),
        ),
        warnings=_warnings(result),
    )


page(
    Page(
        "attribution",
        "Attribution",
        "Which channels earn the conversions, by eight models side by side; spend adds ROI.",
        (
            Param("conversion", "Conversion event", "Order Completed", "event"),
            Param("lookback", "Lookback", "30d"),
            Param("costs", "Spend per channel", "", "textarea", hint="Paid Search = 1200"),
        ),
        _attribution,
    )
)

# ----------------------------------------------------------------------------------- heatmap


def _heatmap(scope: Scope, params: Params) -> View:
    spec = spec_of(
        HeatmapSpec,
        {"event": params["event"], "path": params["path"] or None, "count": params["count"]},
        label="heatmap",
    )
    result = heatmap(scope.events(), spec)
    return View(
        charts=(Chart.of("Click heatmap", result.figure()),),
        tables=(
            Table("pages", "Pages with the most clicks", result.pages),
            Table("grid", "Clicks per cell", result.grid),
            Table("scroll", "Scroll depth", result.scroll),
        ),
        warnings=_warnings(result),
    )


page(
    Page(
        "heatmap",
        "Click heatmap",
        "Where on the page people click (x as a share of the width, y in pixels).",
        (
            Param("event", "Click event", "Element Clicked", "event"),
            Param("path", "Page path", "", hint="blank: every page, e.g. /product"),
            Param("count", "Count", "clicks", "select", ("clicks", "persons")),
        ),
        _heatmap,
    )
)
