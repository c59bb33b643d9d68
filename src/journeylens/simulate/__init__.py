"""Realistic multi-channel customer data with planted, known truth.

``simulate`` generates the events of a shop that sells on the web, in apps, in store and by
phone, and talks to its customers by e-mail, SMS, push and WhatsApp, and returns the truth it
planted (who each identifier really is, each channel's true effect, churners, best send hours,
experiment lifts, feedback sentiment). ``write_parquet`` streams the same data to disk at any
scale. Analyses are tested by recovering that truth.

>>> from journeylens.simulate import simulate
>>> sim = simulate(300, 30, seed=7)
>>> authors = set(sim.truth.messages["person_key"].to_pylist())
>>> authors <= set(sim.truth.persons["person_key"].to_pylist())
True
"""

from journeylens.simulate.config import COHORT_SIZE, EXPERIMENTS
from journeylens.simulate.parquet import WriteSummary, write_parquet
from journeylens.simulate.simulation import Simulation, simulate
from journeylens.simulate.truth import Truth

__all__ = [
    "COHORT_SIZE",
    "EXPERIMENTS",
    "Simulation",
    "Truth",
    "WriteSummary",
    "simulate",
    "write_parquet",
]
