"""NPS and CSAT: how many customers would recommend us, or are satisfied, with a confidence
interval, overall, by a breakdown and over time.

**NPS** (Net Promoter Score) is asked on 0–10: *promoters* answer 9–10, *passives* 7–8,
*detractors* 0–6. With ``n`` answers, ``p`` the promoters' share and ``d`` the detractors':

    NPS = 100 · (p − d)

Each answer scores +1 (promoter), 0 (passive) or −1 (detractor) and NPS is 100 × their mean,
so its variance is that of a mean of a three-valued variable: E[x²] − E[x]² = (p + d) −
(p − d)², over ``n``:

    se(NPS) = 100 · sqrt(((p + d) − (p − d)²) / n)
    CI      = NPS ± z · se(NPS), z the normal quantile of the confidence, clipped to ±100

(the standard normal-approximation interval for NPS; it degenerates to a point when every
answer is in one class, so a ``SMALL_SAMPLE`` warning flags fewer than 30 answers).

**CSAT** is asked on 1–5: *satisfied* answers 4–5 (the top-two-box rule), *neutral* 3,
*dissatisfied* 1–2; CSAT = 100 · satisfied ÷ answers, with a Wilson score interval (it stays
inside 0–100 and behaves at small ``n`` and near 0% or 100%).

The engine returns one row of counts and sums per (breakdown value, period); overall, per
group and per period figures are sums of those rows, computed in Python (the statistics add).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import ibis
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from pydantic import Field
from scipy import stats

from journeylens.analysis.base import AnalysisWarning, Interval, Result
from journeylens.analysis.periods import DateRangeSpec, number_of, period_number, start_of
from journeylens.analysis.properties import PropertySource, with_property
from journeylens.analysis.registry import Analysis, register
from journeylens.feedback.source import FeedbackSource, feedback_table

__all__ = ["NpsResult", "NpsSpec", "nps"]

Metric = Literal["nps", "csat"]
#: (lowest valid score, highest, lowest positive, highest negative) per metric.
_SCALE = {"nps": (0.0, 10.0, 9.0, 6.0), "csat": (1.0, 5.0, 4.0, 2.0)}
_NONE = "(none)"
_SMALL = 30
_STAT_COLUMNS = (
    "responses",
    "positive",
    "neutral",
    "negative",
    "score",
    "ci_low",
    "ci_high",
    "average_score",
)


class NpsSpec(DateRangeSpec):
    """Which answers to score, how, and how to split them.

    Attributes:
        metric: ``nps`` (0–10 answers) or ``csat`` (1–5 answers).
        source: which events are answers and which property holds the score (default: the
            ``survey_answered`` and ``Survey Responded`` events, score in ``score``, ``nps``,
            ``rating``).
        survey_id, question_id: only answers to this survey / question (default: all).
        invitation_events: events that deliver a survey to a person (their ``survey_id``
            must match when ``survey_id`` is set); the response rate's denominator.
        breakdown: split by this property (``channel``, ``stage``, any event property, or a
            person property with ``breakdown_source="person"``); None for no split.
        breakdown_source: where ``breakdown`` is read (see ``with_property``).
        max_groups: keep the groups with the most answers; the rest are summed in "(other)".
        interval: the trend's period.
        confidence: of the intervals.
        date_from, date_to: only answers in this UTC range (inclusive).

    >>> NpsSpec(metric="csat", breakdown="channel").metric
    'csat'
    """

    metric: Metric = "nps"
    source: FeedbackSource = FeedbackSource(
        events=("survey_answered", "Survey Responded"), rating_properties=("score", "nps", "rating")
    )
    survey_id: str | None = None
    question_id: str | None = None
    invitation_events: tuple[str, ...] = ("survey_sent", "Survey Sent")
    breakdown: str | None = Field(None, min_length=1)
    breakdown_source: PropertySource = "event"
    max_groups: int = Field(20, ge=1, le=500)
    interval: Interval = "week"
    confidence: float = Field(0.95, gt=0.5, lt=1.0)


@dataclass(frozen=True)
class NpsResult(Result):
    """NPS or CSAT overall, per breakdown group and per period.

    Attributes:
        metric: ``nps`` or ``csat``.
        confidence: of every interval.
        overall: one row of the statistics (see ``to_frame``) over every counted answer.
        groups: one row per breakdown group, most answers first (empty without a breakdown).
        trend: one row per period, oldest first, empty periods included with 0 answers.
        invitations: invitation events counted (None when there were none).
        response_rate: counted answers ÷ ``invitations``; None when there were no invitations.
        interval: the trend's period.
        warnings: ``NO_RESPONSES``, ``OUT_OF_SCALE``, ``NO_INVITATIONS``, ``SMALL_SAMPLE``,
            ``OTHER_GROUPS``.
    """

    metric: Metric
    confidence: float
    overall: dict[str, Any]
    groups: tuple[dict[str, Any], ...]
    trend: tuple[dict[str, Any], ...]
    invitations: int | None
    response_rate: float | None
    interval: Interval
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row for ``overall``, one per group, one per period, with ``part`` (``overall``,
        ``group``, ``trend``), ``group``, ``period`` (UTC start; trend rows), ``responses``
        (answers counted), ``positive`` / ``neutral`` / ``negative`` (NPS: promoters 9–10,
        passives 7–8, detractors 0–6; CSAT: 4–5, 3, 1–2), ``score`` (NPS in points −100…100,
        or CSAT as % of ``responses``), ``ci_low`` / ``ci_high`` and ``average_score`` (mean
        answer); the score columns are NaN where there are no answers."""
        rows = [{"part": "overall", "group": None, "period": None, **self.overall}]
        rows += [{"part": "group", "period": None, **g} for g in self.groups]
        rows += [{"part": "trend", "group": None, **t} for t in self.trend]
        frame = pd.DataFrame(rows, columns=["part", "group", "period", *_STAT_COLUMNS])
        return frame.astype({c: "int64" for c in ("responses", "positive", "neutral", "negative")})

    def to_dict(self) -> dict[str, Any]:
        """``metric``, ``confidence``, ``interval``, ``overall`` / ``groups`` / ``trend`` (the
        rows of ``to_frame``; ``period`` as ISO-8601; NaN as null), ``invitations``,
        ``response_rate`` and ``warnings``."""
        return {
            "metric": self.metric,
            "confidence": self.confidence,
            "interval": self.interval,
            "overall": _json_row(self.overall),
            "groups": [_json_row(g) for g in self.groups],
            "trend": [_json_row(t) for t in self.trend],
            "invitations": self.invitations,
            "response_rate": self.response_rate,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """The trend with its confidence band; beside it, bars per group with error bars."""
        name = "NPS" if self.metric == "nps" else "CSAT %"
        cols = 2 if self.groups else 1
        fig = make_subplots(rows=1, cols=cols, subplot_titles=[f"{name} trend", "By group"][:cols])
        x = [t["period"] for t in self.trend]
        upper = [t["ci_high"] for t in self.trend]
        lower = [t["ci_low"] for t in self.trend]
        fig.add_trace(go.Scatter(x=x, y=upper, line={"width": 0}, showlegend=False), 1, 1)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=lower,
                fill="tonexty",
                line={"width": 0},
                fillcolor="rgba(31,119,180,0.2)",
                name=f"{self.confidence:.0%} CI",
            ),
            1,
            1,
        )
        fig.add_trace(go.Scatter(x=x, y=[t["score"] for t in self.trend], name=name), 1, 1)
        if self.groups:
            scores = [g["score"] for g in self.groups]
            fig.add_trace(
                go.Bar(
                    x=[g["group"] for g in self.groups],
                    y=scores,
                    name=f"{name} by group",
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [_gap(g["ci_high"], g["score"]) for g in self.groups],
                        "arrayminus": [_gap(g["score"], g["ci_low"]) for g in self.groups],
                    },
                ),
                1,
                2,
            )
        fig.update_layout(title=f"{name}: {_fmt(self.overall['score'])} overall")
        return fig


