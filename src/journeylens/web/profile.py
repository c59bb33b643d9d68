"""The 360° profile of one customer, as the dashboard shows it: ``Workspace.person`` (who they
are, how they are known, their segments, what the models predict and why) and their journal
across every channel (``profiles.person_timeline`` over the filtered events), each entry tagged
with what kind of moment it was and, for feedback, what was said and with which sentiment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from journeylens.feedback.sentiment import score_texts
from journeylens.feedback.source import DEFAULT_FEEDBACK_EVENTS, FeedbackSource
from journeylens.profiles import TIMELINE_COLUMNS, person_timeline
from journeylens.web.scope import Scope

__all__ = ["TIMELINE_PAGE", "Profile", "journal", "profile"]

#: Journal entries per page.
TIMELINE_PAGE = 50
#: Entries per query when the whole journal is downloaded.
_EXPORT_PAGE = 5000

_PURCHASES = ("Order Completed", "Order Refunded")
_FEEDBACK = DEFAULT_FEEDBACK_EVENTS
_TEXT_KEYS = FeedbackSource().text_properties
_MESSAGE_PREFIXES = ("Email ", "SMS ", "Push ", "WhatsApp ", "Call ")


@dataclass(frozen=True)
class Profile:
    """Everything the profile page shows.

    Attributes:
        person: ``Workspace.person``'s fields (``traits``, ``identifiers``, ``scores`` with
            ``reasons``, ``segments``, first and last seen, counts).
        journal: one page of entries, newest first (see :func:`journal`).
        next_cursor: where the next, older page starts (None on the last page).
        first_page: whether this is the newest page.
    """

    person: dict[str, Any]
    journal: pd.DataFrame
    next_cursor: str | None
    first_page: bool


def profile(scope: Scope, person_id: str, cursor: str | None = None) -> Profile:
    """The profile of ``person_id``; the journal keeps to the page filters (dates, channel).

    Returns:
        A :class:`Profile`. An unknown person raises ``NotFoundError`` (404); a malformed
        ``cursor`` a ``ValidationError``.
    """
    person = scope.workspace.person(person_id, members=scope.segment)
    page = person_timeline(scope.events(), person_id, cursor=cursor, limit=TIMELINE_PAGE)
    return Profile(person, _frame(page["events"]), page["next_cursor"], cursor is None)


def journal(scope: Scope, person_id: str) -> pd.DataFrame:
    """Every journal entry of the person inside the filters, newest first.

    Returns:
        One row per event: ``kind`` (purchase, message, feedback, visit, identity or
        activity), ``profiles.TIMELINE_COLUMNS``, and for feedback with text
        ``feedback_text``, ``sentiment`` (negative|neutral|positive) and ``sentiment_score``
        (in [-1, 1]); null on other entries.
    """
    scope.workspace.person(person_id, members=scope.segment)  # an unknown id is a 404
    events = scope.events()
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = person_timeline(events, person_id, cursor=cursor, limit=_EXPORT_PAGE)
        rows += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))
    kinds = [_kind(t, e) for t, e in zip(frame["type"], frame["event"], strict=True)]
    frame.insert(0, "kind", kinds)
    return _with_sentiment(frame)


def _with_sentiment(frame: pd.DataFrame) -> pd.DataFrame:
    """The feedback text of each feedback entry (the first non-blank text property, as the
    default ``FeedbackSource`` reads it) with its sentiment label and score."""
    texts = [
        _feedback_text(props) if kind == "feedback" else None
        for kind, props in zip(frame["kind"], frame["properties"], strict=True)
    ]
    scores = score_texts(texts)
    return frame.assign(
        feedback_text=np.asarray(texts, dtype=object),
        sentiment=scores.label,
        sentiment_score=scores.score,
    )


def _feedback_text(properties: Any) -> str | None:
    if not isinstance(properties, dict):
        return None
    for key in _TEXT_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _kind(kind: str, event: str | None) -> str:
    """What a journal entry is, for its badge."""
    if kind in ("identify", "alias", "group"):
        return "identity"
    if kind in ("page", "screen"):
        return "visit"
    name = event or ""
    if name in _PURCHASES:
        return "purchase"
    if name in _FEEDBACK:
        return "feedback"
    if name.startswith(_MESSAGE_PREFIXES):
        return "message"
    return "activity"
