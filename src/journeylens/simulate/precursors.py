"""Precursors of churn: how a churner fades in the days before they stop for good.

Real customers rarely vanish from full activity: in the weeks before they leave they come back
less often, ignore more of the brand's messages and, when they do speak up, complain. With
``SimConfig.churn_warning_days`` = ``W`` > 0 every churner shows that fading in their *warning
window*, the ``W`` days before their churn day ``c``. At a moment ``t`` (in days from the start
of the window, fractional) the churner's engagement is scaled by

    fading(t) = 1                                         for t < c - W (and for non-churners)
    fading(t) = 1 - (1 - FLOOR) * (t - (c - W)) / W       for c - W <= t < c

so it falls linearly from 1 to ``FLOOR`` at the churn day (then activity stops, as before).
The planted precursors are:

- **visits**: each self-initiated web/app visit, store visit and call in the window is kept
  with probability ``fading(t)`` (:func:`thin`), so the visit rate decays;
- **messages**: the chance of opening (and so of clicking) a message sent in the window is
  multiplied by ``fading(t)`` (:func:`fading`, used by :mod:`~journeylens.simulate.messaging`);
  deliveries keep coming, so unanswered deliveries pile up;
- **complaints**: a web/app visit without an order in the window ends with feedback with
  chance ``COMPLAINT_CHANCE`` (0.015 otherwise), and every survey answer or feedback left in
  the window is an unhappy one (the low-score distribution, as after a refunded order;
  :func:`in_warning`, used by :mod:`~journeylens.simulate.feedback`).

With ``W`` = 0 (the default) none of this happens and no random number is drawn, so the data
is exactly the data of a simulation without the option.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from journeylens.simulate.config import SimConfig
from journeylens.simulate.population import Population
from journeylens.simulate.visits import DAY

__all__ = ["COMPLAINT_CHANCE", "FLOOR", "fading", "in_warning", "thin"]

#: Share of their usual engagement a churner has left just before their churn day.
FLOOR: Final = 0.1
#: Chance that a web/app visit without an order in the warning window ends with feedback
#: (0.015 otherwise).
COMPLAINT_CHANCE: Final = 0.25


def fading(cfg: SimConfig, pop: Population, person: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """Per row, the engagement multiplier of ``person`` at ``ts_us`` (see the module formula).

    Returns:
        float64 array in [``FLOOR``, 1]: 1 outside warning windows and when the option is off.
    """
    w = cfg.churn_warning_days
    if w == 0:
        return np.ones(len(person))
    day = (ts_us - cfg.start_us) / DAY
    into = day - (pop.active_to_day[person] - w)
    share = np.clip(into / w, 0.0, 1.0)
    # Non-churners have active_to_day = days, so their rows past it never exist; still, mask.
    return np.where(pop.churned[person] & (into >= 0), 1.0 - (1.0 - FLOOR) * share, 1.0)


def in_warning(cfg: SimConfig, pop: Population, person: np.ndarray, ts_us: np.ndarray):
    """True for rows of a churner inside their warning window (before their churn day).

    Returns:
        bool array; all False when the option is off.
    """
    w = cfg.churn_warning_days
    if w == 0:
        return np.zeros(len(person), dtype=bool)
    churn_us = cfg.start_us + pop.active_to_day[person] * DAY
    return pop.churned[person] & (ts_us >= churn_us - w * DAY) & (ts_us < churn_us)


def thin(cfg: SimConfig, pop: Population, visits: dict, rng: np.random.Generator) -> dict:
    """Drop each visit with probability ``1 - fading`` at its start (the visit rate decays).

    Args:
        visits: a dict of aligned arrays with at least ``person`` and ``start_us`` (as made by
            :func:`~journeylens.simulate.visits.self_initiated` and ``offline``).

    Returns:
        The same dict with only the kept rows; ``visits`` itself, untouched and without a
        random draw, when the option is off.
    """
    if cfg.churn_warning_days == 0:
        return visits
    keep = rng.random(len(visits["person"])) < fading(
        cfg, pop, visits["person"], visits["start_us"]
    )
    return {k: v[keep] for k, v in visits.items()}