def nps(events: ibis.Table, spec: NpsSpec) -> NpsResult:
    """NPS or CSAT with confidence intervals, overall, by a breakdown and per period.

    Answers are feedback events (``spec.source``) with a person, a score inside the metric's
    scale and, when they say which question type they answer (``question_type``), the spec's
    metric. Each answer counts once (several answers by one person all count).

    Returns:
        An :class:`NpsResult`. ``score``: NPS = % promoters − % detractors of ``responses``
        (points, −100…100), or CSAT = % of ``responses`` answering 4–5; ``response_rate`` =
        counted answers ÷ invitation events in the same range.

    >>> t = ibis.memtable({"person_id": list("abcd"), "event": ["Survey Responded"] * 4,
    ...     "timestamp": ["2024-01-01"] * 4, "channel": [None] * 4, "stage": [None] * 4,
    ...     "session_id": [None] * 4, "message_id": list("1234"),
    ...     "properties": ['{"nps": %d}' % s for s in (10, 9, 7, 3)]})
    >>> t = t.cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> nps(t, NpsSpec()).overall["score"]
    25.0
    """
    if spec.breakdown:
        events = with_property(events, "_jl_group", spec.breakdown, spec.breakdown_source)
    keep = ("_jl_group",) if spec.breakdown else ()
    rows = feedback_table(events, spec.source, keep=keep)
    rows = rows.filter(rows.person_id.notnull() & rows.timestamp.notnull())
    rows = _in_scope(rows, spec)
    rows = rows.filter(rows.question_type.isnull() | (rows.question_type == spec.metric))
    low, high, top, bottom = _SCALE[spec.metric]
    score = rows.rating
    valid = score.notnull() & (score >= low) & (score <= high)
    group = rows._jl_group.fill_null(_NONE) if spec.breakdown else ibis.literal(_NONE)
    cells = rows.group_by(
        group=group, period=period_number(rows.timestamp, spec.interval)
    ).aggregate(
        responses=valid.sum(),
        positive=(valid & (score >= top)).sum(),
        negative=(valid & (score <= bottom)).sum(),
        total=ibis.ifelse(valid, score, 0.0).sum(),
        invalid=(~valid).sum(),
    )
    found = [
        {k: (v if k in ("group", "period") else (v or 0)) for k, v in cell.items()}
        for cell in cells.to_pyarrow().to_pylist()
    ]
    invitations = _invitations(events, spec)
    return _result(spec, found, invitations)


