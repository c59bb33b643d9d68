"""Frequent issues: what customers talk about, what is growing, and the worst complaints.

The rules, all as of ``as_of`` (default: the latest event):

- **Window.** With ``period`` set, this period is ``(as_of − period, as_of]`` and the last one
  the ``period`` before it; without, the feedback from the first text to ``as_of`` is split in
  two halves at its midpoint. Topics are found over both periods together.
- **Topics** are found within each sentiment (the model's label of each text), so praise and
  complaints about delivery are two topics; how texts are grouped, named and quoted is in
  :mod:`~journeylens.feedback.topic_model`. Topic ids read ``negative-1`` (the most said
  complaint), ``positive-2``…
- **Growing** items are found by the weighted log-odds ratio with an informative Dirichlet prior
  (:mod:`~journeylens.feedback.log_odds`) of this period against the last: per topic (texts per
  topic, over every topic) and per term (occurrences).
- **Complaint weight** of a topic = Σ over its texts of max(0, −score), i.e. volume × mean
  negativity, where a text's negativity is how far its score lies below 0 (0 for a neutral or
  positive text). Complaints (negative topics) are ranked by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, DurationField, Result, Spec
from journeylens.analysis.path_cleaning import json_records
from journeylens.analysis.registry import Analysis, register
from journeylens.analysis.segments import as_of_or_latest, iso
from journeylens.errors import UnknownNameError
from journeylens.feedback.embed import embed
from journeylens.feedback.log_odds import log_odds
from journeylens.feedback.scored import feedback_in_window, with_sentiment
from journeylens.feedback.source import FeedbackSource
from journeylens.feedback.tokens import extract_terms
from journeylens.feedback.topic_model import (
    aspect_weights,
    cluster_texts,
    distinctive_terms,
    text_vectors,
)

__all__ = ["TopicsResult", "TopicsSpec", "topic_members", "topics"]

_SENTIMENTS = ("negative", "neutral", "positive")
_COLOURS = {"negative": "#d62728", "neutral": "#7f7f7f", "positive": "#2ca02c"}
_TOPIC_COLUMNS = [
    "topic_id",
    "sentiment",
    "name",
    "terms",
    "texts",
    "share",
    "persons",
    "mean_score",
    "complaint_weight",
    "complaint_rank",
    "current",
    "previous",
    "log_odds",
    "z",
    "p_value",
    "growing",
    "examples",
]
_MEMBER_COLUMNS = [
    "message_id",
    "person_id",
    "timestamp",
    "text",
    "language",
    "label",
    "score",
    "topic_id",
    "period",
]
_TERM_COLUMNS = ["term", "current", "previous", "log_odds", "z", "p_value", "growing"]


class TopicsSpec(Spec):
    """Frequent-issue settings.

    >>> TopicsSpec(period="14d", max_topics=5).period.days
    14
    """

    source: FeedbackSource = FeedbackSource()
    as_of: datetime | None = None
    period: DurationField | None = None
    max_topics: int = Field(8, ge=1, le=30, description="most topics per sentiment")
    terms_per_topic: int = Field(5, ge=1, le=20)
    examples: int = Field(3, ge=1, le=10, description="quotes per topic")
    min_term_count: int = Field(3, ge=1, description="terms said fewer times are not listed")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="significance level of growth")
    seed: int = Field(0, ge=0)


@dataclass(frozen=True)
class TopicsResult(Result):
    """Topics per sentiment, their growth, the ranked complaints and who said what (see
    :func:`topics`)."""

    as_of: datetime | None
    window_start: datetime | None
    split: datetime | None
    texts: int
    persons: int
    topics: pd.DataFrame
    terms: pd.DataFrame
    members: pd.DataFrame
    warnings: tuple[AnalysisWarning, ...] = ()

    @property
    def complaints(self) -> pd.DataFrame:
        """The negative topics, highest complaint weight first."""
        rows = self.topics[self.topics.sentiment == "negative"]
        return rows.sort_values("complaint_rank").reset_index(drop=True)

    @property
    def growing_complaints(self) -> pd.DataFrame:
        """The negative topics said significantly more this period, fastest growing first."""
        rows = self.topics[(self.topics.sentiment == "negative") & self.topics.growing]
        return rows.sort_values(["z", "topic_id"], ascending=[False, True]).reset_index(drop=True)

    def members_of(self, topic_id: str) -> pd.DataFrame:
        """The texts of one topic with who said them (``members`` rows, newest first)."""
        if topic_id not in set(self.topics.topic_id):
            raise UnknownNameError("topic", topic_id, self.topics.topic_id)
        rows = self.members[self.members.topic_id == topic_id]
        return rows.sort_values(["timestamp", "message_id"], ascending=False).reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """One row per topic (see ``topics`` in :func:`topics`)."""
        return self.topics.copy()

    def to_dict(self) -> dict[str, Any]:
        """``as_of``, ``window_start``, ``split`` (ISO text), ``texts``, ``persons``,
        ``topics`` (rows of ``topics``), ``growing_complaints`` (their topic ids in order),
        ``terms`` (rows of ``terms``), ``warnings``; NaN becomes None. Members are left out
        (use :func:`topic_members`)."""
        return {
            "as_of": iso(self.as_of),
            "window_start": iso(self.window_start),
            "split": iso(self.split),
            "texts": self.texts,
            "persons": self.persons,
            "topics": json_records(self.topics),
            "growing_complaints": list(self.growing_complaints.topic_id),
            "terms": json_records(self.terms),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Left: texts per topic, coloured by sentiment; right: the fastest growing terms (z)."""
        fig = make_subplots(
            rows=1, cols=2, subplot_titles=("Topics by sentiment", "Growing terms (z)")
        )
        for sentiment in _SENTIMENTS:
            rows = self.topics[self.topics.sentiment == sentiment]
            fig.add_bar(
                y=[f"{t} · {n}" for t, n in zip(rows.topic_id, rows.name, strict=True)],
                x=rows.texts,
                orientation="h",
                name=sentiment,
                marker_color=_COLOURS[sentiment],
                row=1,
                col=1,
            )
        growing = self.terms[self.terms.growing].head(15)
        fig.add_bar(
            y=growing.term,
            x=growing.z,
            orientation="h",
            name="growing terms",
            marker_color="#ff7f0e",
            row=1,
            col=2,
        )
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(title="Frequent issues", height=max(400, 28 * len(self.topics)))
        return fig


