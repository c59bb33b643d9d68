"""journeylens: open-source customer journey analytics.

>>> import journeylens as jl
>>> ws = jl.Workspace.open()          # in memory; pass a folder to keep it
"""

from journeylens import stats
from journeylens.analysis import (
    AttributionSpec,
    ChannelCost,
    ClustersSpec,
    ExperimentSpec,
    FunnelSpec,
    FunnelStep,
    HeatmapSpec,
    JourneyMapSpec,
    LifecycleSpec,
    PathData,
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
    attribution,
    clusters,
    experiment,
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
from journeylens.feedback.drivers import DriversSpec, drivers
from journeylens.feedback.emotion import EmotionSpec, emotion
from journeylens.feedback.nps import NpsSpec, nps
from journeylens.feedback.source import FeedbackSource, feedback_table
from journeylens.feedback.survey_import import SurveyExportMapping, survey_export_to_messages
from journeylens.feedback.surveys import Question, Survey, parse_survey
from journeylens.feedback.topics import TopicsSpec, topic_members, topics
from journeylens.settings import EnrichSettings, IdentitySettings, IngestSettings, Settings
from journeylens.simulate import Simulation, simulate
from journeylens.workspace import Workspace

__all__ = [
    "REJECTION_CODES",
    "AttributionSpec",
    "BetaGeo",
    "ChannelCost",
    "ClustersSpec",
    "DriversSpec",
    "EmotionSpec",
    "EnrichSettings",
    "ExperimentSpec",
    "FeedbackSource",
    "FunnelSpec",
    "FunnelStep",
    "GammaGamma",
    "HeatmapSpec",
    "IdentitySettings",
    "IngestReport",
    "IngestSettings",
    "JourneyLensError",
    "JourneyMapSpec",
    "LifecycleSpec",
    "NpsSpec",
    "PathData",
    "PathsSpec",
    "PropertyFilter",
    "Question",
    "RFMSpec",
    "Rejection",
    "RetentionSpec",
    "SegmentSpec",
    "Settings",
    "Simulation",
    "StagesSpec",
    "StepMatrixSpec",
    "Survey",
    "SurveyExportMapping",
    "TopicsSpec",
    "TransitionsSpec",
    "TrendsSpec",
    "Workspace",
    "analyses",
    "attribution",
    "clusters",
    "drivers",
    "emotion",
    "experiment",
    "feedback_table",
    "funnel",
    "funnel_actors",
    "heatmap",
    "journey_map",
    "lifecycle",
    "nps",
    "parse_survey",
    "paths",
    "predict",
    "retention",
    "rfm",
    "run_analysis",
    "segment",
    "simulate",
    "stages",
    "stats",
    "step_matrix",
    "survey_export_to_messages",
    "topic_members",
    "topics",
    "transitions",
    "trends",
]

__version__ = "0.1.0"

#: Loaded on first use: the predictive models pull in LightGBM, which the CLI and the analyses
#: do not need at start-up.
_LAZY = {"BetaGeo", "GammaGamma", "predict"}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'journeylens' has no attribute {name!r}")
    import journeylens.predict

    return journeylens.predict if name == "predict" else getattr(journeylens.predict, name)