def _in_scope(rows: ibis.Table, spec: NpsSpec) -> ibis.Table:
    if spec.survey_id is not None:
        rows = rows.filter(rows.survey_id == spec.survey_id)
    if spec.question_id is not None:
        rows = rows.filter(rows.question_id == spec.question_id)
    return _in_range(rows, spec)


def _in_range(rows: ibis.Table, spec: NpsSpec) -> ibis.Table:
    if spec.date_from is not None:
        rows = rows.filter(rows.timestamp >= spec.date_from)
    if spec.date_to is not None:
        rows = rows.filter(rows.timestamp <= spec.date_to)
    return rows


def _invitations(events: ibis.Table, spec: NpsSpec) -> int:
    sent = feedback_table(events, FeedbackSource(events=spec.invitation_events))
    sent = sent.filter(sent.person_id.notnull() & sent.timestamp.notnull())
    if spec.survey_id is not None:
        sent = sent.filter(sent.survey_id == spec.survey_id)
    return int(_in_range(sent, spec).count().to_pyarrow().as_py())


def _result(spec: NpsSpec, cells: list[dict[str, Any]], invitations: int) -> NpsResult:
    z = float(stats.norm.ppf(0.5 + spec.confidence / 2))
    warnings: list[AnalysisWarning] = []
    overall = _statistics(spec.metric, cells, z)
    invalid = sum(c["invalid"] for c in cells)
    if invalid:
        low, high, _, _ = _SCALE[spec.metric]
        warnings.append(
            AnalysisWarning(
                "OUT_OF_SCALE",
                f"{invalid} answers had no score or one outside {low:g}–{high:g} and were "
                "not counted.",
            )
        )
    if overall["responses"] == 0:
        warnings.append(AnalysisWarning("NO_RESPONSES", "No answers match the spec."))
    elif overall["responses"] < _SMALL:
        warnings.append(
            AnalysisWarning(
                "SMALL_SAMPLE",
                f"Only {overall['responses']} answers: the interval is wide and, when every "
                "answer falls in one class, too narrow to trust.",
            )
        )
    groups = _groups(spec, cells, z, warnings)
    trend = _trend(spec, cells, z)
    rate = None
    if invitations:
        rate = overall["responses"] / invitations
    else:
        warnings.append(
            AnalysisWarning(
                "NO_INVITATIONS",
                f"No invitation events ({', '.join(spec.invitation_events)}): the response "
                "rate is unknown.",
            )
        )
    return NpsResult(
        metric=spec.metric,
        confidence=spec.confidence,
        overall=overall,
        groups=groups,
        trend=trend,
        invitations=invitations or None,
        response_rate=rate,
        interval=spec.interval,
        warnings=tuple(warnings),
    )


