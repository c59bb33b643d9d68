"""Analyses: pure functions ``x(events, spec) -> XResult`` over an Ibis events table.

Importing this package registers every built-in analysis in
:mod:`journeylens.analysis.registry`, which the CLI, the API and the dashboard read.
"""

from journeylens.analysis.attribution import (
    AttributionResult,
    AttributionSpec,
    ChannelCost,
    PathData,
    attribution,
)
from journeylens.analysis.base import AnalysisWarning, Result, Spec
from journeylens.analysis.clusters import ClustersResult, ClustersSpec, clusters
from journeylens.analysis.experiment import ExperimentResult, ExperimentSpec, experiment
from journeylens.analysis.filters import PropertyFilter
from journeylens.analysis.funnel import (
    FunnelResult,
    FunnelSpec,
    FunnelStep,
    funnel,
    funnel_actors,
)
from journeylens.analysis.heatmap import HeatmapResult, HeatmapSpec, heatmap
from journeylens.analysis.journey_map import JourneyMapResult, JourneyMapSpec, journey_map
from journeylens.analysis.lifecycle import LifecycleResult, LifecycleSpec, lifecycle
from journeylens.analysis.paths import PathsResult, PathsSpec, paths
from journeylens.analysis.registry import (
    Analysis,
    analyses,
    get_analysis,
    parse_spec,
    register,
    run_analysis,
)
from journeylens.analysis.retention import RetentionResult, RetentionSpec, retention
from journeylens.analysis.rfm import RFMResult, RFMSpec, rfm
from journeylens.analysis.segments import SegmentResult, SegmentSpec, segment
from journeylens.analysis.stages import StagesResult, StagesSpec, stages
from journeylens.analysis.step_matrix import StepMatrixResult, StepMatrixSpec, step_matrix
from journeylens.analysis.transitions import TransitionsResult, TransitionsSpec, transitions
from journeylens.analysis.trends import TrendsResult, TrendsSpec, trends

__all__ = [
    "Analysis",
    "AnalysisWarning",
    "AttributionResult",
    "AttributionSpec",
    "ChannelCost",
    "ClustersResult",
    "ClustersSpec",
    "ExperimentResult",
    "ExperimentSpec",
    "FunnelResult",
    "FunnelSpec",
    "FunnelStep",
    "HeatmapResult",
    "HeatmapSpec",
    "JourneyMapResult",
    "JourneyMapSpec",
    "LifecycleResult",
    "LifecycleSpec",
    "PathData",
    "PathsResult",
    "PathsSpec",
    "PropertyFilter",
    "RFMResult",
    "RFMSpec",
    "Result",
    "RetentionResult",
    "RetentionSpec",
    "SegmentResult",
    "SegmentSpec",
    "Spec",
    "StagesResult",
    "StagesSpec",
    "StepMatrixResult",
    "StepMatrixSpec",
    "TransitionsResult",
    "TransitionsSpec",
    "TrendsResult",
    "TrendsSpec",
    "analyses",
    "attribution",
    "clusters",
    "experiment",
    "funnel",
    "funnel_actors",
    "get_analysis",
    "heatmap",
    "journey_map",
    "lifecycle",
    "parse_spec",
    "paths",
    "register",
    "retention",
    "rfm",
    "run_analysis",
    "segment",
    "stages",
    "step_matrix",
    "transitions",
    "trends",
]