def topics(events: ibis.Table, spec: TopicsSpec) -> TopicsResult:
    """The frequent issues in the feedback (rules in the module docstring).

    Returns:
        TopicsResult with ``as_of``; ``window_start`` (exclusive) and ``split`` (the last
        period is ``(window_start, split]``, this one ``(split, as_of]``); ``texts`` (feedback
        texts with a sentiment in the window) and ``persons`` (distinct non-null persons who
        wrote them);
        ``topics``, one row per topic, complaints first, each sentiment by texts: ``topic_id``;
        ``sentiment``; ``name`` (top three terms joined by " · ", "(no terms)" for texts
        without any); ``terms`` (top
        ``terms_per_topic`` by class-based TF-IDF); ``texts``; ``share`` (texts / ``texts``
        of the result); ``persons``; ``mean_score`` (mean sentiment score, in [-1, 1]);
        ``complaint_weight`` (Σ max(0, −score)); ``complaint_rank`` (1 = heaviest complaint;
        null for non-negative topics); ``current`` / ``previous`` (texts in this / the last
        period); ``log_odds``, ``z``, ``p_value``, ``growing`` (topic growth, see
        :func:`~journeylens.feedback.log_odds.log_odds`); ``examples`` (up to ``examples``
        distinct texts nearest the topic's centre);
        ``terms``: one row per term said at least ``min_term_count`` times, fastest growing
        first: ``term``, ``current``, ``previous`` (occurrences), ``log_odds``, ``z``,
        ``p_value``, ``growing``;
        ``members``: one row per text: ``message_id``, ``person_id``, ``timestamp``, ``text``,
        ``language``, ``label``, ``score``, ``topic_id``, ``period`` (current|previous).
        Warnings: ``NO_FEEDBACK`` (no text in the window), ``NO_PREVIOUS_PERIOD`` (nothing
        said in the last period: nothing can be called growing).

    >>> ev = ibis.memtable({"message_id": ["1"], "person_id": ["p"], "event": ["x"],
    ...     "timestamp": ["2024-01-01"], "channel": [None], "stage": [None],
    ...     "session_id": [None], "properties": ["{}"]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"),
    ...     properties=ev.properties.cast("json"))
    >>> [w.code for w in topics(ev, TopicsSpec()).warnings]
    ['NO_FEEDBACK']
    """
    as_of = as_of_or_latest(events, spec.as_of)
    window_start, split = _window(spec, as_of)
    rows = feedback_in_window(events, spec.source, after=window_start, until=as_of)
    frame = rows.select("message_id", "person_id", "timestamp", "text").execute()
    # Engines return rows in any order; clustering and its quotes must not depend on it.
    frame = frame.sort_values(["timestamp", "message_id"], ignore_index=True)
    if window_start is None and len(frame):
        # The open window starts just before the first text, so that text is in the last period.
        window_start = pd.Timestamp(frame.timestamp.min()).to_pydatetime() - timedelta(
            microseconds=1
        )
        split = window_start + (as_of - window_start) / 2
    scored = with_sentiment(frame) if len(frame) else frame
    if scored.empty:
        warning = AnalysisWarning("NO_FEEDBACK", "No feedback text was said in the window.")
        return _empty(as_of, window_start, split, (warning,))
    scored["timestamp"] = pd.to_datetime(scored.timestamp, utc=True)
    scored["period"] = np.where(scored.timestamp > pd.Timestamp(split), "current", "previous")
    terms = extract_terms(scored.text)
    scored["topic_id"], examples = _assign_topics(scored, terms, spec)
    names = distinctive_terms(terms, list(scored.topic_id), spec.terms_per_topic)
    table = _topic_table(scored, names, examples, spec.alpha)
    warnings: tuple[AnalysisWarning, ...] = ()
    if not (scored.period == "previous").any():
        warnings = (
            AnalysisWarning(
                "NO_PREVIOUS_PERIOD",
                "Nothing was said in the last period, so no topic or term can be called growing.",
            ),
        )
    return TopicsResult(
        as_of,
        window_start,
        split,
        len(scored),
        int(scored.person_id.dropna().nunique()),
        table,
        _term_table(scored, terms, spec),
        scored[_MEMBER_COLUMNS].copy(),
        warnings,
    )


