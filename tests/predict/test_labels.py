"""Churn and conversion labels: who is eligible, what counts, and what is never read."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.predict.labels import outcome_labels
from tests.analysis.conftest import ORIGIN
from tests.predict.test_features import DAY, events, row

CUTOFF = ORIGIN + timedelta(days=10)

HISTORY = [
    # a: active before the cut-off, silent after it except for mail → churned.
    row("a", "Home", 8 * DAY, type="page"),
    row("a", "Email Delivered", 12 * DAY),
    # b: active before and after, orders after → neither churned; converted.
    row("b", "Home", 9 * DAY, type="page"),
    row("b", "Order Completed", 15 * DAY),
    # c: active only 9 days before the cut-off → eligible only with a long enough window.
    row("c", "Home", 1 * DAY, type="page"),
    row("c", "Home", 12 * DAY, type="page"),
    # d: active before; after the horizon only → churned within it.
    row("d", "Home", 9 * DAY, type="page"),
    row("d", "Order Completed", 45 * DAY),
]


def labels(target: str, rows=HISTORY, **kw) -> dict[str, int]:
    table = outcome_labels(events(rows), target=target, cutoff=CUTOFF, horizon="30d", **kw)
    return dict(table.execute().values.tolist())


def test_churn_is_no_activity_in_the_horizon_and_deliveries_do_not_count() -> None:
    assert labels("churn", active_within="5d") == {"a": 1, "b": 0, "d": 1}


def test_conversion_is_an_order_in_the_horizon() -> None:
    assert labels("conversion", active_within="5d") == {"a": 0, "b": 1, "d": 0}


def test_active_within_decides_who_is_eligible() -> None:
    assert labels("churn", active_within="10d") == {"a": 1, "b": 0, "c": 0, "d": 1}


@settings(max_examples=8, deadline=None)
@given(later=st.lists(st.tuples(st.sampled_from("abcd"), st.floats(40 * DAY, 90 * DAY))))
def test_events_after_the_horizon_never_change_a_label(later) -> None:
    extra = [row(p, "Order Completed", s) for p, s in later]
    for target in ("churn", "conversion"):
        assert labels(target, HISTORY + extra) == labels(target)


def test_an_empty_table_gives_no_labels() -> None:
    assert labels("churn", []) == {}


def test_bad_targets_and_naive_cutoffs_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'churn'"):
        labels("chrun")
    with pytest.raises(ValidationError, match="cutoff must be a timezone-aware"):
        outcome_labels(events(HISTORY), target="churn", cutoff=datetime(2024, 1, 5))
