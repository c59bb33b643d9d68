"""Journey stages from ordered rules: the defaults, custom rules, and bad rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import pydantic
import pytest

from journeylens.enrich import assign_stages
from journeylens.enrich.stages import check_portable_regex
from journeylens.errors import ValidationError
from journeylens.schema import STAGES
from journeylens.settings import DEFAULT_STAGE_RULES, StageRule

EventsBuilder = Callable[[list[dict[str, Any]]], ibis.Table]

# (type, event name, expected stage)
DEFAULTS: list[tuple[str, str | None, str | None]] = [
    ("page", "Home", "awareness"),
    ("page", None, "awareness"),
    ("screen", "Onboarding", "awareness"),
    ("track", "Promotion Viewed", "awareness"),
    ("track", "Email Opened", "awareness"),
    ("track", "Products Searched", "consideration"),
    ("track", "Product List Viewed", "consideration"),
    ("track", "Product Viewed", "consideration"),
    ("track", "Product Added", "consideration"),
    ("track", "Cart Viewed", "consideration"),
    ("track", "Product Added to Wishlist", "consideration"),
    ("track", "Signed Up", "consideration"),
    ("track", "view_item", "consideration"),
    ("track", "add_to_cart", "consideration"),
    ("track", "search", "consideration"),
    ("track", "sign_up", "consideration"),
    ("track", "Checkout Started", "purchase"),
    ("track", "Checkout Step Completed", "purchase"),
    ("track", "Payment Info Entered", "purchase"),
    ("track", "Coupon Applied", "purchase"),
    ("track", "Order Completed", "purchase"),
    ("track", "begin_checkout", "purchase"),
    ("track", "add_payment_info", "purchase"),
    ("track", "purchase", "purchase"),
    ("track", "Order Refunded", "retention"),
    ("track", "Order Cancelled", "retention"),
    ("track", "refund", "retention"),
    ("track", "Subscription Renewed", "retention"),
    ("track", "Product Reviewed", "advocacy"),
    ("track", "Product Shared", "advocacy"),
    ("track", "share", "advocacy"),
    ("track", "Referral Sent", "advocacy"),
    ("track", "NPS Submitted", "advocacy"),
    ("track", "ORDER COMPLETED", "purchase"),
    ("identify", None, None),
    ("alias", None, None),
    ("group", None, None),
]


def stages(duck: ibis.BaseBackend, events: ibis.Table, rules: Any) -> list[str | None]:
    out = duck.execute(assign_stages(events, rules).order_by("message_id"))
    return [None if value is None or value != value else value for value in out.stage]


def test_the_default_rules_stage_ecommerce_events_in_segment_and_ga4_names(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    events = make_events([{"type": kind, "event": name} for kind, name, _ in DEFAULTS])
    got = stages(duck, events, DEFAULT_STAGE_RULES)
    wrong = [(d[1], d[2], g) for d, g in zip(DEFAULTS, got, strict=True) if d[2] != g]
    assert wrong == []
    assert set(got) - {None} <= set(STAGES)


def test_custom_rules_apply_in_order_and_compare_case_insensitively(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    rules = [
        StageRule(stage="purchase", event="Demo Booked"),
        StageRule(stage="consideration", pattern=r"^demo"),
        StageRule(stage="retention", pattern=r"Renewal"),
    ]
    names = ["demo booked", "Demo Requested", "Contract renewal signed", "Webinar Joined"]
    events = make_events([{"event": name} for name in names])
    assert stages(duck, events, rules) == ["purchase", "consideration", "retention", None]


def test_no_rules_give_no_stages(duck: ibis.BaseBackend, make_events: EventsBuilder) -> None:
    assert stages(duck, make_events([{"event": "Order Completed"}]), []) == [None]


def test_a_rule_with_an_invalid_regex_is_refused_with_the_reason() -> None:
    with pytest.raises(pydantic.ValidationError, match="not a valid regular expression"):
        StageRule(stage="purchase", pattern="order(")


def test_a_rule_needs_exactly_one_of_event_or_pattern() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        StageRule(stage="purchase", event="Order Completed", pattern="order")


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"^order(?= completed)", "look-ahead"),
        (r"(?<!re)order", "look-behind"),
        (r"(a)\1", "backreference"),
        (r"a++", "possessive"),
        (r"(?>abc)", "atomic group"),
    ],
)
def test_a_regex_that_duckdb_cannot_run_is_refused_before_any_query(
    make_events: EventsBuilder, pattern: str, construct: str
) -> None:
    rules = [StageRule(stage="purchase", pattern=pattern)]
    with pytest.raises(ValidationError, match=f"stage rule 0 \\(purchase\\) uses .*{construct}"):
        assign_stages(make_events([{"event": "x"}]), rules)


@pytest.mark.parametrize(
    "pattern", [r"\++", r"[(?=]x", r"^(order|checkout)[ _].*$", r"\(\?=", r"a{2}"]
)
def test_escaped_and_bracketed_lookalikes_are_accepted(pattern: str) -> None:
    check_portable_regex(pattern, where="a pattern")


def test_a_table_without_an_event_column_is_refused(make_events: EventsBuilder) -> None:
    with pytest.raises(ValidationError, match=r"assign_stages needs columns.*event"):
        assign_stages(make_events([{}]).drop("event"), DEFAULT_STAGE_RULES)
