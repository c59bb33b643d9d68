"""Emotion on the journey: touchpoints found in the engine, sentiment by stage, channel and
touchpoint, and the planted unhappiness of fading churners recovered."""

from __future__ import annotations

import json

import pandas as pd
import pydantic
import pytest

import journeylens as jl
from journeylens.feedback.emotion import EmotionSpec, emotion, with_touchpoints
from journeylens.feedback.source import FeedbackSource, feedback_table
from journeylens.schema import STAGES

HAPPY = "Really happy with the delivery, thank you!"
ANGRY = "Very disappointed with the delivery."

ROWS = [
    {"person": "a", "type": "page", "event": "Home", "ts": 0, "stage": "awareness"},
    {"person": "a", "event": "Product Viewed", "ts": 10, "stage": "consideration"},
    {"person": "a", "type": "identify", "ts": 15, "traits": {"plan": "pro"}},
    {
        "person": "a",
        "event": "Feedback Submitted",
        "ts": 20,
        "stage": "awareness",
        "channel": "Direct",
        "properties": {"text": ANGRY},
    },
    {"person": "a", "event": "Order Completed", "ts": 30, "stage": "purchase"},
    # A second feedback right after the first looks past it, to the order.
    {"person": "a", "event": "Survey Responded", "ts": 40, "properties": {"text": HAPPY}},
    # Nothing before it: no touchpoint.
    {"person": "b", "event": "chat_message", "ts": 5, "properties": {"text": ANGRY}},
    # Same instant: the touchpoint is the event with the lower message id.
    {"person": "c", "event": "Cart Viewed", "ts": 50, "stage": "consideration"},
    {"person": "c", "event": "Feedback Submitted", "ts": 50, "properties": {"text": ANGRY}},
    {"person": "c", "event": "Order Refunded", "ts": 51, "stage": "retention"},
    # Not a person: left out.
    {"event": "Feedback Submitted", "ts": 60, "properties": {"text": HAPPY}},
]
EXPECTED_TOUCHPOINTS = {
    "m00003": ("Product Viewed", "consideration"),
    "m00005": ("Order Completed", "purchase"),
    "m00006": (None, None),
    "m00008": ("Cart Viewed", "consideration"),
}


def touchpoints(events) -> dict[str, tuple]:
    src = FeedbackSource()
    frame = with_touchpoints(events, feedback_table(events, src), src).execute()
    return {
        row.message_id: (
            None if pd.isna(row.touchpoint) else row.touchpoint,
            None if pd.isna(row.touchpoint_stage) else row.touchpoint_stage,
        )
        for row in frame.itertuples()
    }


def test_the_touchpoint_is_the_last_non_feedback_action_before_the_feedback(make_events):
    assert touchpoints(make_events(ROWS)) == EXPECTED_TOUCHPOINTS


def test_sentiment_is_grouped_by_the_touchpoints_stage_and_the_feedbacks_channel(make_events):
    result = emotion(make_events(ROWS), EmotionSpec())
    assert (result.feedback, result.persons) == (4, 3)
    stages = result.of("stage").set_index("value")
    assert list(stages.index) == list(STAGES)
    assert stages.feedback.to_dict() == {
        "awareness": 0,
        "consideration": 2,
        "purchase": 1,
        "retention": 0,
        "advocacy": 0,
    }
    assert stages.loc["consideration", "negative_share"] == 1.0
    assert stages.loc["purchase", "positive_share"] == 1.0
    assert stages.loc["consideration", "mean_score"] < 0 < stages.loc["purchase", "mean_score"]
    channels = result.of("channel").set_index("value").feedback.to_dict()
    assert channels == {"(none)": 3, "Direct": 1}
    touch = result.of("touchpoint").set_index("value").feedback.to_dict()
    assert touch == {"(none)": 1, "Cart Viewed": 1, "Order Completed": 1, "Product Viewed": 1}
    # Two texts make an interval; one does not.
    assert stages.loc["consideration", "ci_low"] <= stages.loc["consideration", "mean_score"]
    assert pd.isna(stages.loc["purchase", "ci_low"])
    document = json.loads(json.dumps(result.to_dict()))
    assert document["stages"][0] == {
        "value": "awareness",
        "feedback": 0,
        "persons": 0,
        "mean_score": None,
        "ci_low": None,
        "ci_high": None,
        "negative_share": None,
        "positive_share": None,
    }
    assert len(result.figure().data) == 3


def test_since_and_as_of_keep_to_the_window(make_events):
    result = emotion(make_events(ROWS), EmotionSpec(as_of="2024-01-01T00:00:45Z", since="20s"))
    assert result.feedback == 1  # only the survey answer at 40 s


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    result = emotion(make_events([]), EmotionSpec())
    assert [w.code for w in result.warnings] == ["NO_FEEDBACK"]
    assert result.feedback == 0
    assert result.of("stage").feedback.tolist() == [0] * 5
    assert json.loads(json.dumps(result.to_dict()))["channels"] == []
    result.figure()


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"confidence": 1.2}, "confidence"),
        ({"top_touchpoints": 0}, "top_touchpoints"),
        ({"since": "soon"}, "since"),
        ({"mood": "sad"}, "mood"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(spec, field):
    with pytest.raises(pydantic.ValidationError, match=field):
        EmotionSpec(**spec)


@pytest.mark.spark
def test_emotion_on_spark_equals_emotion_on_duckdb(make_events, make_spark_events):
    # The touchpoint and stage breakdowns carry the window's work; as_of saves a query.
    spec = EmotionSpec(as_of="2024-01-01T00:01:00Z")
    on_duckdb = emotion(make_events(ROWS), spec)
    on_spark = emotion(make_spark_events(ROWS), spec)
    pd.testing.assert_frame_equal(on_spark.groups, on_duckdb.groups)


@pytest.fixture(scope="module")
def fading_shop():
    """60 days of 3,000 customers whose churners complain in their last two weeks."""
    sim = jl.simulate(3_000, 60, seed=3, churn_warning_days=14)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    return sim, ws.events()


def test_the_planted_sentiment_by_stage_is_recovered(fading_shop):
    sim, events = fading_shop
    result = emotion(events, EmotionSpec())
    ours = result.of("stage").set_index("value")
    src = FeedbackSource()
    linked = with_touchpoints(events, feedback_table(events, src), src)
    staged = linked.select("message_id", stage=linked.touchpoint_stage).execute()
    truth = staged.merge(sim.truth.feedback.to_pandas(), on="message_id")
    true_negative = (truth.sentiment == "negative").groupby(truth.stage).mean()
    counted = ours[ours.feedback >= 30]
    assert {"awareness", "consideration", "purchase"} <= set(counted.index)
    for stage, row in counted.iterrows():
        assert row.negative_share == pytest.approx(true_negative[stage], abs=0.1), stage
    # Fading churners complain while browsing; buyers speak after their order, mostly happy.
    assert ours.loc["purchase", "mean_score"] > ours.loc["awareness", "ci_high"]
    assert ours.loc["purchase", "mean_score"] > ours.loc["consideration", "ci_high"]
