"""Voice of the customer: language, embeddings and sentiment of feedback texts.

Importing this package is instant: the e5 model, the sentiment heads and Kiwi are loaded on
first use, not at import. (The ``embed`` function lives in :mod:`journeylens.feedback.embed`
and is not re-exported here, so that name keeps meaning the module.)
"""

from journeylens.feedback.embed import EmbeddingCache, use_cache_dir
from journeylens.feedback.language import detect_language
from journeylens.feedback.sentiment import (
    SentimentModelCard,
    SentimentScores,
    model_card,
    score_texts,
)

__all__ = [
    "EmbeddingCache",
    "SentimentModelCard",
    "SentimentScores",
    "detect_language",
    "model_card",
    "score_texts",
    "use_cache_dir",
]
