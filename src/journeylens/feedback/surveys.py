"""Surveys: a named list of questions whose answers arrive as ordinary events.

A :class:`Survey` says what was asked; it is saved in the workspace (``Workspace.save_survey``)
so a file export can be checked against it and the dashboard can label answers. The answers
themselves are events like any other — one ``survey_answered`` track event per answered
question, with properties ``survey_id``, ``question_id``, ``question_type`` and the answer in
``score`` (NPS, CSAT), ``answer`` (choice) or ``text`` (free text) — so they come in through
every ingest path (files, the collector, the SDKs) and the survey import alike, and
:func:`~journeylens.feedback.source.feedback_table` reads them back.

Answer rules (:meth:`Question.parse_answer`): NPS is a whole number 0–10 ("How likely are you
to recommend us?"), CSAT a whole number 1–5 ("How satisfied were you?"), a choice one of the
question's options exactly, free text any text that is not blank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from journeylens.analysis.registry import validate_spec

__all__ = ["ANSWER_EVENT", "SCALES", "Question", "QuestionType", "Survey", "parse_survey"]

#: The event name survey answers are recorded under.
ANSWER_EVENT = "survey_answered"

QuestionType = Literal["nps", "csat", "text", "choice"]

#: The allowed whole-number range of each scored question type.
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5)}

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class Question(BaseModel):
    """One question of a survey.

    Attributes:
        id: a short id, unique in its survey (letters, digits, ``_ . -``); answers carry it as
            ``question_id``.
        type: ``nps`` (0–10), ``csat`` (1–5), ``text`` (free text) or ``choice`` (one of
            ``options``).
        text: the question as the respondent read it.
        options: the choices of a ``choice`` question (at least two, distinct); empty otherwise.

    >>> Question(id="nps", type="nps", text="Would you recommend us?").parse_answer("9")
    9.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID_PATTERN)
    type: QuestionType
    text: str = Field(min_length=1, max_length=1000)
    options: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> Question:
        if self.type == "choice":
            if len(self.options) < 2 or len(set(self.options)) != len(self.options):
                raise ValueError(
                    f"choice question {self.id!r} needs at least two distinct options, "
                    f"got {list(self.options)}"
                )
            if any(not option.strip() for option in self.options):
                raise ValueError(f"choice question {self.id!r} has a blank option")
        elif self.options:
            raise ValueError(f"only choice questions have options; {self.id!r} is {self.type}")
        return self

    def parse_answer(self, value: object) -> float | str:
        """Check one answer to this question.

        Returns:
            The score as a float for ``nps``/``csat``; the option for ``choice``; the text for
            ``text``. Raises ``ValueError`` saying what was wrong and what is allowed.

        >>> Question(id="q", type="csat", text="Happy?").parse_answer(6)
        Traceback (most recent call last):
        ...
        ValueError: a csat answer must be a whole number from 1 to 5, got 6
        """
        if self.type in SCALES:
            low, high = SCALES[self.type]
            score = _whole_number(value)
            if score is None or not low <= score <= high:
                raise ValueError(
                    f"a {self.type} answer must be a whole number from {low} to {high}, "
                    f"got {value!r}"
                )
            return float(score)
        text = value if isinstance(value, str) else None
        if text is None or not text.strip():
            raise ValueError(f"a {self.type} answer must be non-blank text, got {value!r}")
        if self.type == "choice" and text.strip() not in self.options:
            raise ValueError(f"{text!r} is not one of the options {list(self.options)}")
        return text.strip() if self.type == "choice" else text


def _whole_number(value: object) -> int | None:
    """``value`` as an int when it is one ("9", 9, 9.0), else None (booleans are not scores)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


class Survey(BaseModel):
    """A survey: an id, a name and its questions.

    Attributes:
        id: the survey id answers carry as ``survey_id`` (letters, digits, ``_ . -``).
        name: a display name.
        questions: at least one question; ids unique.

    >>> s = Survey(id="nps_2026", name="NPS 2026",
    ...            questions=[{"id": "nps", "type": "nps", "text": "Recommend us?"}])
    >>> s.question("nps").type
    'nps'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    questions: tuple[Question, ...] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _question_ids_are_unique(self) -> Survey:
        ids = [q.id for q in self.questions]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"question ids must be unique; repeated: {repeated}")
        return self

    def question(self, question_id: str) -> Question:
        """The question with id ``question_id``; a ``KeyError`` naming the ids if there is none."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"survey {self.id!r} has no question {question_id!r}; it has {self.ids}")

    @property
    def ids(self) -> list[str]:
        """The question ids in order."""
        return [q.id for q in self.questions]


def parse_survey(survey: Survey | Mapping[str, Any] | str) -> Survey:
    """A survey given as a :class:`Survey`, its JSON values or JSON text (a file, a request).

    Returns:
        The validated survey. Every problem is reported at once as a ``SpecError`` naming the
        field path (``questions.1.options``), the problem and the value received.

    >>> parse_survey('{"id": "s", "name": "S", "questions": [{"id": "q", "type": "text",'
    ...              ' "text": "Anything else?"}]}').questions[0].type
    'text'
    """
    return validate_spec(Survey, survey, label="survey")
