"""Predictions: propensity, lifetime value, recommendations, send time and channel.

Features are pure Ibis functions over ``ws.events()`` as of a cut-off; models follow the
scikit-learn estimator contract; :mod:`~journeylens.predict.predictors` names every model for
``journeylens train`` / ``journeylens predict``, which store scores in the predictions table.
"""

from journeylens.predict.bgnbd import BetaGeo
from journeylens.predict.channel_preference import preferred_channel
from journeylens.predict.clv import clv_summary, customer_lifetime_value, predict_clv
from journeylens.predict.clv_report import ClvReport, clv_report
from journeylens.predict.evaluation import PropensityReport
from journeylens.predict.features import FeatureSpec, person_features
from journeylens.predict.gamma_gamma import GammaGamma
from journeylens.predict.persistence import ModelCard, load_model, model_path, save_model
from journeylens.predict.predictors import PREDICTORS, Predictor, get_predictor
from journeylens.predict.propensity import (
    predictive_segment,
    score_propensity,
    train_propensity,
)
from journeylens.predict.propensity_model import PropensityModel
from journeylens.predict.recommend import ItemItemRecommender, PopularityRecommender, recommend
from journeylens.predict.recommend_eval import RecommendationReport, evaluate_recommendations
from journeylens.predict.runner import default_as_of, score_model, train_model
from journeylens.predict.scores import prediction_rows
from journeylens.predict.send_time import best_send_time

__all__ = [
    "PREDICTORS",
    "BetaGeo",
    "ClvReport",
    "FeatureSpec",
    "GammaGamma",
    "ItemItemRecommender",
    "ModelCard",
    "PopularityRecommender",
    "Predictor",
    "PropensityModel",
    "PropensityReport",
    "RecommendationReport",
    "best_send_time",
    "clv_report",
    "clv_summary",
    "customer_lifetime_value",
    "default_as_of",
    "evaluate_recommendations",
    "get_predictor",
    "load_model",
    "model_path",
    "person_features",
    "predict_clv",
    "prediction_rows",
    "predictive_segment",
    "preferred_channel",
    "recommend",
    "save_model",
    "score_model",
    "score_propensity",
    "train_model",
    "train_propensity",
]
