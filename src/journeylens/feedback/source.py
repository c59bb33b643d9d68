"""Which events are feedback, and one tidy row per piece of feedback.

Feedback arrives as ordinary events through every ingest path: a review, a survey answer, a
support ticket, a chat message. Sources name their properties differently (``text``,
``review_body``, ``comment``…; ``rating``, ``score``, ``nps``…), so a :class:`FeedbackSource`
says which events count and where to look, and :func:`feedback_table` reads every feedback event
into the same columns. It is an Ibis expression over the events table: the reading happens in
the engine (DuckDB or Spark), and only what a caller chooses to execute comes back to Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.jsontext import with_json_text

__all__ = ["DEFAULT_FEEDBACK_EVENTS", "FEEDBACK_COLUMNS", "FeedbackSource", "feedback_table"]

#: The event names treated as feedback unless a source says otherwise: the generic names this
#: project documents and the Segment-spec / simulator names.
DEFAULT_FEEDBACK_EVENTS = (
    "review_submitted",
    "survey_answered",
    "ticket_created",
    "chat_message",
    "Product Reviewed",
    "Feedback Submitted",
    "Survey Responded",
)

#: The columns of :func:`feedback_table`, in order.
FEEDBACK_COLUMNS = (
    "message_id",
    "person_id",
    "timestamp",
    "event",
    "text",
    "rating",
    "answer",
    "survey_id",
    "question_id",
    "question_type",
    "channel",
    "stage",
    "session_id",
)


class FeedbackSource(BaseModel):
    """Where feedback lives in the events.

    Attributes:
        events: the event names that are feedback.
        text_properties: property keys holding the free text, tried in order; the first one
            that is not blank wins.
        rating_properties: property keys holding a numeric rating or score, tried in order;
            the first one that reads as a number wins.
        answer_properties: property keys holding a choice answer (text), tried in order.
        survey_id_property: the property naming the survey an answer belongs to.
        question_id_property: the property naming the question answered.

    >>> FeedbackSource(events=["nps_answer"]).events
    ('nps_answer',)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: tuple[str, ...] = Field(DEFAULT_FEEDBACK_EVENTS, min_length=1)
    text_properties: tuple[str, ...] = Field(
        ("text", "review_body", "comment", "message", "body"), min_length=1
    )
    rating_properties: tuple[str, ...] = Field(("rating", "score", "nps"), min_length=1)
    answer_properties: tuple[str, ...] = Field(("answer", "choice"), min_length=1)
    survey_id_property: str = Field("survey_id", min_length=1)
    question_id_property: str = Field("question_id", min_length=1)

    @field_validator("events", "text_properties", "rating_properties", "answer_properties")
    @classmethod
    def _no_blank_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name.strip() for name in names):
            raise ValueError("names must not be blank")
        if len(set(names)) != len(names):
            raise ValueError(f"names must be unique, got {list(names)}")
        return names


def feedback_table(
    events: ibis.Table, source: FeedbackSource | None = None, *, keep: Sequence[str] = ()
) -> ibis.Table:
    """One row per feedback event, read the same way on every engine.

    Args:
        events: a ``Workspace.events()`` table (DuckDB or Spark).
        source: which events are feedback and where their fields are; default
            :class:`FeedbackSource` ().
        keep: more columns of ``events`` to carry along, after the standard ones (e.g. a
            breakdown column added with ``with_property``).

    Returns:
        An Ibis table (unexecuted) with one row per event whose name is in ``source.events``,
        including rows without a person (anonymous feedback still says something), with:

        - ``message_id``, ``person_id`` (null when unresolved), ``timestamp`` (UTC), ``event``;
        - ``text``: the first of ``source.text_properties`` that is not blank, as sent; null
          when none is;
        - ``rating`` (float64): the first of ``source.rating_properties`` that reads as a
          number; null when none does;
        - ``answer``: the first of ``source.answer_properties`` that is not blank (a choice);
        - ``survey_id``, ``question_id``, ``question_type`` (``nps``, ``csat``, ``choice``,
          ``text`` as the survey import writes it): text, null when absent;
        - ``channel``, ``stage``, ``session_id``: the event's own columns.

    >>> ev = ibis.memtable({
    ...     "message_id": ["1", "2"], "person_id": ["p", "q"], "event": ["Survey Responded", "x"],
    ...     "timestamp": [None, None], "channel": [None, None], "stage": [None, None],
    ...     "session_id": [None, None],
    ...     "properties": ['{"nps": 9, "comment": " ", "text": "great"}', "{}"]})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"))
    >>> feedback_table(ev).select("text", "rating").to_pyarrow().to_pylist()
    [{'text': 'great', 'rating': 9.0}]
    """
    source = source or FeedbackSource()
    rows = events.filter(events.event.isin(source.events))
    texts = {f"_jl_t{i}": p for i, p in enumerate(source.text_properties)}
    ratings = {f"_jl_r{i}": p for i, p in enumerate(source.rating_properties)}
    answers = {f"_jl_a{i}": p for i, p in enumerate(source.answer_properties)}
    keys = {
        **texts,
        **ratings,
        **answers,
        "_jl_survey": source.survey_id_property,
        "_jl_question": source.question_id_property,
        "_jl_qtype": "question_type",
    }
    # Each JSON path is read once into a column (see jsontext); the coalescing below then only
    # touches plain text columns.
    read = with_json_text(rows, **{col: rows.properties[key] for col, key in keys.items()})
    return read.select(
        message_id=read.message_id,
        person_id=read.person_id,
        timestamp=read.timestamp,
        event=read.event,
        text=_first_non_blank([read[c] for c in texts]),
        rating=ibis.coalesce(*[read[c].strip().try_cast("float64") for c in ratings]),
        answer=_first_non_blank([read[c] for c in answers]),
        survey_id=read._jl_survey,
        question_id=read._jl_question,
        question_type=read._jl_qtype,
        channel=read.channel,
        stage=read.stage,
        session_id=read.session_id,
        **{name: read[name] for name in keep},
    )


def _first_non_blank(values: list[ir.StringValue]) -> ir.StringValue:
    """The first value with something other than whitespace in it, kept as sent."""
    picked: ir.StringValue = ibis.null("string")
    for value in reversed(values):
        picked = ibis.ifelse(value.strip().length() > 0, value, picked)
    return picked
