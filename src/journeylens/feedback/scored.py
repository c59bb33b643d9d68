"""Feedback rows with their sentiment: the one place the analyses bring texts to Python.

The sentiment model runs in Python, so the feedback texts an analysis reads (a few per person,
never the events around them) are executed out of the engine here, scored with
:func:`~journeylens.feedback.sentiment.score_texts`, and handed back as a small frame.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

import ibis
import pandas as pd

from journeylens.feedback.sentiment import score_texts
from journeylens.feedback.source import FeedbackSource, feedback_table

__all__ = ["SCORE_COLUMNS", "clear_scores", "feedback_in_window", "with_sentiment"]

#: The columns :func:`with_sentiment` adds.
SCORE_COLUMNS = ("language", "label", "score", "confidence")
#: Texts whose scores are kept in the process, most recently used last. A text's sentiment
#: depends only on the text and the shipped heads, so the analyses of one page (topics and
#: emotion read the same texts) and the same page with other settings score a text once.
_MEMO_SIZE = 200_000
_memo: OrderedDict[str, tuple[object, ...]] = OrderedDict()
_memo_lock = threading.Lock()


def feedback_in_window(
    events: ibis.Table,
    source: FeedbackSource,
    *,
    after: datetime | None,
    until: datetime | None,
) -> ibis.Table:
    """The feedback rows (``feedback_table``) that carry text, said in ``(after, until]``.

    Returns:
        An Ibis table with ``feedback_table``'s columns; ``after`` / ``until`` None leave that
        side open.

    >>> ev = ibis.memtable({"message_id": ["1"], "person_id": ["p"], "event": ["chat_message"],
    ...     "timestamp": [None], "channel": [None], "stage": [None], "session_id": [None],
    ...     "properties": ['{"text": "hi"}']})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"))
    >>> feedback_in_window(ev, FeedbackSource(), after=None, until=None).count().execute()
    1
    """
    rows = feedback_table(events, source)
    rows = rows.filter(rows.text.notnull())
    if after is not None:
        rows = rows.filter(rows.timestamp > ibis.literal(after, type="timestamp('UTC')"))
    if until is not None:
        rows = rows.filter(rows.timestamp <= ibis.literal(until, type="timestamp('UTC')"))
    return rows


def with_sentiment(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with a ``text`` column) plus the sentiment of each text; texts the model
    cannot label (blank) are dropped.

    Returns:
        The rows of ``frame`` whose text got a label, in order, index reset, with
        ``language`` (ko|en|other), ``label`` (negative|neutral|positive), ``score``
        (P(positive) − P(negative), in [-1, 1]) and ``confidence`` added. Texts scored before
        in this process are not scored again.
    """
    texts = list(frame["text"])
    with _memo_lock:
        known = {t: _memo[t] for t in dict.fromkeys(texts) if t in _memo}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        fresh = score_texts(missing).to_frame()
        rows = dict(zip(missing, fresh[list(SCORE_COLUMNS)].itertuples(index=False), strict=True))
        known.update(rows)
        with _memo_lock:
            _memo.update(rows)
            while len(_memo) > _MEMO_SIZE:
                _memo.popitem(last=False)
    scores = pd.DataFrame([tuple(known[t]) for t in texts], columns=list(SCORE_COLUMNS))
    out = pd.concat([frame.reset_index(drop=True), scores], axis=1)
    return out[out.label.notna()].reset_index(drop=True)


def clear_scores() -> None:
    """Forget the scores kept in this process (a benchmark's cold start; the embedding cache
    is separate, see :func:`~journeylens.feedback.embed.use_cache_dir`)."""
    with _memo_lock:
        _memo.clear()
