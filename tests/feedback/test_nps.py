"""NPS and CSAT match hand-computed figures, split by group and period, on DuckDB and Spark."""

from __future__ import annotations

import math

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.analysis.registry import get_analysis, parse_spec
from journeylens.errors import SpecError
from journeylens.feedback.drivers import DriversSpec, drivers
from journeylens.feedback.nps import NpsSpec, nps
from journeylens.feedback.source import feedback_table

NPS_SCORES = [10, 10, 9, 8, 7, 6, 5, 0, 9, 10]
CSAT_SCORES = [5, 4, 4, 3, 2, 1, 5, 4, 4, 3]
DAY = 86_400


def answers(scores, *, prop="score", event="survey_answered", **extra):
    return [
        {
            "person": f"p{i}",
            "event": event,
            "ts": i * DAY,
            "channel": "Email" if i % 2 else "Web",
            "properties": {prop: s, **extra},
        }
        for i, s in enumerate(scores)
    ]


def test_nps_and_its_interval_match_the_hand_computed_figures(make_events):
    # 5 promoters, 2 passives, 3 detractors of 10: NPS = 50 − 30 = 20; with p = .5, d = .3,
    # se = 100·sqrt((.8 − .2²)/10) = 27.568, and the 95% half-width is 1.95996 × 27.568.
    result = nps(make_events(answers(NPS_SCORES)), NpsSpec())
    o = result.overall
    assert (o["responses"], o["positive"], o["neutral"], o["negative"]) == (10, 5, 2, 3)
    assert o["score"] == pytest.approx(20.0)
    assert (o["ci_low"], o["ci_high"]) == pytest.approx((-34.03247823, 74.03247823))
    assert o["average_score"] == pytest.approx(7.4)


def test_csat_is_the_top_two_box_share_with_a_wilson_interval(make_events):
    # 6 of 10 answer 4–5; Wilson 95%: (0.312674, 0.831820), as statsmodels gives it.
    result = nps(make_events(answers(CSAT_SCORES)), NpsSpec(metric="csat"))
    o = result.overall
    assert (o["positive"], o["neutral"], o["negative"]) == (6, 2, 2)
    assert o["score"] == pytest.approx(60.0)
    assert (o["ci_low"], o["ci_high"]) == pytest.approx((31.267377, 83.181967))
    assert o["average_score"] == pytest.approx(3.5)


def test_a_breakdown_splits_the_answers_and_the_groups_add_up(make_events):
    result = nps(make_events(answers(NPS_SCORES)), NpsSpec(breakdown="channel"))
    groups = {g["group"]: g for g in result.groups}
    # Web: 10, 9, 7, 5, 9 -> 3 promoters, 1 detractor; Email: 10, 8, 6, 0, 10 -> 2 and 2.
    assert groups["Web"]["score"] == pytest.approx(40.0)
    assert groups["Email"]["score"] == pytest.approx(0.0)
    assert sum(g["responses"] for g in result.groups) == result.overall["responses"]


def test_the_trend_has_every_period_in_the_range_even_empty_ones(make_events):
    rows = [*answers([10, 0]), {**answers([9])[0], "ts": 20 * DAY, "person": "late"}]
    result = nps(make_events(rows), NpsSpec(interval="week"))
    assert [t["responses"] for t in result.trend] == [2, 0, 1]
    assert math.isnan(result.trend[1]["score"])
    assert result.to_dict()["trend"][1]["score"] is None
    assert result.to_dict()["trend"][0]["period"] == "2024-01-01T00:00:00+00:00"


def test_the_response_rate_divides_answers_by_invitations(make_events):
    sent = [
        {"person": f"p{i}", "event": "survey_sent", "ts": 0, "properties": {"survey_id": "s"}}
        for i in range(25)
    ]
    other = [{"person": "x", "event": "survey_sent", "ts": 0, "properties": {"survey_id": "t"}}]
    rows = answers(NPS_SCORES, survey_id="s") + sent + other
    result = nps(make_events(rows), NpsSpec(survey_id="s"))
    assert (result.invitations, result.response_rate) == (25, pytest.approx(0.4))
    without = nps(make_events(answers(NPS_SCORES)), NpsSpec())
    assert without.response_rate is None
    assert "NO_INVITATIONS" in [w.code for w in without.warnings]


def test_out_of_scale_and_other_question_types_are_not_counted(make_events):
    rows = answers([10, 11, "n/a"]) + answers([4], question_type="csat")
    rows += [{"event": "survey_answered", "ts": 0, "properties": {"score": 10}}]  # no person
    result = nps(make_events(rows), NpsSpec())
    assert result.overall["responses"] == 1
    assert [w.code for w in result.warnings][:2] == ["OUT_OF_SCALE", "SMALL_SAMPLE"]


