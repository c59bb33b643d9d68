"""Frequent issues: topics within each sentiment, named and quoted; growth by log-odds; the
planted growing complaint found first; complaints ranked and drillable to texts and persons."""

from __future__ import annotations

import json

import numpy as np
import pydantic
import pytest

import journeylens as jl
from journeylens.errors import UnknownNameError
from journeylens.feedback.topic_model import aspect_weights, cluster_texts, distinctive_terms
from journeylens.feedback.topics import TopicsSpec, topic_members, topics


@pytest.fixture(scope="module")
def shop():
    """60 days of 4,000 customers; complaints about delivery grow fourfold in the second half."""
    sim = jl.simulate(4_000, 60, seed=3, churn_warning_days=14, growing_topics={"delivery": 4.0})
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    events = ws.events()
    return sim, events, topics(events, TopicsSpec())


def true_topics(sim, members):
    truth = sim.truth.feedback.to_pandas()[["message_id", "topic"]]
    return members.merge(truth, on="message_id")


def test_the_planted_growing_complaint_is_a_topic_and_grows_fastest(shop):
    sim, _, result = shop
    growing = result.growing_complaints
    assert len(growing) >= 1
    top = growing.iloc[0]
    said = true_topics(sim, result.members_of(top.topic_id))
    assert (said.topic == "delivery").mean() > 0.9
    assert "delivery" in top.terms or "배송" in top.terms
    assert top.current > 2 * top.previous


def test_topics_are_about_the_planted_topics_and_quote_their_own_texts(shop):
    sim, _, result = shop
    said = true_topics(sim, result.members)
    # A text is placed well when its topic is mostly about the text's planted topic.
    majority = said.groupby("topic_id").topic.agg(lambda t: t.value_counts().index[0])
    assert (said.topic_id.map(majority) == said.topic).mean() > 0.9
    for row in result.topics.itertuples():
        members = set(result.members_of(row.topic_id).text)
        assert 1 <= len(row.examples) <= 3
        assert set(row.examples) <= members
        assert 1 <= len(row.terms) <= 5
    assert set(result.topics.sentiment) == {"negative", "neutral", "positive"}
    assert result.topics.texts.sum() == result.texts == len(result.members)


def test_complaints_are_ranked_by_volume_times_negativity(shop):
    _, _, result = shop
    complaints = result.complaints
    assert list(complaints.complaint_rank) == list(range(1, len(complaints) + 1))
    assert complaints.complaint_weight.is_monotonic_decreasing
    first = complaints.iloc[0]
    scores = result.members_of(first.topic_id).score
    assert first.complaint_weight == pytest.approx(np.clip(-scores, 0, None).sum())
    assert result.topics[result.topics.sentiment != "negative"].complaint_rank.isna().all()


def test_a_topic_drills_down_to_its_texts_and_persons(shop):
    _, events, result = shop
    topic = result.complaints.topic_id.iloc[0]
    who = topic_members(events, TopicsSpec(), topic)
    assert len(who) == result.complaints.texts.iloc[0]
    assert who.person_id.nunique() == result.complaints.persons.iloc[0]
    assert set(who.topic_id) == {topic}
    assert who.timestamp.is_monotonic_decreasing
    with pytest.raises(UnknownNameError):
        result.members_of("negative-99")


def test_the_result_is_json_and_draws_topics_and_growing_terms(shop):
    _, _, result = shop
    document = json.loads(json.dumps(result.to_dict()))
    assert document["growing_complaints"][0] == result.growing_complaints.topic_id.iloc[0]
    assert len(document["topics"]) == len(result.topics)
    assert result.terms.z.is_monotonic_decreasing
    assert len(result.figure().data) == 4


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    result = topics(make_events([]), TopicsSpec())
    assert [w.code for w in result.warnings] == ["NO_FEEDBACK"]
    assert result.topics.empty
    assert result.terms.empty
    assert result.members.empty
    assert json.loads(json.dumps(result.to_dict()))["topics"] == []
    result.figure()


def test_feedback_said_at_one_moment_has_no_last_period_to_grow_from(make_events):
    rows = [
        {"person": p, "event": "Feedback Submitted", "ts": 100, "properties": {"text": text}}
        for p, text in [("a", "The delivery was late"), ("b", "Love the app"), ("c", "배송 최악")]
    ]
    result = topics(make_events(rows), TopicsSpec())
    assert [w.code for w in result.warnings] == ["NO_PREVIOUS_PERIOD"]
    assert result.texts == 3
    assert not result.topics.growing.any()


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"max_topics": 0}, "max_topics"),
        ({"alpha": 0.9}, "alpha"),
        ({"period": "later"}, "period"),
        ({"source": {"events": []}}, "events"),
        ({"topics": 3}, "topics"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(spec, field):
    with pytest.raises(pydantic.ValidationError, match=field):
        TopicsSpec(**spec)


def test_aspect_weights_keep_shared_terms_and_discount_one_sentiment_terms():
    terms = [["delivery", "late"], ["delivery", "slow"], ["delivery", "fast"], ["delivery"]]
    weights = aspect_weights(terms, ["negative", "negative", "positive", "positive"])
    assert weights["delivery"] == pytest.approx(1.0, abs=0.02)
    assert weights["late"] < 0.05
    assert weights["fast"] < 0.05
    assert aspect_weights(terms, ["negative"] * 4) == dict.fromkeys(
        ["delivery", "late", "slow", "fast"], 1.0
    )


def test_distinctive_terms_follow_class_based_tf_idf():
    # A = 6 terms / 2 topics = 3; in x: late 2/4 × ln(1 + 3/2), box 1/4 × ln(1 + 3/1).
    named = distinctive_terms(
        [["late", "box"], ["late", "app"], ["app", "app"]], ["x", "x", "y"], 3
    )
    assert named == {"x": ["late", "box", "app"], "y": ["app"]}


def test_clusters_are_numbered_by_volume_and_equal_texts_share_a_topic():
    vectors = np.array([[1.0, 0], [0.95, 0.05], [0, 1], [0.05, 0.95], [0, 1], [0, 1]])
    texts = ["a", "b", "c", "d", "c", "c"]
    clusters = cluster_texts(vectors, texts, max_topics=4, seed=0)
    assert clusters.label.tolist() == [1, 1, 0, 0, 0, 0]
    assert clusters.centroids.shape == (2, 2)
    assert cluster_texts(vectors[:2], texts[:2], max_topics=4, seed=0).label.tolist() == [0, 0]
