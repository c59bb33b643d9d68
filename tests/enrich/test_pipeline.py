"""enrich(): every event gets a channel, a session and a stage, the same on DuckDB and Spark."""

from __future__ import annotations

import doctest
import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import ibis
import pandas as pd
import pytest

from journeylens.enrich import enrich
from journeylens.errors import ValidationError
from journeylens.schema import CHANNELS, STAGES
from journeylens.settings import EnrichSettings
from journeylens.simulate import simulate

EventsBuilder = Callable[[list[dict[str, Any]]], ibis.Table]

SITE = "https://shop.example.com/"
NEW_COLUMNS = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "default_channel_group",
    "touch_channel",
    "session_index",
    "session_id",
    "stage",
    "channel",
]


def view(minute: float, person: str = "p1", referrer: str | None = None, **kw: Any) -> dict:
    fields = {"url": kw.pop("url", SITE), **({"referrer": referrer} if referrer else {})}
    context = {"page": fields, **kw.pop("context", {})}
    return {
        "type": "page",
        "event": "Home",
        "person_id": person,
        "timestamp": minute,
        "context": context,
        **kw,
    }


def journeys() -> list[dict[str, Any]]:
    """Three people; sessions acquired through search, a paid click, nothing, and an email."""
    rows = [
        # p1: direct page view, then an organic search landing 5 minutes later, same session
        view(0),
        view(5, referrer="https://www.google.com/"),
        {"event": "Product Viewed", "timestamp": 6, "person_id": "p1"},
        view(7, referrer=SITE + "p/1"),
        # p1, 2 hours later: a paid click, then a purchase on the server
        view(120, url=SITE + "?gclid=Cj0&x=1"),
        {"event": "Order Completed", "timestamp": 125, "person_id": "p1", "revenue": 42.5},
        # p2: nothing at all, an identify, then an email click in a new session
        view(0, person="p2"),
        {"type": "identify", "timestamp": 1, "person_id": "p2", "traits": {"email": "a@b.c"}},
        {
            "event": "Email Link Clicked",
            "timestamp": 300,
            "person_id": "p2",
            "context": {"channel": "email"},
        },
        view(301, person="p2", url=SITE + "?utm_source=newsletter&utm_medium=email"),
        # p3: a WhatsApp message, a store visit and a call, with ties and odd JSON text
        view(
            0,
            person="p3",
            context={
                "campaign": {
                    "source": "whatsapp",
                    "medium": "WhatsApp",
                    "name": 'Spring "VIP" / café',
                }
            },
        ),
        {
            "event": "Store Visit",
            "timestamp": 0,
            "person_id": "p3",
            "context": {"channel": "store"},
            "message_id": "m0100",
        },
        {
            "event": "product_reviewed",
            "timestamp": 0.0125,
            "person_id": "p3",
            "context": {"channel": "call_centre"},
        },
        view(40, person="p3", referrer="https://m.facebook.com/", properties={"search": "?q=1"}),
        view(41, person="p3", referrer="https://www.bing.com/", url=SITE + "?fbclid=Iw"),
        {"event": "Order Refunded", "timestamp": 42, "person_id": None},
    ]
    return rows


@pytest.fixture(scope="module")
def enriched(duck: ibis.BaseBackend, make_events: EventsBuilder) -> pd.DataFrame:
    out = enrich(make_events(journeys()), EnrichSettings(own_domains=("example.com",)))
    return duck.execute(out.order_by("message_id")).set_index("message_id")


def test_enrich_adds_exactly_the_documented_columns(
    make_events: EventsBuilder, enriched: pd.DataFrame
) -> None:
    added = [c for c in enriched.columns if c not in make_events([{}]).columns]
    assert added == NEW_COLUMNS


def test_a_touch_keeps_its_own_channel(enriched: pd.DataFrame) -> None:
    touches = enriched[enriched.touch_channel.notna()]
    assert (touches.channel == touches.touch_channel).all()
    assert set(touches.channel) == {
        "Organic Search",
        "Paid Search",
        "Email",
        "WhatsApp",
        "Offline Store",
        "Call Centre",
        "Organic Social",
    }


def test_other_events_take_the_first_touch_of_their_session_or_direct(
    enriched: pd.DataFrame,
) -> None:
    by_person = {
        person: frame.sort_values(["timestamp"]).channel.tolist()
        for person, frame in enriched.groupby("person_id")
    }
    assert by_person["p1"] == ["Organic Search"] * 4 + ["Paid Search"] * 2
    assert by_person["p2"] == ["Direct", "Direct", "Email", "Email"]
    assert enriched.loc[enriched.person_id.isna(), "channel"].tolist() == ["Direct"]


def test_every_channel_and_stage_is_a_known_value(enriched: pd.DataFrame) -> None:
    assert set(enriched.channel) <= set(CHANNELS)
    assert set(enriched.stage.dropna()) <= set(STAGES)
    assert enriched.loc[enriched.type == "identify", "stage"].isna().all()


def test_missing_columns_are_all_named_in_one_error(make_events: EventsBuilder) -> None:
    events = make_events([{}]).drop("person_id", "timestamp")
    with pytest.raises(ValidationError, match=r"enrich needs columns .*: person_id, timestamp"):
        enrich(events, EnrichSettings())


@pytest.mark.parametrize(
    "module", ["channels", "sessions", "stages", "pipeline", "ga4", "traffic", "sources"]
)
def test_the_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"journeylens.enrich.{module}")
    assert doctest.testmod(mod, optionflags=doctest.ELLIPSIS).failed == 0


def test_the_planted_channel_of_every_simulated_visit_is_recovered(
    duck: ibis.BaseBackend,
) -> None:
    sim = simulate(300, 30, seed=7)
    events = ibis.memtable(sim.events)
    # The true author of every message stands in for identity resolution.
    authors = ibis.memtable(sim.truth.messages.select(["message_id", "person_key"]))
    events = events.join(authors, "message_id").mutate(person_id=ibis._.person_key.cast("string"))
    visits = ibis.memtable(sim.truth.visits.select(["message_id", "channel"])).rename(
        planted="channel"
    )
    out = duck.execute(
        enrich(events.drop("person_key"))
        .join(visits, "message_id")
        .select("planted", "touch_channel", "channel")
    )
    assert len(out) == sim.truth.visits.num_rows
    # A Direct visit carries no touch; every other visit is a touch of its planted channel.
    assert (out.touch_channel.fillna("Direct") == out.planted).all()
    touched = out[out.planted != "Direct"]
    assert (touched.channel == touched.planted).all()


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    # Engines return different dtypes (int32 vs int64, NaN vs None); compare the values.
    frame = frame.sort_values("message_id").reset_index(drop=True)
    stamps = frame["timestamp"]
    stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    frame["timestamp"] = stamps.astype("datetime64[us, UTC]")
    frame = frame.drop(columns=["received_at"])
    return frame.astype(object).where(frame.notna(), None)


@pytest.mark.spark
def test_duckdb_and_spark_give_the_same_rows(
    duck: ibis.BaseBackend,
    spark: ibis.BaseBackend,
    make_events: EventsBuilder,
    spark_events: EventsBuilder,
) -> None:
    settings = EnrichSettings(session_timeout=timedelta(minutes=30), own_domains=("example.com",))
    on_duck = _comparable(duck.execute(enrich(make_events(journeys()), settings)))
    on_spark = _comparable(spark.execute(enrich(spark_events(journeys()), settings)))
    pd.testing.assert_frame_equal(on_duck, on_spark, check_dtype=False)
