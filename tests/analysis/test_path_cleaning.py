"""Path cleaning builds the same ordered, grouped, collapsed paths on DuckDB and Spark."""

from __future__ import annotations

import re

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.path_cleaning import CleaningRule, PathCleaning, clean_paths, json_records


def paths_of(events, **spec) -> dict[str, list[str]]:
    """Each path's nodes in step order."""
    frame = clean_paths(events, PathCleaning(**spec)).to_pandas()
    frame = frame.sort_values(["path_id", "step"])
    return {pid: list(group["node"]) for pid, group in frame.groupby("path_id")}


def test_events_at_the_same_timestamp_are_ordered_by_message_id(make_events):
    events = make_events(
        [
            {"person": "a", "session_id": "s", "event": "B", "ts": 5, "message_id": "m2"},
            {"person": "a", "session_id": "s", "event": "A", "ts": 5, "message_id": "m1"},
            {"person": "a", "session_id": "s", "event": "C", "ts": 1, "message_id": "m9"},
        ]
    )
    assert paths_of(events) == {"s": ["C", "A", "B"]}


def test_steps_are_numbered_from_one_after_cleaning(make_events):
    events = make_events(
        [{"person": "a", "session_id": "s", "event": e, "ts": i} for i, e in enumerate("AAB")]
    )
    frame = clean_paths(events, PathCleaning()).to_pandas().sort_values("step")
    assert list(frame["step"]) == [1, 2]
    assert list(frame["message_id"]) == ["m00000", "m00002"]


def test_session_scope_splits_a_person_and_person_scope_joins_the_sessions(make_events):
    rows = [
        {"person": "a", "session_id": "s1", "event": "A", "ts": 1},
        {"person": "a", "session_id": "s1", "event": "B", "ts": 2},
        {"person": "a", "session_id": "s2", "event": "C", "ts": 9},
        {"person": "b", "session_id": "s3", "event": "A", "ts": 3},
    ]
    events = make_events(rows)
    assert paths_of(events) == {"s1": ["A", "B"], "s2": ["C"], "s3": ["A"]}
    assert paths_of(events, scope="person") == {"a": ["A", "B", "C"], "b": ["A"]}


def test_events_without_a_person_or_of_other_types_take_no_part(make_events):
    events = make_events(
        [
            {"person": None, "session_id": "s", "event": "Ghost", "ts": 0},
            {"person": "a", "session_id": "s", "type": "page", "event": "Home", "ts": 1},
            {"person": "a", "session_id": "s", "type": "identify", "ts": 2},
            {"person": "a", "session_id": "s", "type": "screen", "event": "Feed", "ts": 3},
            {"person": "a", "session_id": None, "event": "Sessionless", "ts": 4},
        ]
    )
    assert paths_of(events) == {"s": ["Home", "Feed"]}
    assert paths_of(events, event_types=["page"]) == {"s": ["Home"]}
    # Person scope does not need a session.
    assert paths_of(events, scope="person") == {"a": ["Home", "Feed", "Sessionless"]}


def test_repeats_collapse_only_when_asked(make_events):
    events = make_events(
        [{"person": "a", "session_id": "s", "event": e, "ts": i} for i, e in enumerate("AABAA")]
    )
    assert paths_of(events) == {"s": ["A", "B", "A"]}
    assert paths_of(events, collapse_repeats=False) == {"s": list("AABAA")}


def test_a_property_node_falls_back_to_the_event_name(make_events):
    events = make_events(
        [
            {
                "person": "a",
                "session_id": "s",
                "type": "page",
                "event": "Product",
                "ts": 1,
                "context": {"page": {"path": "/product/1"}},
            },
            {"person": "a", "session_id": "s", "event": "Product Added", "ts": 2},
            {
                "person": "a",
                "session_id": "s",
                "type": "page",
                "event": "Cart",
                "ts": 3,
                "context": {"page": {"path": "/cart"}},
            },
        ]
    )
    assert paths_of(events, node="context.page.path") == {
        "s": ["/product/1", "Product Added", "/cart"]
    }


