"""Experiment: did a variant change what persons did after they saw it?

Exposure: the ``exposure_event`` ("Experiment Viewed") whose ``experiment_property`` equals the
experiment id; its ``variant_property`` names the arm. A person's first exposure decides their
arm and starts their measurement; persons exposed to more than one variant are counted and left
out (``MIXED_EXPOSURE``), as their arm is unknowable.

The engine does the heavy lifting in one query: per person the metric values from the first
exposure on (and, for CUPED, the same metric over ``cuped_window`` before it), then per
(variant, period of first exposure) the sufficient statistics — persons, sums, sums of squares
and cross-products. Python adds periods up (statistics add) and runs :mod:`journeylens.stats`:
every variant against control, the sample-ratio check on persons per variant, and a
multiple-comparison correction over all (metric, variant) comparisons. The cumulative lift at a
period uses the persons first exposed up to it, with their metrics over the whole data.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from journeylens.analysis.event_match import BEHAVIOUR_TYPES, EventMatch, matched_events
from journeylens.analysis.experiment_infer import infer
from journeylens.analysis.experiment_result import ExperimentResult
from journeylens.analysis.experiment_spec import ExperimentSpec, RatioMetric
from journeylens.analysis.periods import bucket
from journeylens.analysis.properties import with_property
from journeylens.analysis.registry import Analysis, register

__all__ = ["experiment", "experiment_statistics"]


@dataclass(frozen=True)
class _Part:
    """One per-person value the engine computes: column name, what to compute, which events,
    and the time span relative to the first exposure (``pre``: the CUPED window before it)."""

    column: str
    value: str  # conversion | count | revenue | sessions
    event: EventMatch
    window_seconds: int | None
    pre: bool = False


def _parts(spec: ExperimentSpec) -> list[_Part]:
    parts = []
    for i, metric in enumerate(spec.metrics):
        seconds = int(metric.window.total_seconds()) if metric.window else None
        if isinstance(metric, RatioMetric):
            for side, measure in (("n", metric.numerator), ("d", metric.denominator)):
                parts.append(_Part(f"m{i}{side}", measure.value, measure.event, seconds))
            continue
        parts.append(_Part(f"m{i}", metric.kind, metric.event, seconds))
        if spec.cuped_window is not None:
            pre = int(spec.cuped_window.total_seconds())
            parts.append(_Part(f"m{i}p", metric.kind, metric.event, pre, pre=True))
    return parts


def _exposed(events: ibis.Table, spec: ExperimentSpec) -> ibis.Table:
    """Per exposed person: ``variant`` (null when they saw several), ``first_ts``, ``period``."""
    rows = events.filter(
        events.type.isin(BEHAVIOUR_TYPES)
        & events.person_id.notnull()
        & (events.event == spec.exposure_event)
    )
    rows = with_property(rows, "_jl_experiment", spec.experiment_property)
    rows = with_property(rows, "_jl_variant", spec.variant_property)
    rows = rows.filter((rows._jl_experiment == spec.experiment_id) & rows._jl_variant.notnull())
    persons = rows.group_by(_jl_person="person_id").agg(
        first_ts=rows.timestamp.min(),
        variants=rows._jl_variant.nunique(),
        only=rows._jl_variant.min(),  # the variant, when there is one
    )
    return persons.select(
        "_jl_person",
        "first_ts",
        variant=ibis.ifelse(persons.variants == 1, persons.only, ibis.null("string")),
        period=bucket(persons.first_ts, spec.interval),
    )


def _value(part: _Part, rows: ibis.Table) -> ir.Value:
    """The aggregate of one part over a person's joined event rows."""
    ts, start = rows.timestamp, rows.first_ts
    if part.pre:
        when = (ts < start) & (ts >= start - ibis.interval(seconds=part.window_seconds))
    else:
        when = ts >= start
        if part.window_seconds is not None:
            when &= ts < start + ibis.interval(seconds=part.window_seconds)
    hit = rows[f"_jl_{part.column}"] & when
    if part.value == "conversion":
        return ibis.ifelse(hit, 1, 0).max()
    if part.value == "count":
        return ibis.ifelse(hit, 1, 0).sum()
    if part.value == "revenue":
        return ibis.ifelse(hit, rows.revenue.fill_null(0.0), 0.0).sum()
    return rows.session_id.nunique(where=hit)