def topic_members(events: ibis.Table, spec: TopicsSpec, topic_id: str) -> pd.DataFrame:
    """Drill into one topic: its texts and who said them.

    Returns:
        ``TopicsResult.members`` rows of ``topic_id`` (``message_id``, ``person_id``,
        ``timestamp``, ``text``, ``language``, ``label``, ``score``, ``topic_id``, ``period``),
        newest first. An unknown ``topic_id`` raises ``UnknownNameError``. Embeddings are
        cached, so running the analysis again costs the clustering, not the model.
    """
    return topics(events, spec).members_of(topic_id)


def _window(spec: TopicsSpec, as_of: datetime | None) -> tuple[datetime | None, datetime | None]:
    if as_of is None or spec.period is None:
        return None, None
    return as_of - 2 * spec.period, as_of - spec.period


def _assign_topics(
    scored: pd.DataFrame, terms: list[list[str]], spec: TopicsSpec
) -> tuple[list[str], dict[str, list[str]]]:
    """Topic id of each text and the example quotes of each topic."""
    weights = aspect_weights(terms, list(scored.label))
    topic_ids = np.empty(len(scored), dtype=object)
    examples: dict[str, list[str]] = {}
    for sentiment in _SENTIMENTS:
        at = np.flatnonzero(scored.label.to_numpy() == sentiment)
        if not len(at):
            continue
        texts = list(scored.text.iloc[at])
        vectors = text_vectors([terms[i] for i in at], texts, weights, embed)
        clusters = cluster_texts(vectors, texts, max_topics=spec.max_topics, seed=spec.seed)
        for k, centroid in enumerate(clusters.centroids):
            inside = np.flatnonzero(clusters.label == k)
            closeness = vectors[inside] @ centroid
            quotes = dict.fromkeys(texts[i] for i in inside[np.argsort(-closeness, kind="stable")])
            examples[f"{sentiment}-{k + 1}"] = list(quotes)[: spec.examples]
        topic_ids[at] = [f"{sentiment}-{k + 1}" for k in clusters.label]
    return list(topic_ids), examples


