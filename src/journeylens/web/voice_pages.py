"""The Voice of customer page: the NPS trend, how customers feel along the journey and the
frequent issues with quotes, each chart with its table and CSV.

The NPS trend comes from the registered ``nps`` analysis when one is registered; until then
the page says so in a note and shows the rest.
"""

from __future__ import annotations

import pandas as pd

from journeylens.analysis.base import Result
from journeylens.analysis.registry import analyses, run_analysis
from journeylens.feedback.emotion import EmotionSpec, emotion
from journeylens.feedback.topics import TopicsSpec, topics
from journeylens.web.pages import Page, Param, Params, page, spec_of
from journeylens.web.scope import Scope
from journeylens.web.views import Chart, Kpi, Table, View

__all__: list[str] = []

_NPS = "nps"


def _warnings(*results: Result) -> tuple[str, ...]:
    return tuple(f"{w.code}: {w.message}" for r in results for w in r.warnings)


def _issues(table: pd.DataFrame) -> pd.DataFrame:
    """The topics as the page lists them: quotes and terms as one line each."""
    shown = table.assign(
        terms=[", ".join(t) for t in table.terms],
        examples=[" | ".join(e) for e in table.examples],
    )
    columns = ["topic_id", "name", "texts", "persons", "mean_score", "complaint_weight"]
    return shown[[*columns, "complaint_rank", "current", "previous", "z", "growing", "examples"]]


def _voice(scope: Scope, params: Params) -> View:
    events = scope.events()
    felt = emotion(events, spec_of(EmotionSpec, {"since": params["since"]}, label="emotion"))
    issues = topics(
        events,
        spec_of(
            TopicsSpec,
            {"period": params["period"], "max_topics": params["max_topics"]},
            label="topics",
        ),
    )
    charts: list[Chart] = []
    tables: list[Table] = []
    notes: list[str] = []
    results: list[Result] = [felt, issues]
    if _NPS in {a.name for a in analyses()}:
        nps = run_analysis(_NPS, events, {})
        results.insert(0, nps)
        charts.append(Chart.of("NPS trend", nps.figure()))
        tables.append(Table("nps", "NPS by period", nps.to_frame()))
    else:
        notes.append("The NPS trend appears here once the nps analysis is installed.")
    charts += [
        Chart.of("Emotion along the journey", felt.figure()),
        Chart.of("Frequent issues", issues.figure()),
    ]
    complaints = _issues(issues.complaints)
    tables += [
        Table("emotion", "Sentiment by stage, channel and touchpoint", felt.to_frame()),
        Table("complaints", "Top complaints (volume × negativity) with quotes", complaints),
        Table("topics", "Every topic by sentiment", _issues(issues.topics)),
        Table("growing_terms", "Terms said more this period than the last", issues.terms),
    ]
    topic = str(params["topic"]) or (str(complaints.topic_id.iloc[0]) if len(complaints) else "")
    if topic:
        who = issues.members_of(topic)
        tables.append(Table("members", f"Who said {topic}", who))
    current = issues.members.period == "current"
    negative = issues.members.label == "negative"
    kpis = (
        Kpi("Feedback texts", float(current.sum()), float((~current).sum())),
        Kpi("Complaints", float((current & negative).sum()), float((~current & negative).sum())),
    )
    if issues.split is not None:
        notes.append(
            f"This period is after {issues.split:%Y-%m-%d %H:%M} UTC, against the period before."
        )
    return View(
        charts=tuple(charts),
        tables=tuple(tables),
        kpis=kpis if issues.texts else (),
        warnings=_warnings(*results),
        notes=tuple(notes),
        choices={"topic": tuple(issues.topics.topic_id)},
    )


page(
    Page(
        "voice",
        "Voice of customer",
        "What customers say: NPS, how they feel along the journey and the issues they raise.",
        (
            Param("since", "Feedback from the last", "", hint="blank: all, e.g. 30d"),
            Param("period", "Compare periods of", "", hint="blank: two halves, e.g. 14d"),
            Param("max_topics", "Topics per sentiment", "8", "number"),
            Param("topic", "Show who said", "", "choice"),
        ),
        _voice,
    )
)