def _groups(
    spec: NpsSpec, cells: list[dict[str, Any]], z: float, warnings: list[AnalysisWarning]
) -> tuple[dict[str, Any], ...]:
    if not spec.breakdown:
        return ()
    names = sorted({c["group"] for c in cells})
    rows = [
        {"group": name, **_statistics(spec.metric, [c for c in cells if c["group"] == name], z)}
        for name in names
    ]
    rows = [r for r in rows if r["responses"] > 0]
    rows.sort(key=lambda r: (-r["responses"], r["group"]))
    if len(rows) <= spec.max_groups:
        return tuple(rows)
    kept = {r["group"] for r in rows[: spec.max_groups]}
    rest = [c for c in cells if c["group"] not in kept]
    warnings.append(
        AnalysisWarning(
            "OTHER_GROUPS",
            f"{len(rows) - spec.max_groups} smaller groups are summed in '(other)'.",
        )
    )
    return (*rows[: spec.max_groups], {"group": "(other)", **_statistics(spec.metric, rest, z)})


def _trend(spec: NpsSpec, cells: list[dict[str, Any]], z: float) -> tuple[dict[str, Any], ...]:
    numbers = [c["period"] for c in cells if c["responses"] > 0]
    if not numbers:
        return ()
    first = number_of(spec.date_from, spec.interval) if spec.date_from else min(numbers)
    last = number_of(spec.date_to, spec.interval) if spec.date_to else max(numbers)
    return tuple(
        {
            "period": start_of(n, spec.interval),
            **_statistics(spec.metric, [c for c in cells if c["period"] == n], z),
        }
        for n in range(first, last + 1)
    )


def _statistics(metric: Metric, cells: list[dict[str, Any]], z: float) -> dict[str, Any]:
    """The sums of ``cells`` and the score with its interval (see the module docstring)."""
    n = int(sum(c["responses"] for c in cells))
    pos = int(sum(c["positive"] for c in cells))
    neg = int(sum(c["negative"] for c in cells))
    total = float(sum(c["total"] for c in cells))
    row: dict[str, Any] = {"responses": n, "positive": pos, "neutral": n - pos - neg}
    row["negative"] = neg
    if n == 0:
        return row | dict.fromkeys(("score", "ci_low", "ci_high", "average_score"), math.nan)
    p, d = pos / n, neg / n
    if metric == "nps":
        score = 100 * (p - d)
        half = 100 * z * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        low, high = max(score - half, -100.0), min(score + half, 100.0)
    else:
        score = 100 * p
        low, high = (100 * b for b in _wilson(p, n, z))
    return row | {"score": score, "ci_low": low, "ci_high": high, "average_score": total / n}


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` of ``n``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, float) and math.isnan(value):
            value = None
        out[key] = value
    return out


def _gap(a: float, b: float) -> float | None:
    return None if math.isnan(a) or math.isnan(b) else a - b


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


register(
    Analysis(
        name="nps",
        spec=NpsSpec,
        run=nps,
        title="NPS and CSAT",
        summary="How many customers would recommend us (NPS) or are satisfied (CSAT), with a "
        "confidence interval, by group and over time.",
        example={"metric": "nps", "breakdown": "channel", "interval": "week"},
    )
)
