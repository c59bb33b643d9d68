"""Attribution: journeys cut by lookback and by the previous conversion, non-converting
journeys, Direct visits, time decay by hand, costs, path data, bad specs and empty tables."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pydantic
import pytest

from journeylens.analysis.attribution import (
    MODELS,
    AttributionSpec,
    PathData,
    attribution,
)
from journeylens.analysis.attribution_journeys import (
    TouchDefinition,
    journey_paths,
    journey_touches,
)
from journeylens.analysis.event_match import EventMatch
from journeylens.analysis.registry import get_analysis
from journeylens.errors import UnknownNameError, ValidationError

DAY = 86_400


def touch(person: str, ts: int, channel: str, session: str | None = None, **extra) -> dict:
    """A landing page carrying a touch, alone in its session unless ``session`` is given."""
    row = {"person": person, "ts": ts, "type": "page", "event": "Home", "touch_channel": channel}
    return {**row, "channel": channel, "session_id": session or f"{person}:{ts}", **extra}


def visit(person: str, ts: int, session: str | None = None, event: str = "Home") -> dict:
    """An event without a touch (a Direct visit when its session holds no touch)."""
    return {"person": person, "ts": ts, "type": "page", "event": event,
            "session_id": session or f"{person}:{ts}"}  # fmt: skip


def buy(person: str, ts: int, revenue: float = 10.0, **extra) -> dict:
    """A conversion outside any session, so it adds no Direct visit of its own."""
    return {"person": person, "ts": ts, "event": "Order Completed", "revenue": revenue, **extra}


def journeys(events, **options) -> dict[tuple[str, ...], tuple[float, float, float]]:
    """Distinct paths → (conversions, value, non-conversions)."""
    args = {
        "conversion": EventMatch(event="Order Completed"),
        "value": "revenue",
        "touch": TouchDefinition(),
        "lookback": timedelta(days=30),
    } | options
    found = journey_paths(journey_touches(events, **args), None)
    if found is None:
        return {}
    c = found.counts
    return {
        p: (float(n), float(v), float(x))
        for p, n, v, x in zip(c.paths, c.conversions, c.value, c.non_conversions, strict=True)
    }


def credit(result, model: str) -> dict[str, float]:
    frame = result.to_frame()
    rows = frame[frame["model"] == model]
    return {r.channel: round(r.conversions, 9) for r in rows.itertuples() if r.conversions}


# ------------------------------------------------------------------------------- journeys


def test_a_touch_older_than_the_lookback_is_left_out(make_events):
    rows = [touch("a", 0, "Email"), touch("a", 25 * DAY, "Paid Search"), buy("a", 40 * DAY, 7)]
    assert journeys(make_events(rows)) == {("Paid Search",): (1.0, 7.0, 0.0)}
    longer = journeys(make_events(rows), lookback=timedelta(days=45))
    assert longer == {("Email", "Paid Search"): (1.0, 7.0, 0.0)}


def test_a_touch_is_credited_to_the_next_conversion_only(make_events):
    rows = [
        touch("b", 0, "Email"),
        buy("b", 100, 5),
        touch("b", 200, "Organic Search"),
        touch("b", 300, "Email"),
        buy("b", 300, 20),  # at the same second as the touch: the touch comes first
        buy("b", 400, 1),  # nothing left since the last conversion: a Direct conversion
    ]
    assert journeys(make_events(rows)) == {
        ("Email",): (1.0, 5.0, 0.0),
        ("Organic Search", "Email"): (1.0, 20.0, 0.0),
        ("Direct",): (1.0, 1.0, 0.0),
    }


def test_touches_after_the_last_conversion_are_a_non_converting_journey(make_events):
    rows = [
        touch("c", 0, "Email"),
        buy("c", DAY, 5),
        touch("c", 15 * DAY, "Paid Social"),
        touch("d", 20 * DAY, "Paid Social"),
        touch("d", 25 * DAY, "Email"),
        touch("e", 5 * DAY, "Display"),  # 36 days before the end of the data: too old
        visit("f", 41 * DAY),  # the last event (a Direct visit): the data ends here
    ]
    found = journeys(make_events(rows), lookback=timedelta(days=30))
    assert found == {
        ("Email",): (1.0, 5.0, 0.0),
        ("Paid Social",): (0.0, 0.0, 1.0),
        ("Paid Social", "Email"): (0.0, 0.0, 1.0),
        ("Direct",): (0.0, 0.0, 1.0),
    }


def test_a_session_without_touch_is_one_direct_visit_and_deliveries_are_not_touches(make_events):
    rows = [
        # A Direct session of three page views is one Direct touch.
        visit("g", 0, "g1"),
        visit("g", 10, "g1", "Search"),
        visit("g", 20, "g1", "Help"),
        # A delivered e-mail alone is no touch and no visit.
        {**touch("g", 100, "Email", "g2"), "type": "track", "event": "Email Delivered"},
        # Open, click and landing page of one e-mail in one session: one Email touch.
        {**touch("g", 200, "Email", "g3"), "type": "track", "event": "Email Opened"},
        {**touch("g", 230, "Email", "g3"), "type": "track", "event": "Email Link Clicked"},
        touch("g", 232, "Email", "g3"),
        buy("g", 300),
    ]
    assert journeys(make_events(rows)) == {("Direct", "Email"): (1.0, 10.0, 0.0)}
    counted = journeys(make_events(rows), touch=TouchDefinition(exclude_events=()))
    assert counted == {("Direct", "Email", "Email"): (1.0, 10.0, 0.0)}


def test_ignore_direct_drops_direct_unless_the_journey_is_all_direct(make_events):
    rows = [
        visit("h", 0),
        touch("h", 10, "Email"),
        visit("h", 20),
        buy("h", 30),
        visit("i", 0),
        visit("i", 10),
        buy("i", 20),
    ]
    assert journeys(make_events(rows)) == {
        ("Direct", "Email", "Direct"): (1.0, 10.0, 0.0),
        ("Direct", "Direct"): (1.0, 10.0, 0.0),
    }
    assert journeys(make_events(rows), ignore_direct=True) == {
        ("Email",): (1.0, 10.0, 0.0),
        ("Direct", "Direct"): (1.0, 10.0, 0.0),
    }


def test_touches_can_be_labelled_by_any_property_and_conversions_filtered(make_events):
    rows = [
        touch("j", 0, "Email", utm_campaign="spring"),
        touch("j", 10, "Organic Search"),
        buy("j", 20, 3, properties={"plan": "pro"}),
        touch("k", 0, "Email", utm_campaign="spring"),
        buy("k", 20, 9, properties={"plan": "free"}),
    ]
    pro = EventMatch.model_validate(
        {"event": "Order Completed", "where": [{"property": "plan", "value": "pro"}]}
    )
    found = journeys(
        make_events(rows), conversion=pro, touch=TouchDefinition(property="utm_campaign")
    )
    assert found == {("spring", "(not set)"): (1.0, 3.0, 0.0), ("spring",): (0.0, 0.0, 1.0)}


def test_date_to_ends_the_data_and_date_from_keeps_later_conversions(make_events):
    rows = [
        touch("l", 0, "Email"),
        buy("l", 2 * DAY, 4),
        touch("l", 3 * DAY, "Display"),
        buy("l", 5 * DAY, 6),  # after date_to: does not exist, so Display is non-converting
    ]
    spec = AttributionSpec(models=["last_touch"], date_to="2024-01-04")
    result = attribution(make_events(rows), spec)
    assert credit(result, "last_touch") == {"Email": 1.0}
    assert result.statistics.journeys == 2
    later = attribution(
        make_events(rows), AttributionSpec(models=["last_touch"], date_from="2024-01-04")
    )
    # The first conversion still ends Email's journey, so Display alone earns the second.
    assert credit(later, "last_touch") == {"Display": 1.0}


# -------------------------------------------------------------------------- models and result


def test_time_decay_halves_a_touch_per_half_life_before_the_conversion(make_events):
    rows = [touch("m", 0, "Email"), touch("m", 7 * DAY, "Paid Search"), buy("m", 7 * DAY, 30)]
    result = attribution(make_events(rows), AttributionSpec(models=["time_decay"], half_life="7d"))
    # Weights 2^-1 and 2^0, normalised: 1/3 and 2/3 of the conversion and of its value.
    frame = result.to_frame().set_index("channel")
    assert frame.loc["Email", "conversions"] == pytest.approx(1 / 3)
    assert frame.loc["Paid Search", "value"] == pytest.approx(20.0)


def test_every_model_credits_all_the_observed_conversions(make_events):
    rows = [
        touch("n", 0, "Email"),
        touch("n", 10, "Paid Search"),
        visit("n", 20),
        buy("n", 30, 8),
        touch("o", 0, "Paid Search"),
        buy("o", 5, 2),
        touch("p", 0, "Email"),
    ]
    result = attribution(make_events(rows), AttributionSpec())
    frame = result.to_frame()
    assert list(dict.fromkeys(frame["model"])) == list(MODELS)
    totals = frame.groupby("model")[["conversions", "value", "share"]].sum()
    assert totals["conversions"].tolist() == pytest.approx([2.0] * 8)
    assert totals["value"].tolist() == pytest.approx([10.0] * 8)
    assert totals["share"].tolist() == pytest.approx([1.0] * 8)
    assert credit(result, "last_non_direct") == {"Paid Search": 2.0}
    assert credit(result, "first_touch") == {"Email": 1.0, "Paid Search": 1.0}
    stats = result.statistics
    assert (stats.journeys, stats.conversions, stats.distinct_paths) == (3, 2, 3)
    assert stats.avg_path_length == pytest.approx(2.0)  # (3 + 1) / 2
    assert stats.single_touch_share == pytest.approx(0.5)
    assert stats.avg_time_to_conversion_seconds == pytest.approx(17.5)  # (30 + 5) / 2
    assert result.top_paths["path"].tolist() == [
        ("Email", "Paid Search", "Direct"),
        ("Paid Search",),
    ]


def test_costs_give_cost_per_acquisition_roas_and_roi():
    data = PathData(
        pd.DataFrame({"path": ["A", "B", "A > A"], "n": [1, 1, 1], "v": [40, 30, 60]}),
        conversions_col="n",
        value_col="v",
    )
    spec = AttributionSpec(
        models=["last_touch"],
        costs=[
            {"channel": "A", "spend": 20, "date_from": "2024-01-01", "date_to": "2024-01-31"},
            {"channel": "A", "spend": 30},
            {"channel": "B", "spend": 0},
            {"channel": "C", "spend": 5},
            {"channel": "A", "spend": 999, "date_to": "2023-12-31"},  # before the range: left out
        ],
        date_from="2024-01-01",
    )
    result = attribution(data, spec)
    frame = result.to_frame().set_index("channel")
    a, b, c = frame.loc["A"], frame.loc["B"], frame.loc["C"]
    assert (a.conversions, a.value, a.spend, a.cpa, a.roas, a.roi) == (2, 100, 50, 25, 2, 1)
    # Free conversions cost 0 each; return on zero spend is undefined.
    assert (b.spend, b.cpa) == (0, 0)
    assert math.isnan(b.roas)
    assert math.isnan(b.roi)
    assert c.conversions == 0
    assert math.isnan(c.cpa)
    assert c.roas == 0
    assert [w.code for w in result.warnings] == ["COSTS_WITHOUT_TOUCHES"]


def test_path_data_runs_every_path_model_and_says_time_decay_needs_events():
    df = pd.DataFrame(
        {
            "path": ["email > search > direct", "search", "email >direct", "display"],
            "conv": [3, 2, 1, 0],
            "value": [30.0, 10.0, 5.0, 0.0],
            "lost": [5, 10, 2, 20],
        }
    )
    data = PathData(df, conversions_col="conv", value_col="value", non_conversions_col="lost")
    result = attribution(data, AttributionSpec(markov_order=1, direct_label="direct"))
    assert [w.code for w in result.warnings] == ["TIME_DECAY_NEEDS_EVENTS"]
    assert "time_decay" not in result.models
    assert len(result.models) == 7
    totals = result.to_frame().groupby("model")["conversions"].sum()
    assert totals.tolist() == pytest.approx([6.0] * 7)
    assert credit(result, "last_non_direct") == {"search": 5.0, "email": 1.0}
    # Shapley splits each conversion over the distinct channels of its path.
    assert credit(result, "shapley") == pytest.approx({"email": 1.5, "search": 3.0, "direct": 1.5})
    stats = result.statistics
    assert stats.journeys == 43
    assert stats.avg_time_to_conversion_seconds is None
    body = result.to_dict()
    assert body["markov"]["conversion_probability"] == pytest.approx(
        result.markov.conversion_probability
    )
    assert {r["channel"] for r in body["markov"]["removal_effects"]} >= {"email", "search"}
    assert body["top_paths"][0]["path"] == ["email", "search", "direct"]


def test_bad_path_data_is_refused_with_a_clear_error():
    df = pd.DataFrame({"path": ["a > b"], "conv": [-1]})
    with pytest.raises(UnknownNameError):
        PathData(df, path_col="route", conversions_col="conv")
    with pytest.raises(ValidationError):
        PathData(df, conversions_col="conv")
    with pytest.raises(ValidationError):
        PathData(pd.DataFrame({"path": [" > "], "conv": [1]}), conversions_col="conv")


@pytest.mark.parametrize(
    "field",
    [
        {"models": []},
        {"models": ["linear", "linear"]},
        {"models": ["u_shaped"]},
        {"markov_order": 5},
        {"markov_order": 0},
        {"position_weights": [0.5, 0.5, 0.5]},
        {"position_weights": [1.2, -0.4, 0.2]},
        {"position_weights": [0.5, 0.5]},
        {"lookback": "soon"},
        {"half_life": "-1d"},
        {"top_paths": 0},
        {"date_from": "2024-02-01", "date_to": "2024-01-01"},
        {"costs": [{"channel": "Email", "spend": -1}]},
        {"costs": [{"channel": "", "spend": 1}]},
        {
            "costs": [
                {"channel": "Email", "spend": 1, "date_from": "2024-02-01", "date_to": "2024-01-01"}
            ]
        },
        {"direct_label": ""},
        {"touch": {"property": ""}},
        {"conversion": {"event": ""}},
        {"colour": "red"},
    ],
)
def test_a_bad_spec_is_refused(field):
    with pytest.raises(pydantic.ValidationError):
        AttributionSpec.model_validate(field)


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    result = attribution(make_events([]), AttributionSpec())
    assert [w.code for w in result.warnings] == ["NO_JOURNEYS"]
    assert result.to_frame().empty
    assert list(result.to_frame().columns)[:4] == [
        "model",
        "channel",
        "conversions",
        "value",
    ]
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["statistics"]["journeys"] == 0
    assert result.figure().data == ()
    assert result.figure(kind="paths") is not None


def test_journeys_without_a_conversion_warn_and_credit_nothing(make_events):
    result = attribution(make_events([touch("q", 0, "Email")]), AttributionSpec())
    assert [w.code for w in result.warnings] == ["NO_CONVERSIONS"]
    assert result.statistics.journeys == 1
    assert result.to_frame().empty


def test_the_result_is_json_ready_and_draws_both_figures(make_events):
    rows = [touch("r", 0, "Email"), buy("r", 10, 5), touch("s", 0, "Display")]
    spec = AttributionSpec(costs=[{"channel": "Email", "spend": 0}])
    result = attribution(make_events(rows), spec)
    body = result.to_dict()
    assert json.loads(json.dumps(body, allow_nan=False)) == body
    assert body["statistics"]["conversion_rate"] == 0.5
    assert len(result.figure().data) == 8
    assert list(result.figure(kind="paths").data[0].y) == ["Email"]


def test_attribution_is_registered_with_a_runnable_example(make_events):
    entry = get_analysis("attribution")
    spec = AttributionSpec.model_validate(entry.example)
    assert AttributionSpec.model_validate_json(spec.model_dump_json()) == spec
    rows = [touch("t", 0, "Paid Search"), buy("t", 10, 5)]
    assert entry.run(make_events(rows), spec).to_frame()["spend"].notna().any()


@pytest.mark.spark
def test_spark_and_duckdb_give_the_same_attribution(make_events, make_spark_events):
    rows = [
        visit("u", 0, "u1"),
        touch("u", 5, "Email", "u1"),
        touch("u", DAY, "Paid Search"),
        buy("u", DAY + 60, 12, session_id="u2"),
        touch("u", 2 * DAY, "Display"),
        touch("v", 0, "Display", utm_campaign="x"),
        touch("v", 3 * DAY, "Email"),
        buy("v", 3 * DAY + 5, 4),
        {**touch("w", 0, "Email"), "type": "track", "event": "Email Delivered"},
        visit("w", DAY),
    ]
    spec = AttributionSpec(markov_order=2, ignore_direct=True)
    duck = attribution(make_events(rows), spec)
    spark = attribution(make_spark_events(rows), spec)
    pd.testing.assert_frame_equal(duck.to_frame(), spark.to_frame())
    assert duck.to_dict() == spark.to_dict()