def test_the_survey_question_and_date_filters_narrow_the_answers(make_events):
    rows = answers([10, 10], survey_id="a", question_id="q1")
    rows += answers([0], survey_id="b", question_id="q1")
    table = make_events(rows)
    assert nps(table, NpsSpec(survey_id="a")).overall["score"] == pytest.approx(100.0)
    assert nps(table, NpsSpec(question_id="q1")).overall["responses"] == 3
    spec = NpsSpec(date_from="2024-01-02", date_to="2024-01-03")
    assert nps(table, spec).overall["responses"] == 1


def test_nothing_matching_gives_an_empty_result_with_a_warning(make_events):
    result = nps(make_events(answers([9], event="other")), NpsSpec(breakdown="channel"))
    assert result.overall["responses"] == 0
    assert result.to_dict()["overall"]["score"] is None
    assert result.groups == result.trend == ()
    assert "NO_RESPONSES" in [w.code for w in result.warnings]
    result.figure()


def test_groups_beyond_the_limit_are_summed_in_other(make_events):
    result = nps(make_events(answers(NPS_SCORES)), NpsSpec(breakdown="person_id", max_groups=3))
    assert [g["group"] for g in result.groups][-1] == "(other)"
    assert sum(g["responses"] for g in result.groups) == 10
    assert "OTHER_GROUPS" in [w.code for w in result.warnings]


def test_the_result_has_a_table_a_document_and_a_figure(make_events):
    result = nps(make_events(answers(NPS_SCORES)), NpsSpec(breakdown="channel"))
    frame = result.to_frame()
    assert list(frame.part.unique()) == ["overall", "group", "trend"]
    assert frame.responses.dtype == "int64"
    fig = result.figure()
    assert [t.type for t in fig.data] == ["scatter", "scatter", "scatter", "bar"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"metric": "ces"}, "metric"),
        ({"confidence": 1.5}, "confidence"),
        ({"max_groups": 0}, "max_groups"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_from"),
        ({"source": {"events": []}}, "source.events"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(spec, field):
    with pytest.raises(SpecError, match=field.split(".")[0]):
        parse_spec("nps", spec)
    with pytest.raises(pydantic.ValidationError):
        NpsSpec.model_validate(spec)


def test_nps_is_registered_with_a_valid_example():
    analysis = get_analysis("nps")
    assert analysis.spec is NpsSpec
    NpsSpec.model_validate(analysis.example)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=40))
def test_nps_lies_in_its_interval_within_minus_and_plus_100(scores):
    from journeylens.feedback.nps import _statistics

    cell = {
        "responses": len(scores),
        "positive": sum(s >= 9 for s in scores),
        "negative": sum(s <= 6 for s in scores),
        "total": float(sum(scores)),
    }
    row = _statistics("nps", [cell], 1.96)
    assert -100 <= row["ci_low"] <= row["score"] <= row["ci_high"] <= 100
    assert row["positive"] + row["neutral"] + row["negative"] == len(scores)


@pytest.mark.spark
def test_spark_reads_the_same_feedback_and_gives_the_same_nps_and_drivers_as_duckdb(
    make_events, make_spark_events
):
    # p0 and p2 come back after the drivers' cut-off (day 5); p1 was sent the survey.
    back = [{"person": p, "event": "x", "ts": 7 * DAY} for p in ("p0", "p2")]
    rows = [*answers(NPS_SCORES, text="ok"), *back]
    rows.append({"person": "p1", "event": "survey_sent", "ts": 0})
    duck_events, spark_events = make_events(rows), make_spark_events(rows)
    duck_rows = _naive(feedback_table(duck_events).to_pyarrow().to_pylist())
    assert _naive(feedback_table(spark_events).to_pyarrow().to_pylist()) == duck_rows
    spec = NpsSpec(breakdown="channel", interval="day")
    assert nps(spark_events, spec).to_dict() == nps(duck_events, spec).to_dict()
    lens = DriversSpec(as_of="2024-01-06", window="3d", features=["visits", "channels_used"])
    duck, spark = drivers(duck_events, lens).to_dict(), drivers(spark_events, lens).to_dict()
    assert (duck["persons"], duck["positives"]) == (5, 3)
    for key in ("persons", "positives", "channels", "correlations", "warnings"):
        assert spark[key] == duck[key]


def _naive(rows):
    """Rows by message id; Spark hands timestamps back without a zone, so compare them naive."""
    rows = sorted(rows, key=lambda r: r["message_id"])
    return [{**r, "timestamp": r["timestamp"].replace(tzinfo=None)} for r in rows]
