import pytest

from journeylens.simulate import Simulation, simulate


@pytest.fixture(scope="session")
def sim() -> Simulation:
    """One small simulation shared by the simulate tests (about 70k events)."""
    return simulate(1_500, 60, seed=3)
