"""Fixtures of the predict tests: the analysis tests' event builders and one planted business."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import pandas as pd
import pytest

import journeylens as jl
from tests.analysis.conftest import make_events, make_spark_events

__all__ = ["make_events", "make_spark_events", "planted"]


@pytest.fixture(scope="session")
def planted() -> tuple[ibis.Table, pd.DataFrame, datetime]:
    """2,000 simulated customers over 90 days (seed 1), identities resolved as a user would.

    Returns:
        ``(events, persons, as_of)``: the enriched events (cached); one row per resolved
        ``person_id`` with the planted person it mostly stands for (majority of its messages)
        and that person's planted truth (``preferred_hour``, ``preferred_channel``,
        ``planted_timezone``, …); and a cut-off just after the last event.
    """
    sim = jl.simulate(customers=2000, days=90, seed=1)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    ws.resolve_identities()
    events = ws.events().cache()
    keys = ibis.memtable(sim.truth.messages.select(["message_id", "person_key"]))
    votes = events.join(keys, "message_id").group_by(["person_id", "person_key"])
    owner = votes.agg(n=ibis._.count()).to_pandas().sort_values("n")
    owner = owner.drop_duplicates("person_id", keep="last")[["person_id", "person_key"]]
    truth: Any = sim.truth.persons.to_pandas().rename(columns={"timezone": "planted_timezone"})
    as_of = events.timestamp.max().to_pyarrow().as_py() + timedelta(seconds=1)
    return events, owner.merge(truth, on="person_key"), as_of
