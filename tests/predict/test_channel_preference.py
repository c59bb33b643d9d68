"""Preferred channel: the planted channel is recovered; lift over base rates; bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journeylens.errors import ValidationError
from journeylens.predict.channel_preference import preferred_channel

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)


def _sends(person, channel_events, n, answered, start=0):
    delivered, answer = channel_events
    rows = []
    for i in range(n):
        send = {"send_id": f"{person}-{delivered}-{i}"}
        rows.append({"person": person, "event": delivered, "ts": start + i, "properties": send})
        if i < answered:
            rows.append({"person": person, "event": answer, "ts": start + i, "properties": send})
    return rows


EMAIL = ("Email Delivered", "Email Opened")
WHATSAPP = ("WhatsApp Message Delivered", "WhatsApp Message Read")


def test_the_planted_channel_is_found_for_most_multi_channel_customers(planted):
    events, truth, as_of = planted
    found = preferred_channel(events, as_of=as_of).merge(
        truth[["person_id", "preferred_channel"]], on="person_id"
    )
    multi = found[found.reasons.map(len) >= 2]
    share = (multi.channel == multi.preferred_channel).mean()
    print(f"channel: {len(multi)} multi-channel persons, agreement {share:.3f}")
    assert len(multi) > 300
    assert share > 0.6  # chance among their 2-4 channels is at most 0.5
    assert ((found.response_rate > 0) & (found.response_rate <= 1)).all()


def test_the_channel_beating_its_population_rate_wins_over_a_higher_raw_rate(make_events):
    # Everyone reads WhatsApp (90%) but rarely opens e-mail (10%); "a" opens 40% of e-mails
    # and reads 70% of WhatsApps: e-mail is where "a" stands out.
    rows = []
    for p in ("b", "c", "d", "e"):
        rows += _sends(p, EMAIL, 50, 5) + _sends(p, WHATSAPP, 50, 45)
    rows += _sends("a", EMAIL, 50, 20) + _sends("a", WHATSAPP, 50, 35)
    found = preferred_channel(make_events(rows), as_of=AS_OF).set_index("person_id")
    assert found.loc["a", "channel"] == "Email"
    assert found.loc["b", "channel"] == "WhatsApp"
    first = found.loc["a", "reasons"][0]
    assert first["channel"] == "Email"
    assert first["deliveries"] == 50
    assert first["answers"] == 20


def test_a_click_action_counts_click_throughs_only(make_events):
    rows = _sends("a", EMAIL, 10, 10) + _sends("a", ("SMS Delivered", "SMS Link Clicked"), 10, 2)
    rows += _sends("b", EMAIL, 10, 1) + _sends("b", ("SMS Delivered", "SMS Link Clicked"), 10, 1)
    found = preferred_channel(make_events(rows), as_of=AS_OF, action="click").set_index("person_id")
    assert found.loc["a", "channel"] == "SMS"  # e-mail opens are not clicks


def test_events_at_or_after_the_cut_off_change_nothing(make_events):
    before = _sends("a", EMAIL, 5, 2)
    after = _sends("a", WHATSAPP, 20, 20, start=86400 * 40)
    cut = datetime(2024, 1, 20, tzinfo=UTC)
    alone = preferred_channel(make_events(before), as_of=cut)
    more = preferred_channel(make_events(before + after), as_of=cut)
    assert alone.to_dict("records") == more.to_dict("records")


def test_no_deliveries_give_an_empty_frame(make_events):
    found = preferred_channel(make_events([{"person": "a", "event": "Home", "ts": 1}]), as_of=AS_OF)
    assert found.empty
    assert list(found.columns) == [
        "person_id",
        "channel",
        "response_rate",
        "reasons",
    ]


def test_bad_arguments_are_refused_clearly(make_events):
    events = make_events(_sends("a", EMAIL, 1, 1))
    with pytest.raises(ValidationError, match="unknown action"):
        preferred_channel(events, as_of=AS_OF, action="visit")
    with pytest.raises(ValidationError, match="prior_strength"):
        preferred_channel(events, as_of=AS_OF, prior_strength=-1)
    with pytest.raises(ValidationError, match="timezone-aware"):
        preferred_channel(events, as_of="2024-03-01")
