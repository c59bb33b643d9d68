"""Simulated feedback: the growing-complaint option is off by default and leaves the data exactly
as before; on, the named topic's share of complaints grows in the second half of the window."""

from __future__ import annotations

import pandas as pd
import pytest

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.simulate import simulate
from journeylens.simulate.feedback import TEXTS, TOPICS


def test_the_option_off_is_the_default_and_leaves_the_data_identical():
    plain = simulate(300, 20, seed=5, churn_warning_days=7)
    again = simulate(300, 20, seed=5, churn_warning_days=7, growing_topics={})
    assert plain.events.equals(again.events)
    assert plain.truth.growing_topics == {}


def test_every_topic_is_named_and_each_text_cycles_through_them_in_order():
    assert TOPICS[0] == "delivery"
    assert len(TOPICS) == 8
    assert all(TEXTS[i][2] == TOPICS[i % len(TOPICS)] for i in range(len(TEXTS)))


def shares(sim) -> pd.DataFrame:
    feedback = sim.truth.feedback.to_pandas()
    stamps = sim.events.select(["message_id", "timestamp"]).to_pandas()
    feedback = feedback.merge(stamps, on="message_id")
    feedback["late"] = feedback.timestamp >= pd.Timestamp("2026-01-31", tz="UTC")
    complaints = feedback[feedback.sentiment == "negative"]
    return complaints.groupby("late").topic.value_counts(normalize=True).unstack(fill_value=0)


def test_a_growing_topic_takes_a_bigger_share_of_late_complaints_only():
    sim = simulate(3_000, 60, seed=4, churn_warning_days=14, growing_topics={"delivery": 4.0})
    assert sim.truth.growing_topics == {"delivery": 4.0}
    share = shares(sim)
    # Planted: 1/8 of complaints before the midpoint, 4/11 after (a few hundred complaints).
    assert share.loc[False, "delivery"] == pytest.approx(1 / 8, abs=0.1)
    assert share.loc[True, "delivery"] == pytest.approx(4 / 11, abs=0.06)
    assert share.loc[True, "delivery"] > share.loc[True].drop("delivery").max()
    # The texts keep their language and sentiment: every complaint is still a negative text.
    negative = {t[3] for t in TEXTS if t[1] == "negative"}
    feedback = sim.truth.feedback.to_pandas()
    assert set(feedback[feedback.sentiment == "negative"].text) <= negative


@pytest.mark.parametrize(
    ("growing", "error"),
    [({"deliveries": 2.0}, UnknownNameError), ({"delivery": 0.5}, ValidationError)],
)
def test_an_unknown_topic_or_a_weight_out_of_range_is_refused(growing, error):
    with pytest.raises(error):
        simulate(10, 5, growing_topics=growing)
