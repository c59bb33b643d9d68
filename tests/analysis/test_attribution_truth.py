"""Attribution against planted truth: an assisting channel is found by Markov and Shapley, and
missed by last touch.

The simulator plants three channels of similar reach (5–7 % of self-initiated visits each):

- Display: no effect on the visit it brings (same-visit effect 0) but a strong *assist*: each of
  the person's visits in the next 7 days converts with +0.5 probability;
- Referral: +0.08 on the visit it brings, no assist;
- Organic Social: no effect at all.

So the planted order of incremental effect per touch is Display > Referral > Organic Social.

Why last touch fails: the orders Display causes happen on *later* visits, which arrive through
other channels (Direct, search, e-mail…), so last touch hands them to those channels. Display is
credited only with the orders of its own visits, which convert at the base rate like Organic
Social's, while Referral's same-visit effect is credited in full: last touch ranks Referral
first. Markov (order 2, which sees that "Display, then a visit" converts more than the same
visit without Display) and Shapley (which splits each conversion over every distinct channel
of the journey, so Display shares in the orders it assisted) put Display first.

Attributed totals also grow with reach (a channel in more journeys collects more credit whatever
its effect), and the planted effects are per touch, so the ranking compares attributed
conversions per journey that touched the channel.
"""

from __future__ import annotations

import pytest

import journeylens as jl
from journeylens.analysis.attribution import AttributionSpec, attribution
from journeylens.analysis.attribution_journeys import journey_paths, journey_touches
from tests.analysis.conftest import by_true_person

PLANTED_ORDER = ["Display", "Referral", "Organic Social"]


@pytest.fixture(scope="module")
def planted():
    sim = jl.simulate(
        customers=2000,
        days=45,
        seed=3,
        channel_effects={"Display": 0.0, "Referral": 0.08, "Organic Social": 0.0},
        assist_channels={"Display": 0.5},
        assist_days=7,
    )
    events = by_true_person(sim).cache()
    spec = AttributionSpec(models=["last_touch", "markov", "shapley"], markov_order=2, value=None)
    result = attribution(events, spec)
    touches = journey_touches(
        events,
        conversion=spec.conversion,
        value=None,
        touch=spec.touch,
        lookback=spec.lookback,
    )
    counts = journey_paths(touches, None).counts
    reach: dict[str, float] = {}
    for path, won, lost in zip(
        counts.paths, counts.conversions, counts.non_conversions, strict=True
    ):
        for channel in set(path):
            reach[channel] = reach.get(channel, 0.0) + won + lost
    return result, reach


def ranking(result, reach: dict[str, float], model: str) -> list[str]:
    """The planted channels by attributed conversions per journey that touched them."""
    frame = result.to_frame()
    credit = frame[frame["model"] == model].set_index("channel")["conversions"]
    return sorted(PLANTED_ORDER, key=lambda c: -credit[c] / reach[c])


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_markov_and_shapley_rank_channels_in_the_planted_order(planted, model):
    result, reach = planted
    assert ranking(result, reach, model) == PLANTED_ORDER


def test_last_touch_misses_the_assisting_channel(planted):
    result, reach = planted
    order = ranking(result, reach, "last_touch")
    assert order[0] == "Referral"
    assert order.index("Display") > order.index("Referral")


def test_every_model_credits_the_observed_conversions(planted):
    result, _ = planted
    totals = result.to_frame().groupby("model")["conversions"].sum()
    assert totals.to_numpy() == pytest.approx([result.statistics.conversions] * 3)
