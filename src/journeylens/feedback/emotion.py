"""Emotion on the journey: how customers feel at each stage, in each channel, after each
touchpoint — where they feel good and where they are frustrated.

The rules, for feedback said in ``(as_of − since, as_of]`` (all feedback up to ``as_of`` when
``since`` is not set; ``as_of`` defaults to the latest event):

- Only feedback from persons counts (a row without ``person_id`` has no journey).
- **Touchpoint** of a piece of feedback: the person's last event at or before it (ordered by
  ``timestamp``, then ``message_id``) that is a track, page or screen event and not itself
  feedback (``source.events``): the moment the customer was reacting to. Found in the engine
  with one window over each person's events, so it runs the same on DuckDB and Spark.
- **Stage** of a piece of feedback is its touchpoint's stage, not the feedback event's own:
  enrichment puts every survey answer in "advocacy" whatever the answer is about, while the
  touchpoint says where in the journey the person stood. **Channel** is the feedback event's
  own channel (where it was said).
- Per stage, channel and touchpoint: the count, the mean sentiment score with a t confidence
  interval, and the shares of negative and positive texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from pydantic import Field
from scipy import stats

from journeylens.analysis.base import AnalysisWarning, DurationField, Result, Spec
from journeylens.analysis.path_cleaning import json_records
from journeylens.analysis.registry import Analysis, register
from journeylens.analysis.segments import as_of_or_latest, iso
from journeylens.feedback.scored import feedback_in_window, with_sentiment
from journeylens.feedback.source import FeedbackSource
from journeylens.schema import STAGES

__all__ = ["EmotionResult", "EmotionSpec", "emotion", "with_touchpoints"]

#: The breakdowns, in the order the table lists them.
DIMENSIONS = ("stage", "channel", "touchpoint")
#: Message types that are something a person did (identify/alias/group only say who).
_ACTION_TYPES = ("track", "page", "screen")
_GROUP_COLUMNS = [
    "dimension",
    "value",
    "feedback",
    "persons",
    "mean_score",
    "ci_low",
    "ci_high",
    "negative_share",
    "positive_share",
]


class EmotionSpec(Spec):
    """Emotion-on-the-journey settings.

    >>> EmotionSpec(since="30d").since.days
    30
    """

    source: FeedbackSource = FeedbackSource()
    as_of: datetime | None = None
    since: DurationField | None = None
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    top_touchpoints: int = Field(15, ge=1, le=100, description="touchpoints listed, most first")


@dataclass(frozen=True)
class EmotionResult(Result):
    """Sentiment by journey stage, channel and touchpoint (see :func:`emotion`)."""

    as_of: datetime | None
    confidence: float
    feedback: int
    persons: int
    groups: pd.DataFrame
    warnings: tuple[AnalysisWarning, ...] = ()

    def of(self, dimension: str) -> pd.DataFrame:
        """The rows of one breakdown (``stage``, ``channel`` or ``touchpoint``)."""
        rows = self.groups[self.groups.dimension == dimension]
        return rows.drop(columns="dimension").reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """One row per (dimension, value) (see ``groups`` in :func:`emotion`)."""
        return self.groups.copy()

    def to_dict(self) -> dict[str, Any]:
        """``as_of`` (ISO text), ``confidence``, ``feedback``, ``persons``, ``stages``,
        ``channels``, ``touchpoints`` (rows of each breakdown), ``warnings``; NaN → None."""
        return {
            "as_of": iso(self.as_of),
            "confidence": self.confidence,
            "feedback": self.feedback,
            "persons": self.persons,
            "stages": json_records(self.of("stage")),
            "channels": json_records(self.of("channel")),
            "touchpoints": json_records(self.of("touchpoint")),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """The emotion line over the stages in journey order (mean score with its interval),
        then the mean score per channel and per touchpoint."""
        fig = make_subplots(
            rows=1,
            cols=3,
            column_widths=[0.5, 0.25, 0.25],
            subplot_titles=("Emotion along the journey", "By channel", "By touchpoint"),
        )
        line = self.of("stage")
        fig.add_scatter(
            x=line.value,
            y=line.mean_score,
            mode="lines+markers+text",
            text=[f"n={n}" for n in line.feedback],
            textposition="top center",
            error_y={
                "type": "data",
                "array": line.ci_high - line.mean_score,
                "arrayminus": line.mean_score - line.ci_low,
            },
            marker={"color": line.mean_score, "colorscale": "RdYlGn", "cmin": -1, "cmax": 1},
            name="mean sentiment",
            connectgaps=True,
            row=1,
            col=1,
        )
        for col, dimension in ((2, "channel"), (3, "touchpoint")):
            rows = self.of(dimension)
            fig.add_bar(
                y=rows.value,
                x=rows.mean_score,
                orientation="h",
                marker={"color": rows.mean_score, "colorscale": "RdYlGn", "cmin": -1, "cmax": 1},
                name=dimension,
                row=1,
                col=col,
            )
            fig.update_yaxes(autorange="reversed", row=1, col=col)
        fig.update_yaxes(range=[-1, 1], title_text="mean sentiment (−1 … 1)", row=1, col=1)
        fig.add_hline(y=0, line_dash="dot", line_color="grey", row=1, col=1)
        fig.update_layout(title="Emotion on the journey", showlegend=False)
        return fig


def with_touchpoints(
    events: ibis.Table, feedback: ibis.Table, source: FeedbackSource
) -> ibis.Table:
    """Each feedback row with the person's touchpoint (rules in the module docstring).

    Args:
        events: the events table; ``feedback``: rows of ``feedback_table`` (``message_id``,
            ``person_id``, …) from those events; ``source``: which events are feedback.

    Returns:
        ``feedback``'s rows with a person, with ``touchpoint`` (the touchpoint's event name),
        ``touchpoint_at`` (its timestamp) and ``touchpoint_stage`` (its stage); all three
        null when the person did nothing before the feedback.

    >>> ev = ibis.memtable({"message_id": ["1", "2"], "person_id": ["p", "p"],
    ...     "type": ["track", "track"], "event": ["Order Completed", "chat_message"],
    ...     "timestamp": ["2024-01-01", "2024-01-02"], "stage": ["purchase", "advocacy"],
    ...     "channel": [None, None], "session_id": [None, None],
    ...     "properties": ["{}", '{"text": "late"}']})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"),
    ...     properties=ev.properties.cast("json"))
    >>> from journeylens.feedback.source import feedback_table
    >>> src = FeedbackSource()
    >>> with_touchpoints(ev, feedback_table(ev, src), src).touchpoint.execute().tolist()
    ['Order Completed']
    """
    acts = events.filter(events.person_id.notnull() & events.type.isin(_ACTION_TYPES))
    is_feedback = acts.event.isin(source.events)
    order = [acts.timestamp, acts.message_id]
    numbered = acts.mutate(
        _jl_n=ibis.row_number().over(ibis.window(group_by=acts.person_id, order_by=order)),
        _jl_feedback=is_feedback,
    )
    # The touchpoint of a row is the highest-numbered non-feedback row up to it: a running max
    # over the person's rows of a number that is null on feedback rows.
    touch_n = ibis.ifelse(numbered._jl_feedback, ibis.null("int64"), numbered._jl_n)
    running = ibis.cumulative_window(
        group_by=numbered.person_id, order_by=[numbered.timestamp, numbered.message_id]
    )
    marked = numbered.mutate(_jl_touch=touch_n.max().over(running))
    said = marked.filter(marked._jl_feedback).select(
        _jl_id=marked.message_id, _jl_person=marked.person_id, _jl_touch=marked._jl_touch
    )
    touches = marked.filter(~marked._jl_feedback).select(
        _jl_tperson=marked.person_id,
        _jl_tn=marked._jl_n,
        touchpoint=marked.event,
        touchpoint_at=marked.timestamp,
        touchpoint_stage=marked.stage,
    )
    linked = said.left_join(
        touches, (said._jl_person == touches._jl_tperson) & (said._jl_touch == touches._jl_tn)
    ).select("_jl_id", "touchpoint", "touchpoint_at", "touchpoint_stage")
    persons = feedback.filter(feedback.person_id.notnull())
    out = persons.left_join(linked, persons.message_id == linked._jl_id)
    return out.drop("_jl_id")


def emotion(events: ibis.Table, spec: EmotionSpec) -> EmotionResult:
    """How customers feel along the journey (rules in the module docstring).

    Returns:
        EmotionResult with ``as_of``; ``confidence`` (level of the intervals); ``feedback``
        (texts with a sentiment from persons in the window) and ``persons`` (distinct persons
        who said them); ``groups``, one row per breakdown value: ``dimension`` (stage,
        channel or touchpoint); ``value`` (stage in journey order, all five listed even when
        empty; channels and the ``top_touchpoints`` touchpoints by feedback, most first;
        "(none)" for feedback without a channel or touchpoint); ``feedback`` (texts);
        ``persons``; ``mean_score`` (mean score in [-1, 1]; NaN without texts); ``ci_low`` /
        ``ci_high`` (t interval of the mean at ``confidence``; NaN under two texts);
        ``negative_share`` and ``positive_share`` (negative / positive texts ÷ ``feedback``).
        Warning ``NO_FEEDBACK`` when no person said anything in the window.

    >>> ev = ibis.memtable({"message_id": ["1"], "person_id": ["p"], "type": ["track"],
    ...     "event": ["x"], "timestamp": ["2024-01-01"], "stage": [None], "channel": [None],
    ...     "session_id": [None], "properties": ["{}"]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"),
    ...     properties=ev.properties.cast("json"))
    >>> r = emotion(ev, EmotionSpec())
    >>> [w.code for w in r.warnings], r.of("stage").value.tolist()[:2]
    (['NO_FEEDBACK'], ['awareness', 'consideration'])
    """
    as_of = as_of_or_latest(events, spec.as_of)
    after = None if as_of is None or spec.since is None else as_of - spec.since
    if as_of is not None:
        events = events.filter(events.timestamp <= ibis.literal(as_of, type="timestamp('UTC')"))
    rows = feedback_in_window(events, spec.source, after=after, until=as_of)
    linked = with_touchpoints(events, rows, spec.source)
    frame = linked.select(
        "message_id",
        "person_id",
        "text",
        "channel",
        "touchpoint",
        stage=linked.touchpoint_stage,
    ).execute()
    scored = with_sentiment(frame) if len(frame) else frame.assign(label=[], score=[])
    warnings: tuple[AnalysisWarning, ...] = ()
    if scored.empty:
        warnings = (AnalysisWarning("NO_FEEDBACK", "No person said anything in the window."),)
    groups = pd.concat(
        [
            _summary(scored, "stage", spec.confidence, order=list(STAGES)),
            _summary(scored, "channel", spec.confidence),
            _summary(scored, "touchpoint", spec.confidence).head(spec.top_touchpoints),
        ],
        ignore_index=True,
    )
    persons = int(scored.person_id.nunique()) if len(scored) else 0
    return EmotionResult(as_of, spec.confidence, len(scored), persons, groups, warnings)


def _summary(
    scored: pd.DataFrame, dimension: str, confidence: float, order: list[str] | None = None
) -> pd.DataFrame:
    """One row per value of ``dimension`` (see ``groups`` in :func:`emotion`)."""
    values = scored[dimension].astype(object).fillna("(none)")
    data = pd.DataFrame(
        {
            "value": values,
            "person_id": scored.person_id,
            "score": scored.score.astype("float64"),
            "negative": scored.label == "negative",
            "positive": scored.label == "positive",
        }
    )
    table = (
        data.groupby("value", sort=False)
        .agg(
            feedback=("score", "size"),
            persons=("person_id", "nunique"),
            mean_score=("score", "mean"),
            sd=("score", "std"),
            negative=("negative", "sum"),
            positive=("positive", "sum"),
        )
        .reset_index()
    )
    if order is not None:
        table = pd.DataFrame({"value": order}).merge(table, on="value", how="left")
        table[["feedback", "persons", "negative", "positive"]] = table[
            ["feedback", "persons", "negative", "positive"]
        ].fillna(0)
    else:
        table = table.sort_values(["feedback", "value"], ascending=[False, True])
    n = table.feedback.astype("float64")
    quantile = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
    half = np.where(n >= 2, quantile * table.sd / np.sqrt(n), np.nan)
    table["ci_low"] = table.mean_score - half
    table["ci_high"] = table.mean_score + half
    table["negative_share"] = table.negative / n.where(n > 0)
    table["positive_share"] = table.positive / n.where(n > 0)
    table["dimension"] = dimension
    table = table.astype({"feedback": "int64", "persons": "int64"})
    return table[_GROUP_COLUMNS].reset_index(drop=True)


register(
    Analysis(
        name="emotion",
        spec=EmotionSpec,
        run=emotion,
        title="Emotion on the journey",
        summary="How customers feel at each journey stage, in each channel and after each "
        "touchpoint, with confidence intervals.",
        example={"since": "30d"},
    )
)
