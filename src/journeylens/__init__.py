"""journeylens: open-source customer journey analytics.

>>> import journeylens as jl
>>> ws = jl.Workspace.open()          # in memory; pass a folder to keep it
"""

from journeylens.analysis import (
    ClustersSpec,
    FunnelSpec,
    FunnelStep,
    HeatmapSpec,
    JourneyMapSpec,
    LifecycleSpec,
    PathsSpec,
    PropertyFilter,
    RetentionSpec,
    RFMSpec,
    SegmentSpec,
    StagesSpec,
    StepMatrixSpec,
    TransitionsSpec,
    TrendsSpec,
    analyses,
    clusters,
    funnel,
    funnel_actors,
    heatmap,
    journey_map,
    lifecycle,
    paths,
    retention,
    rfm,
    run_analysis,
    segment,
    stages,
    step_matrix,
    transitions,
    trends,
)
from journeylens.collect import REJECTION_CODES, IngestReport, Rejection
from journeylens.errors import JourneyLensError
from journeylens.settings import EnrichSettings, IdentitySettings, IngestSettings, Settings
from journeylens.simulate import Simulation, simulate
from journeylens.workspace import Workspace

__all__ = [
    "REJECTION_CODES",
    "ClustersSpec",
    "EnrichSettings",
    "FunnelSpec",
    "FunnelStep",
    "HeatmapSpec",
    "IdentitySettings",
    "IngestReport",
    "IngestSettings",
    "JourneyLensError",
    "JourneyMapSpec",
    "LifecycleSpec",
    "PathsSpec",
    "PropertyFilter",
    "RFMSpec",
    "Rejection",
    "RetentionSpec",
    "SegmentSpec",
    "Settings",
    "Simulation",
    "StagesSpec",
    "StepMatrixSpec",
    "TransitionsSpec",
    "TrendsSpec",
    "Workspace",
    "analyses",
    "clusters",
    "funnel",
    "funnel_actors",
    "heatmap",
    "journey_map",
    "lifecycle",
    "paths",
    "retention",
    "rfm",
    "run_analysis",
    "segment",
    "simulate",
    "stages",
    "step_matrix",
    "transitions",
    "trends",
]

__version__ = "0.1.0"