def test_mapping_comes_first_then_rules_in_sequence_each_feeding_the_next(make_events):
    names = ["Email Opened", "/product/12", "/product/7/reviews", "Email Delivered"]
    events = make_events(
        [{"person": "a", "session_id": "s", "event": e, "ts": i} for i, e in enumerate(names)]
    )
    rules = [
        {"pattern": "^/product/[0-9]+", "alias": "/product/<id>"},
        # Sees the first rule's output, not the raw name.
        {"pattern": "^/product/<id>/reviews$", "alias": "Reviews"},
        # The alias is literal text on both engines, backreference-looking or not.
        {"pattern": "^Email$", "alias": "$1 \\1"},
    ]
    mapping = {"Email Opened": "Email", "Email Delivered": "Email"}
    assert paths_of(events, rules=rules, mapping=mapping, collapse_repeats=False) == {
        "s": ["$1 \\1", "/product/<id>", "Reviews", "$1 \\1"]
    }


def test_a_rule_replaces_every_match_not_just_the_first(make_events):
    events = make_events([{"person": "a", "session_id": "s", "event": "/a/1/b/22", "ts": 0}])
    assert paths_of(events, rules=[{"pattern": "[0-9]+", "alias": ":id"}]) == {
        "s": ["/a/:id/b/:id"]
    }


def test_exclusion_applies_after_grouping_and_before_collapsing(make_events):
    names = ["A", "Email Opened", "A", "X", "B"]
    events = make_events(
        [{"person": "a", "session_id": "s", "event": e, "ts": i} for i, e in enumerate(names)]
    )
    spec = {"mapping": {"Email Opened": "Email"}, "exclude": ["Email", "X"]}
    assert paths_of(events, **spec) == {"s": ["A", "B"]}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"rules": [{"pattern": "(", "alias": "x"}]}, "not a valid regular expression"),
        ({"rules": [{"pattern": "a(?=b)", "alias": "x"}]}, "look-ahead"),
        ({"rules": [{"pattern": ".*", "alias": "x"}]}, "matches the empty text"),
        ({"event_types": []}, "at least 1 item"),
        ({"event_types": ["click"]}, "Input should be"),
        ({"node": " "}, "must name an event property"),
        ({"scope": "device"}, "Input should be"),
        ({"colapse_repeats": False}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_cleaning_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=re.escape(problem)):
        PathCleaning(**spec)


def test_a_cleaning_spec_round_trips_through_json():
    spec = PathCleaning(scope="person", rules=[CleaningRule(pattern="^a", alias="b")])
    assert PathCleaning.model_validate_json(spec.model_dump_json()) == spec


def test_json_records_are_plain_values():
    import pandas as pd

    frame = pd.DataFrame(
        {"n": [1, 2], "x": [0.5, float("nan")], "t": pd.to_datetime(["2024-01-01", None], utc=True)}
    )
    assert json_records(frame) == [
        {"n": 1, "x": 0.5, "t": "2024-01-01T00:00:00+00:00"},
        {"n": 2, "x": None, "t": None},
    ]


ROW = st.fixed_dictionaries(
    {
        "person": st.sampled_from(["a", "b"]),
        "event": st.sampled_from(["A", "B", "C"]),
        "ts": st.integers(0, 5),
    }
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(ROW, max_size=12), seed=st.randoms(use_true_random=False))
def test_person_paths_do_not_depend_on_row_order(make_events, rows, seed):
    rows = [{**row, "message_id": f"m{i:03d}"} for i, row in enumerate(rows)]
    shuffled = list(rows)
    seed.shuffle(shuffled)
    spec = {"scope": "person", "mapping": {"C": "A"}}
    assert paths_of(make_events(rows), **spec) == paths_of(make_events(shuffled), **spec)


@pytest.mark.spark
def test_spark_builds_the_same_paths(make_events, make_spark_events):
    rows = [
        {"person": "a", "session_id": "s", "event": "B", "ts": 5, "message_id": "m2"},
        {"person": "a", "session_id": "s", "event": "A", "ts": 5, "message_id": "m1"},
        {
            "person": "a",
            "session_id": "s",
            "event": "Home",
            "ts": 6,
            "context": {"page": {"path": "/product/9"}},
        },
        {"person": "a", "session_id": "s", "event": "Email Opened", "ts": 7},
        {"person": "a", "session_id": "s", "event": "Email Opened", "ts": 8},
        {"person": "b", "session_id": "t", "event": "/a/1/b/22", "ts": 1},
    ]
    spec = {
        "node": "context.page.path",
        "mapping": {"Email Opened": "Email"},
        "rules": [{"pattern": "[0-9]+", "alias": "$1"}, {"pattern": "^/product/.+$", "alias": "P"}],
    }
    expected = paths_of(make_events(rows), **spec)
    assert expected == {"s": ["A", "B", "P", "Email"], "t": ["/a/$1/b/$1"]}
    assert paths_of(make_spark_events(rows), **spec) == expected