def _topic_table(
    scored: pd.DataFrame,
    names: dict[str, list[str]],
    examples: dict[str, list[str]],
    alpha: float,
) -> pd.DataFrame:
    scored = scored.assign(negativity=(-scored.score).clip(lower=0.0))
    grouped = scored.groupby("topic_id", sort=False)
    table = grouped.agg(
        sentiment=("label", "first"),
        texts=("text", "size"),
        persons=("person_id", "nunique"),
        mean_score=("score", "mean"),
        complaint_weight=("negativity", "sum"),
    ).reset_index()
    per_period = scored.groupby(["topic_id", "period"]).size().unstack(fill_value=0)
    per_period = per_period.reindex(columns=["current", "previous"], fill_value=0)
    growth = log_odds(per_period.current, per_period.previous, alpha=alpha)
    growth = growth.rename(columns={"item": "topic_id"}).drop(
        columns=["current_share", "previous_share", "significant"]
    )
    table = table.merge(growth, on="topic_id", how="left")
    table["terms"] = [names.get(t, []) for t in table.topic_id]
    table["name"] = [" · ".join(terms[:3]) or "(no terms)" for terms in table.terms]
    table["examples"] = [examples.get(t, []) for t in table.topic_id]
    table["share"] = table.texts / table.texts.sum()
    negative = table.sentiment == "negative"
    ranks = table.loc[negative, "complaint_weight"].rank(ascending=False, method="first")
    table["complaint_rank"] = ranks.astype("Int64").reindex(table.index)
    table["_order"] = table.sentiment.map({s: i for i, s in enumerate(_SENTIMENTS)})
    table["_number"] = table.topic_id.str.rsplit("-", n=1).str[1].astype(int)
    table = table.sort_values(["_order", "_number"]).reset_index(drop=True)
    return table[_TOPIC_COLUMNS]


def _term_table(scored: pd.DataFrame, terms: list[list[str]], spec: TopicsSpec) -> pd.DataFrame:
    counts = {
        period: pd.Series(
            [t for text, p in zip(terms, scored.period, strict=True) if p == period for t in text],
            dtype=object,
        ).value_counts()
        for period in ("current", "previous")
    }
    table = log_odds(counts["current"], counts["previous"], alpha=spec.alpha).rename(
        columns={"item": "term"}
    )
    table = table[table.current + table.previous >= spec.min_term_count]
    return table[_TERM_COLUMNS].reset_index(drop=True)


def _empty(as_of, window_start, split, warnings) -> TopicsResult:
    def frame(columns: list[str]) -> pd.DataFrame:
        # Typed like a full result, so filters on the flag columns still work.
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return empty.astype({c: bool for c in ("growing",) if c in columns})

    return TopicsResult(
        as_of,
        window_start,
        split,
        0,
        0,
        frame(_TOPIC_COLUMNS),
        frame(_TERM_COLUMNS),
        frame(_MEMBER_COLUMNS),
        warnings,
    )


register(
    Analysis(
        name="topics",
        spec=TopicsSpec,
        run=topics,
        title="Frequent issues",
        summary="What customers talk about in each sentiment, what is growing, and the worst "
        "complaints with quotes.",
        example={"max_topics": 4, "examples": 2},
    )
)
