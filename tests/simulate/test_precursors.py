"""Precursors of churn: off by default and exactly as before; on, churners fade before they stop."""

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from journeylens.errors import ValidationError
from journeylens.simulate import simulate
from journeylens.simulate.config import make_config
from journeylens.simulate.population import make_population
from journeylens.simulate.precursors import fading, in_warning, thin

WARNING = 28
START = datetime(2026, 1, 1, tzinfo=UTC)  # the simulator's first day


@pytest.fixture(scope="module")
def fading_shop():
    """90 days of 1,500 customers, half of them churners who fade over four weeks."""
    return simulate(1_500, 90, seed=3, churn_share=0.5, churn_warning_days=WARNING)


def _population(warning_days: int):
    cfg = make_config(300, 60, seed=2, churn_share=0.5, churn_warning_days=warning_days)
    return cfg, make_population(cfg, 0, 300, np.random.default_rng(0))


def test_the_option_off_is_the_default_and_draws_nothing():
    assert simulate(300, 20, seed=5).events.equals(
        simulate(300, 20, seed=5, churn_warning_days=0).events
    )
    assert simulate(300, 20, seed=5).truth.churn_warning_days == 0
    cfg, pop = _population(0)
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    visits = {"person": np.arange(pop.n), "start_us": np.full(pop.n, cfg.start_us)}
    assert thin(cfg, pop, visits, rng) is visits
    assert rng.bit_generator.state == state
    assert (fading(cfg, pop, visits["person"], visits["start_us"]) == 1.0).all()
    assert not in_warning(cfg, pop, visits["person"], visits["start_us"]).any()


def test_fading_falls_linearly_to_the_floor_at_the_churn_day_for_churners_only():
    cfg, pop = _population(10)
    day_us = 86_400_000_000
    churner = np.flatnonzero(pop.churned & (pop.active_to_day >= 10))[0]
    stayer = np.flatnonzero(~pop.churned)[0]
    c = pop.active_to_day[churner]
    days = np.array([c - 11, c - 10, c - 5, c - 1e-6])
    ts = (cfg.start_us + days * day_us).astype(np.int64)
    np.testing.assert_allclose(
        fading(cfg, pop, np.full(4, churner), ts), [1.0, 1.0, 0.55, 0.1], atol=1e-6
    )
    assert (fading(cfg, pop, np.full(4, stayer), ts) == 1.0).all()
    assert in_warning(cfg, pop, np.full(4, churner), ts).tolist() == [False, True, True, True]


def _days(sim, events: pa.Table):
    """The events with their author's ``person_key`` and ``day`` (fractional, from START)."""
    rows = events.select(["message_id", "timestamp"]).join(sim.truth.messages, "message_id")
    rows = rows.to_pandas()
    return rows.assign(day=(rows.timestamp - START).dt.total_seconds() / 86_400)


def _per_window(sim, events: pa.Table, warning: int) -> tuple[int, int]:
    """Events of churners seen from before the weeks leading up to their warning window, in
    the window and in the same length of time before it."""
    churn = sim.truth.churners.to_pandas().set_index("person_key").churn_day
    first = _days(sim, sim.events).groupby("person_key").day.min()
    early = churn.index[churn.sub(2 * warning).ge(first.reindex(churn.index))]
    rows = _days(sim, events)
    rows = rows[rows.person_key.isin(early)]
    into = rows.day - (rows.person_key.map(churn) - warning)
    return int(((into >= 0) & (into < warning)).sum()), int(((into >= -warning) & (into < 0)).sum())


def test_churners_visit_and_open_less_in_their_warning_window(fading_shop):
    sim = fading_shop
    assert sim.truth.churn_warning_days == WARNING
    ev = sim.events.select(["message_id", "timestamp", "type", "event", "source"])
    visits = ev.filter(pc.is_in(ev["message_id"], sim.truth.visits["message_id"]))
    in_window, before = _per_window(sim, visits, WARNING)
    # A linear fall to a tenth keeps 55% on average; allow for Poisson noise.
    assert in_window < 0.7 * before, (in_window, before)
    # The same persons without precursors keep their pace up to the churn day.
    plain = simulate(1_500, 90, seed=3, churn_share=0.5)
    plain_visits = pc.is_in(plain.events["message_id"], plain.truth.visits["message_id"])
    in_window, before = _per_window(plain, plain.events.filter(plain_visits), WARNING)
    assert in_window > 0.9 * before, (in_window, before)
    opens = ev.filter(pc.equal(ev["event"], "Email Opened"))
    sends = ev.filter(pc.equal(ev["event"], "Email Delivered"))
    opened_in, opened_before = _per_window(sim, opens, WARNING)
    sent_in, sent_before = _per_window(sim, sends, WARNING)
    assert opened_in / sent_in < 0.75 * opened_before / sent_before


def test_feedback_in_the_warning_window_is_unhappy(fading_shop):
    sim = fading_shop
    feedback = sim.truth.feedback.to_pandas()
    stamps = sim.events.select(["message_id", "timestamp"]).to_pandas()
    feedback = feedback.merge(stamps, on="message_id")
    churn = sim.truth.churners.to_pandas().set_index("person_key").churn_day
    day = (feedback.timestamp - START).dt.total_seconds() / 86_400
    warned = feedback.person_key.map(churn).sub(WARNING).le(day)
    assert warned.sum() > 20
    assert feedback.nps[warned].mean() < feedback.nps[~warned].mean() - 2


def test_a_bad_warning_window_is_refused():
    for bad in (-1, 366, 2.5, True):
        with pytest.raises(ValidationError, match="churn_warning_days"):
            simulate(10, churn_warning_days=bad)