def _sums(spec: ExperimentSpec, persons: ibis.Table) -> dict[str, ir.Value]:
    """Per (variant, period): the sums every metric's statistic needs."""
    out: dict[str, ir.Value] = {"n": persons.count()}

    def col(name: str) -> ir.FloatingValue:
        return persons[name].cast("float64")

    for i, metric in enumerate(spec.metrics):
        if isinstance(metric, RatioMetric):
            num, den = col(f"m{i}n"), col(f"m{i}d")
            out |= {
                f"m{i}_num": num.sum(),
                f"m{i}_num2": (num * num).sum(),
                f"m{i}_den": den.sum(),
                f"m{i}_den2": (den * den).sum(),
                f"m{i}_numden": (num * den).sum(),
            }
            continue
        value = col(f"m{i}")
        out |= {f"m{i}_sum": value.sum(), f"m{i}_sum2": (value * value).sum()}
        if spec.cuped_window is not None:
            pre = col(f"m{i}p")
            out |= {
                f"m{i}_pre": pre.sum(),
                f"m{i}_pre2": (pre * pre).sum(),
                f"m{i}_prod": (value * pre).sum(),
            }
    return out


def experiment_statistics(events: ibis.Table, spec: ExperimentSpec) -> ibis.Table:
    """The engine's part: sufficient statistics per (variant, period of first exposure).

    Returns:
        An Ibis expression with one row per (``variant``, ``period``): ``variant`` is null for
        persons exposed to several variants; ``n`` persons; per metric ``i`` either
        ``m{i}_sum``/``m{i}_sum2`` (value and squares; plus ``m{i}_pre``, ``m{i}_pre2``,
        ``m{i}_prod`` with CUPED) or, for ratios, ``m{i}_num``, ``m{i}_num2``, ``m{i}_den``,
        ``m{i}_den2``, ``m{i}_numden``.

    >>> t = ibis.memtable({"person_id": ["a", "a"], "type": ["track"] * 2,
    ...     "event": ["Experiment Viewed", "Buy"], "revenue": [None, 5.0], "session_id": ["s", "s"],
    ...     "properties": ['{"experiment_id": "x", "variant": "b"}', None],
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-01 09:05"]})
    >>> t = t.cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> s = ExperimentSpec(experiment_id="x", metrics=[{"kind": "revenue", "event": "Buy"}])
    >>> row = experiment_statistics(t, s).to_pyarrow().to_pylist()[0]
    >>> row["variant"], row["n"], row["m0_sum"], row["m0_sum2"]
    ('b', 1, 5.0, 25.0)
    """
    exposed = _exposed(events, spec)
    parts = _parts(spec)
    matched = matched_events(events, {f"_jl_{p.column}": p.event for p in parts})
    flags = [f"_jl_{p.column}" for p in parts]
    matched = matched.select("person_id", "timestamp", "revenue", "session_id", *flags)
    joined = matched.join(exposed, matched.person_id == exposed._jl_person)
    values = joined.group_by("_jl_person").agg(**{p.column: _value(p, joined) for p in parts})
    values = values.rename(_jl_valued="_jl_person")
    persons = exposed.left_join(values, exposed._jl_person == values._jl_valued)
    persons = persons.mutate(**{p.column: persons[p.column].fill_null(0) for p in parts})
    return persons.group_by("variant", "period").agg(**_sums(spec, persons))


def experiment(events: ibis.Table, spec: ExperimentSpec) -> ExperimentResult:
    """Each variant against control on every metric, with the SRM check and corrections.

    Returns:
        An :class:`ExperimentResult`: per (metric, variant) the persons, the estimate (rate
        over exposed persons of the arm, mean per exposed person, or ratio of sums), the
        relative lift and difference against control with intervals, chance to win and risk
        (bayesian) or p-values raw and corrected; the SRM check; the cumulative lift per
        period; warnings.

    >>> t = ibis.memtable({"person_id": ["a", "b", "b"], "type": ["track"] * 3,
    ...     "event": ["Experiment Viewed", "Experiment Viewed", "Buy"],
    ...     "revenue": [None, None, 5.0], "session_id": [None, None, None],
    ...     "properties": ['{"experiment_id": "x", "variant": "control"}',
    ...                    '{"experiment_id": "x", "variant": "b"}', None],
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-01 09:00", "2024-01-01 09:05"]})
    >>> t = t.cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> r = experiment(t, ExperimentSpec(experiment_id="x",
    ...     metrics=[{"kind": "conversion", "event": "Buy"}]))
    >>> [(row.variant, row.persons, row.mean) for row in r.rows]
    [('control', 1, 0.0), ('b', 1, 1.0)]
    """
    cells = experiment_statistics(events, spec).to_pyarrow().to_pylist()
    return infer(spec, cells)


register(
    Analysis(
        name="experiment",
        spec=ExperimentSpec,
        run=experiment,
        title="Experiment",
        summary="How much each variant of an A/B test changed conversion, revenue or counts "
        "against control, with intervals, chance to win or p-values and a sample-ratio check.",
        example={
            "experiment_id": "checkout_redesign",
            "metrics": [
                {"kind": "conversion", "event": "Order Completed"},
                {"kind": "revenue", "event": "Order Completed"},
            ],
            "method": "frequentist",
        },
    )
)
