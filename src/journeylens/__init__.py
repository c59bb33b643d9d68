"""journeylens: open-source customer journey analytics.

>>> import journeylens as jl
>>> ws = jl.Workspace.open()          # in memory; pass a folder to keep it
"""

from journeylens.collect import REJECTION_CODES, IngestReport, Rejection
from journeylens.errors import JourneyLensError
from journeylens.settings import EnrichSettings, IdentitySettings, IngestSettings, Settings
from journeylens.simulate import Simulation, simulate
from journeylens.workspace import Workspace

__all__ = [
    "REJECTION_CODES",
    "EnrichSettings",
    "IdentitySettings",
    "IngestReport",
    "IngestSettings",
    "JourneyLensError",
    "Rejection",
    "Settings",
    "Simulation",
    "Workspace",
    "simulate",
]

__version__ = "0.1.0"
