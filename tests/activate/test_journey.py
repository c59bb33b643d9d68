"""The journey definition: the file format, versions by content, and clear errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from journeylens.activate.journey import (
    ConditionSplitNode,
    EventSeenCondition,
    Journey,
    WaitEventNode,
    load_journey,
    parse_journey,
)
from journeylens.errors import SourceError, ValidationError


def definition(**changes: Any) -> dict[str, Any]:
    """A small valid journey: wait for an order for 2 h, else email, then end."""
    base: dict[str, Any] = {
        "id": "cart",
        "name": "Cart",
        "entry": {"kind": "event", "event": "Product Added"},
        "start": "wait",
        "nodes": {
            "wait": {
                "kind": "wait_event",
                "event": "Order Completed",
                "timeout": "2h",
                "next": None,
                "timeout_next": "mail",
            },
            "mail": {"kind": "send", "channel": "email", "body": "Come back"},
        },
        "goal": {"event": "Order Completed", "within": "7d"},
    }
    base.update(changes)
    return base


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_journey(data)
    return str(caught.value)


def test_a_journey_reads_durations_defaults_and_node_kinds() -> None:
    journey = parse_journey(definition())
    wait = journey.nodes["wait"]
    assert isinstance(wait, WaitEventNode)
    assert wait.timeout == timedelta(hours=2)
    assert journey.holdout_share == 0.1
    assert journey.entry_rule.kind == "once"
    assert [e.kind for e in journey.exits] == ["goal"]


def test_every_node_kind_validates_in_one_journey() -> None:
    nodes = {
        "a": {"kind": "wait", "duration": "1h", "next": "b"},
        "b": {"kind": "wait_best_hour", "fallback_hour": 9, "next": "c"},
        "c": {
            "kind": "condition_split",
            "conditions": [
                {"kind": "trait", "property": "plan", "value": "pro"},
                {"kind": "score", "model": "churn", "operator": "gte", "value": 0.5},
                {"kind": "event", "event": "Order Completed"},
            ],
            "then": "d",
            "otherwise": None,
        },
        "d": {
            "kind": "random_split",
            "branches": [{"weight": 1, "next": "e"}, {"weight": 2, "next": None}],
        },
        "e": {"kind": "channel_split", "branches": {"sms": "f"}, "otherwise": "g"},
        "f": {"kind": "send", "channel": "sms", "template": "t1", "next": "g"},
        "g": {"kind": "webhook", "url": "https://example.com/hook", "body": {"x": 1}, "next": "h"},
        "h": {"kind": "update_traits", "traits": {"vip": True}, "next": "i"},
        "i": {"kind": "add_to_segment", "segment": "engaged", "next": "j"},
        "j": {"kind": "wait_event", "event": "X", "timeout": "1d", "timeout_next": None},
    }
    journey = parse_journey(definition(nodes=nodes, start="a"))
    assert sorted(n.kind for n in journey.nodes.values()) == sorted(
        [
            "wait",
            "wait_best_hour",
            "condition_split",
            "random_split",
            "channel_split",
            "send",
            "webhook",
            "update_traits",
            "add_to_segment",
            "wait_event",
        ]
    )
    split = journey.nodes["c"]
    assert isinstance(split, ConditionSplitNode)
    assert isinstance(split.conditions[2], EventSeenCondition)


def test_every_entry_kind_validates() -> None:
    for entry in (
        {
            "kind": "event",
            "event": "Product Added",
            "filters": [{"property": "price", "operator": "gt", "value": 50}],
        },
        {"kind": "segment", "segment": "vip"},
        {
            "kind": "segment",
            "segment": "recent",
            "rule": {"kind": "event", "event": "X", "within": "7d"},
        },
        {"kind": "date", "trait": "birthday", "annual": True, "offset_days": -3},
        {"kind": "score", "model": "churn", "at_least": 0.7},
    ):
        assert parse_journey(definition(entry=entry)).entry.kind == entry["kind"]


def test_the_version_is_the_content_and_ignores_the_label() -> None:
    one = parse_journey(definition())
    labelled = parse_journey(definition(version="v2 (copy edit)"))
    edited = parse_journey(definition(holdout_share=0.2))
    assert one.content_hash == labelled.content_hash
    assert one.content_hash != edited.content_hash
    # The order nodes are written in does not matter.
    reordered = definition(nodes=dict(reversed(definition()["nodes"].items())))
    assert parse_journey(reordered).content_hash == one.content_hash
    # A duration written another way is the same content.
    minutes = definition()
    minutes["nodes"]["wait"]["timeout"] = "120m"
    assert parse_journey(minutes).content_hash == one.content_hash


def test_equal_journeys_hash_alike_so_they_can_key_a_dict() -> None:
    assert {parse_journey(definition()): 1}[parse_journey(definition())] == 1


def test_a_journey_round_trips_through_json_and_yaml_files(tmp_path: Path) -> None:
    journey = parse_journey(definition(quiet_hours={"start": "21:00", "end": "08:00"}))
    as_json = tmp_path / "j.json"
    as_json.write_text(journey.model_dump_json())
    as_yaml = tmp_path / "j.yaml"
    as_yaml.write_text(yaml.safe_dump(journey.model_dump(mode="json")))
    assert load_journey(as_json) == journey
    assert load_journey(as_yaml).content_hash == journey.content_hash


def test_an_unknown_node_id_names_the_node_and_the_known_ones() -> None:
    data = definition()
    data["nodes"]["mail"]["next"] = "sms"
    message = error_of(data)
    assert "node 'mail' leads to 'sms', which does not exist" in message
    assert "known nodes: mail, wait" in message


def test_an_unknown_start_is_named() -> None:
    assert "start names node 'begin'" in error_of(definition(start="begin"))


def test_an_unreachable_node_is_named_with_the_fix() -> None:
    data = definition()
    data["nodes"]["lost"] = {"kind": "send", "channel": "sms", "body": "hi"}
    message = error_of(data)
    assert "nodes 'lost' cannot be reached from start 'wait'" in message
    assert "link them from another node or delete them" in message


def test_a_cycle_without_a_wait_is_refused_and_a_cycle_with_one_is_allowed() -> None:
    nodes = {
        "a": {"kind": "send", "channel": "email", "body": "x", "next": "b"},
        "b": {"kind": "update_traits", "traits": {"n": 1}, "next": "a"},
    }
    message = error_of(definition(nodes=nodes, start="a"))
    assert "nodes a -> b -> a form a cycle without a wait" in message
    nodes["b"]["next"] = "c"
    nodes["c"] = {"kind": "wait", "duration": "1d", "next": "a"}
    assert parse_journey(definition(nodes=nodes, start="a")).start == "a"


def test_a_wait_event_without_a_timeout_branch_says_what_it_is() -> None:
    data = definition()
    del data["nodes"]["wait"]["timeout_next"]
    message = error_of(data)
    assert "nodes.wait" in message
    assert "needs 'timeout_next'" in message


def test_a_bad_duration_names_the_field_and_the_units() -> None:
    data = definition()
    data["nodes"]["wait"]["timeout"] = "2 hours"
    message = error_of(data)
    assert "nodes.wait.timeout" in message
    assert "s, m (minutes), h, d, w" in message


def test_a_bad_time_zone_is_refused_with_an_example() -> None:
    message = error_of(definition(timezone_default="Europe/Londn"))
    assert "'Europe/Londn' is not an IANA time zone" in message


def test_a_bad_channel_and_a_missing_message_are_named_by_node() -> None:
    data = definition()
    data["nodes"]["mail"] = {"kind": "send", "channel": "fax", "body": "x"}
    assert "nodes.mail.channel" in error_of(data)
    data["nodes"]["mail"] = {"kind": "send", "channel": "sms"}
    assert "needs a 'template' or a 'body'" in error_of(data)


def test_unknown_fields_and_node_kinds_are_refused() -> None:
    assert "colour: Extra inputs are not permitted" in error_of(definition(colour="red"))
    data = definition()
    data["nodes"]["mail"] = {"kind": "teleport"}
    assert "nodes.mail" in error_of(data)


def test_quiet_hours_written_as_yaml_numbers_ask_for_quotes(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    text = yaml.safe_dump(definition())
    path.write_text(text + "quiet_hours: {start: 21:00, end: '08:00'}\n")
    with pytest.raises(ValidationError, match="quoted local times"):
        load_journey(path)
    assert "equal" in error_of(definition(quiet_hours={"start": "08:00", "end": "08:00"}))


def test_a_goal_exit_needs_a_goal() -> None:
    message = error_of(definition(goal=None, exits=[{"kind": "goal"}]))
    assert "no goal" in message
    # Left out, the exits follow the goal, and a dumped journey validates again as it is.
    goalless = parse_journey(definition(goal=None))
    assert goalless.exits == ()
    assert parse_journey(goalless.model_dump(mode="json")) == goalless


def test_an_edited_copy_is_validated_and_gets_a_new_version() -> None:
    journey = parse_journey(definition())
    edited = journey.model_copy(update={"holdout_share": 0.3})
    assert edited.holdout_share == 0.3
    assert edited.content_hash == parse_journey(definition(holdout_share=0.3)).content_hash
    assert edited.content_hash != journey.content_hash
    with pytest.raises(ValueError, match="start names node"):
        journey.model_copy(update={"start": "nowhere"})
    assert journey.model_copy() == journey


def test_a_missing_or_malformed_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="Cannot read"):
        load_journey(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SourceError, match="not valid json"):
        load_journey(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(SourceError, match="one mapping"):
        load_journey(listed)


def test_the_model_itself_refuses_bad_graphs_for_python_callers() -> None:
    data = definition(start="nowhere")
    with pytest.raises(ValueError, match="start names node"):
        Journey.model_validate(data)
    assert json.loads(parse_journey(definition()).model_dump_json())["id"] == "cart"
