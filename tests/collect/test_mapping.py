"""Column plans for tables."""

from __future__ import annotations

import pytest

from journeylens.collect.mapping import plan_columns
from journeylens.errors import MappingError, UnknownNameError


def test_canonical_and_camel_case_columns_need_no_mapping():
    plan = plan_columns(["userId", "anonymous_id", "event", "timestamp", "messageId"], None)
    assert plan.fields["user_id"] == "userId"
    assert plan.fields["message_id"] == "messageId"
    assert plan.json_paths("properties") == {}


def test_mapped_dotted_targets_build_json_paths_and_leftovers_become_properties():
    plan = plan_columns(
        ["cid", "ts", "src", "colour"],
        {"user_id": "cid", "timestamp": "ts", "context.campaign.source": "src"},
    )
    assert plan.fields == {"user_id": "cid", "timestamp": "ts"}
    assert plan.json_paths("context") == {("campaign", "source"): "src"}
    assert plan.json_paths("properties") == {("colour",): "colour"}


def test_a_mapping_to_a_missing_column_suggests_the_closest_one():
    with pytest.raises(UnknownNameError, match="Did you mean 'customer_id'"):
        plan_columns(["customer_id", "timestamp"], {"user_id": "customer_ids"})


def test_an_unknown_target_lists_the_allowed_ones():
    with pytest.raises(UnknownNameError, match=r"properties\.<key>"):
        plan_columns(["a", "timestamp"], {"userid": "a"})


def test_a_table_without_timestamp_is_refused_with_the_fix():
    with pytest.raises(MappingError, match="mapping=\\{'timestamp'"):
        plan_columns(["user_id", "event"], None)
