import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.compute as pc
import pytest

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.schema import CHANNELS, EVENTS_ARROW_SCHEMA, MESSAGE_TYPES
from journeylens.simulate import simulate


def test_the_same_arguments_give_the_identical_table():
    assert simulate(300, 20, seed=5).events.equals(simulate(300, 20, seed=5).events)


def test_another_seed_gives_another_table():
    assert not simulate(300, 20, seed=5).events.equals(simulate(300, 20, seed=6).events)


def test_events_have_exactly_the_canonical_schema(sim):
    assert sim.events.schema.equals(EVENTS_ARROW_SCHEMA)


def test_there_are_about_fifty_events_per_customer(sim):
    assert 30 < sim.events.num_rows / 1_500 < 80


def test_message_ids_are_unique(sim):
    ids = sim.events["message_id"]
    assert pc.count_distinct(ids).as_py() == len(ids)


def test_timestamps_lie_in_the_window_and_arrive_after_they_happen(sim):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ts = sim.events["timestamp"]
    assert pc.min(ts).as_py() >= start
    assert pc.max(ts).as_py() < start + timedelta(days=60)
    assert pc.all(pc.greater_equal(sim.events["received_at"], ts)).as_py()


def test_every_row_satisfies_the_segment_rules(sim):
    rows = sim.events.select(
        ["type", "event", "anonymous_id", "user_id", "previous_id", "group_id"]
    ).to_pylist()
    for row in rows:
        assert row["type"] in MESSAGE_TYPES
        assert row["anonymous_id"] or row["user_id"], row
        if row["type"] == "track":
            assert row["event"]
        if row["type"] == "alias":
            assert row["previous_id"]
            assert row["user_id"]
        if row["type"] == "group":
            assert row["group_id"]


def test_json_columns_hold_valid_json_objects(sim):
    for column in ("properties", "context", "traits"):
        for text in sim.events[column].drop_null().to_pylist():
            assert isinstance(json.loads(text), dict)


def test_purchases_carry_revenue_and_currency(sim):
    orders = sim.events.filter(pc.equal(sim.events["event"], "Order Completed"))
    assert orders.num_rows > 0
    assert orders["revenue"].null_count == 0
    assert set(orders["currency"].to_pylist()) == {"USD"}
    props = [json.loads(p) for p in orders["properties"].to_pylist()[:50]]
    assert all(p["revenue"] == p["total"] and p["products"] for p in props)


def test_all_six_call_types_and_the_main_sources_appear(sim):
    assert set(sim.events["type"].to_pylist()) == set(MESSAGE_TYPES)
    assert {"web", "ios", "android", "esp", "pos", "cti", "server"} <= set(
        sim.events["source"].to_pylist()
    )


def test_truth_names_the_author_of_every_message(sim):
    messages = sim.truth.messages
    assert messages["message_id"].equals(sim.events["message_id"])
    persons = set(sim.truth.persons["person_key"].to_pylist())
    assert set(messages["person_key"].to_pylist()) <= persons


def test_to_messages_gives_camel_case_segment_messages(sim):
    messages = sim.to_messages(limit=2_000)
    assert len(messages) == 2_000
    for m in messages:
        assert {"messageId", "type", "timestamp", "receivedAt", "context"} <= m.keys()
        assert "anonymousId" in m or "userId" in m
        assert not any("_" in key for key in m)
        if m["type"] == "track":
            assert m["event"]
            assert isinstance(m["properties"], dict)
        if m["type"] in ("page", "screen"):
            assert m["name"]
        datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00"))


def test_to_pandas_keeps_every_row(sim):
    assert len(sim.to_pandas()) == sim.events.num_rows


def test_planted_channel_effects_show_in_naive_conversion_rates(sim):
    visits = sim.truth.visits.to_pandas()
    assert set(visits["channel"]) <= set(CHANNELS)
    rates = visits.groupby("channel")["ordered"].agg(["mean", "size"])
    direct = rates.loc["Direct", "mean"]
    for channel, effect in sim.truth.channel_effects.items():
        # Enough visits and a big enough effect for the sign to be beyond noise.
        if abs(effect) >= 0.03 and rates["size"].get(channel, 0) >= 300:
            assert np.sign(rates.loc[channel, "mean"] - direct) == np.sign(effect), channel


def test_every_ordered_visit_emits_one_order(sim):
    orders = pc.sum(pc.equal(sim.events["event"], "Order Completed")).as_py()
    assert orders == pc.sum(sim.truth.visits["ordered"]).as_py()


def test_churners_fall_silent_on_their_churn_day(sim):
    churn = dict(zip(*sim.truth.churners.to_pydict().values(), strict=True))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    authors = sim.truth.messages["person_key"].to_pylist()
    rows = sim.events.select(["timestamp", "source"]).to_pylist()
    for key, row in zip(authors, rows, strict=True):
        # The brand keeps sending (esp) and refunding (server) after a customer left.
        if key in churn and row["source"] not in ("esp", "server"):
            assert row["timestamp"] < start + timedelta(days=churn[key])


def test_experiment_exposures_match_the_assignments(sim):
    exposures = sim.events.filter(pc.equal(sim.events["event"], "Experiment Viewed"))
    assert exposures.num_rows == sim.truth.assignments.num_rows
    arms = set(
        zip(
            *sim.truth.experiments.select(["experiment_id", "variant"]).to_pydict().values(),
            strict=True,
        )
    )
    seen = {
        (p["experiment_id"], p["variant"])
        for p in map(json.loads, exposures["properties"].to_pylist())
    }
    assert seen == arms


def test_feedback_truth_points_at_feedback_events(sim):
    feedback = sim.truth.feedback
    assert feedback.num_rows > 0
    rows = sim.events.filter(pc.is_in(sim.events["message_id"], feedback["message_id"]))
    texts = {json.loads(p)["text"] for p in rows["properties"].to_pylist()}
    assert texts == set(feedback["text"].to_pylist())
    assert set(feedback["language"].to_pylist()) == {"en", "ko"}
    nps = feedback["nps"].to_numpy()
    sentiment = np.array(feedback["sentiment"].to_pylist())
    assert (sentiment[nps >= 9] == "positive").all()
    assert (sentiment[nps <= 6] == "negative").all()


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValidationError, match="customers"):
        simulate(0)
    with pytest.raises(ValidationError, match="start is not a date"):
        simulate(10, start="January")
    with pytest.raises(ValidationError, match="shared_device_share"):
        simulate(10, shared_device_share=0.9)
    with pytest.raises(UnknownNameError, match="Did you mean 'Email'"):
        simulate(10, channel_effects={"Emial": 0.1})
