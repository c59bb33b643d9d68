"""A survey tool's export file turned into answer events, bad rows set aside with a reason.

Survey tools export one row per respondent and one column per question, plus who answered and
when. :func:`survey_export_to_messages` reads such a file (CSV with a header row, or JSON lines:
one object per line) or a DataFrame, checks every answer against the :class:`Survey`, and
writes one Segment ``track`` message per answered question (see
:mod:`journeylens.feedback.surveys` for the event layout), ready for ``Workspace.ingest``.

A row is rejected as a whole when anything in it is wrong — a bad answer, no respondent, a
time that is not ISO-8601, nothing answered — and each problem is reported with its row (0-based
position among the data rows) and column; the good rows are kept. An empty cell is an
unanswered question, not an error.

Message ids are derived from the survey, the response (``response_id`` column when the export
has one, else respondent + time) and the question, so importing the same export twice stores
each answer once.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from journeylens.errors import MappingError, SourceError, UnsupportedFormatError
from journeylens.feedback.surveys import ANSWER_EVENT, Survey

__all__ = [
    "RowProblem",
    "SurveyExport",
    "SurveyExportMapping",
    "survey_export_to_messages",
]

_ANSWER_KEY = {"nps": "score", "csat": "score", "choice": "answer", "text": "text"}


class SurveyExportMapping(BaseModel):
    """Which export columns hold what.

    Attributes:
        user_id: the column with the respondent's user id (becomes ``userId``), or None.
        email: the column with the respondent's email (sent as ``context.traits.email`` so
            identity resolution can join it to a person), or None. At least one of ``user_id``
            and ``email`` must be set; a row needs a value in one of them.
        submitted_at: the column with the time the response was submitted (ISO-8601; a time
            without a zone is read as UTC).
        response_id: the column with the tool's response id, or None.
        questions: question id → column, for columns not named after their question; every
            other question is read from the column named by its id.

    >>> SurveyExportMapping(email=None).user_id
    'user_id'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str | None = "user_id"
    email: str | None = "email"
    submitted_at: str = Field("submitted_at", min_length=1)
    response_id: str | None = None
    questions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs_a_respondent(self) -> SurveyExportMapping:
        if not self.user_id and not self.email:
            raise ValueError("set user_id or email: a respondent column is needed")
        return self


@dataclass(frozen=True)
class RowProblem:
    """Why a row of an export was rejected: its 0-based ``row`` among the data rows, the
    column at fault (``field``, None for the row as a whole), a ``code`` and a ``message``."""

    row: int
    field: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """``{"row", "field", "code", "message"}``."""
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class SurveyExport:
    """What an export turned into.

    Attributes:
        messages: Segment track messages, one per answered question of every good row.
        rows: data rows read.
        accepted_rows: rows whose answers became messages.
        rejected: one entry per problem found (a rejected row may have several), with the
            row, the column (``field``), a code (``BAD_ANSWER``, ``MISSING_RESPONDENT``,
            ``BAD_TIMESTAMP``, ``NO_ANSWERS``, ``BAD_JSON``) and a message.
    """

    messages: list[dict[str, Any]]
    rows: int
    accepted_rows: int
    rejected: list[RowProblem]

    @property
    def rejected_rows(self) -> int:
        """How many rows were rejected (``rows - accepted_rows``)."""
        return self.rows - self.accepted_rows


def survey_export_to_messages(
    source: str | Path | pd.DataFrame,
    survey: Survey,
    mapping: SurveyExportMapping | Mapping[str, Any] | None = None,
) -> SurveyExport:
    """Read a survey export and turn each good row into answer messages.

    Args:
        source: a ``.csv`` file, a JSON lines file (``.jsonl``, ``.ndjson``, ``.json``) or a
            DataFrame with one row per respondent.
        survey: the survey the export belongs to; answers are checked against its questions.
        mapping: which columns hold the respondent, the time and each question (default
            :class:`SurveyExportMapping` ()).

    Returns:
        A :class:`SurveyExport`: the messages to ingest, the row counts and every problem.
        A file missing a mapped column raises ``MappingError``; a missing file
        ``SourceError``; another format ``UnsupportedFormatError`` (nothing is read).

    >>> s = Survey(id="s1", name="S", questions=[{"id": "nps", "type": "nps", "text": "?"}])
    >>> frame = pd.DataFrame({"user_id": ["u1", "u2"], "submitted_at": ["2026-01-02", "x"],
    ...                       "nps": ["10", "7"]})
    >>> out = survey_export_to_messages(frame, s, {"email": None})
    >>> [m["properties"]["score"] for m in out.messages], out.rejected[0].code
    ([10.0], 'BAD_TIMESTAMP')
    """
    if not isinstance(mapping, SurveyExportMapping):
        mapping = SurveyExportMapping.model_validate(dict(mapping or {}))
    unknown = sorted(set(mapping.questions) - set(survey.ids))
    if unknown:
        raise MappingError(
            f"The mapping names questions survey {survey.id!r} does not have",
            received=unknown,
            allowed=", ".join(survey.ids),
            fix="Map only the survey's question ids to columns",
        )
    columns = {q.id: mapping.questions.get(q.id, q.id) for q in survey.questions}
    messages: list[dict[str, Any]] = []
    rejected: list[RowProblem] = []
    rows = accepted = 0
    for number, record in _records(source, mapping, columns):
        rows += 1
        if isinstance(record, RowProblem):
            rejected.append(record)
            continue
        found, problems = _row_messages(number, record, survey, mapping, columns)
        if problems:
            rejected += problems
        else:
            accepted += 1
            messages += found
    return SurveyExport(messages=messages, rows=rows, accepted_rows=accepted, rejected=rejected)


def _records(
    source: str | Path | pd.DataFrame, mapping: SurveyExportMapping, columns: dict[str, str]
) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
    """(row number, the row as a dict or why it could not be read), after checking the header."""
    if isinstance(source, pd.DataFrame):
        header = [str(c) for c in source.columns]
        _check_header(header, mapping, columns)
        frame = source.astype(object).where(source.notna(), None)
        yield from enumerate(frame.to_dict("records"))
        return
    path = Path(source)
    if not path.is_file():
        raise SourceError(
            "The survey export file does not exist", received=str(path), fix="Check the path"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            _check_header(list(reader.fieldnames or []), mapping, columns)
            yield from enumerate(reader)
        return
    if suffix not in (".jsonl", ".ndjson", ".json"):
        raise UnsupportedFormatError(
            "A survey export must be CSV or JSON lines",
            received=path.name,
            allowed=".csv, .jsonl, .ndjson, .json",
            fix="Export the survey responses as CSV or JSON lines",
        )
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    parsed = [_json_row(number, line) for number, line in enumerate(lines)]
    seen = {key for row in parsed if isinstance(row, dict) for key in row}
    _check_header(sorted(seen), mapping, columns)
    yield from enumerate(parsed)


def _json_row(number: int, line: str) -> dict[str, Any] | RowProblem:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return RowProblem(row=number, field=None, code="BAD_JSON", message=f"not JSON: {exc}")
    if not isinstance(row, dict):
        return RowProblem(row=number, field=None, code="BAD_JSON", message="not a JSON object")
    return row


def _check_header(header: list[str], mapping: SurveyExportMapping, columns: dict[str, str]) -> None:
    """The respondent and time columns must all be there, and at least one question column (a
    question the export lacks is one nobody answered)."""
    needed = [c for c in (mapping.user_id, mapping.email, mapping.submitted_at) if c]
    missing = [c for c in needed if c not in header]
    if not any(c in header for c in columns.values()):
        missing.append(f"any of the question columns {sorted(set(columns.values()))}")
    if missing:
        raise MappingError(
            "The survey export lacks columns the mapping needs",
            received=missing,
            allowed=", ".join(header) or "(no columns)",
            fix="Name the export's columns in the mapping (user_id, email, submitted_at, "
            "questions); set user_id or email to null when the export has no such column",
        )


def _row_messages(
    number: int,
    record: Mapping[str, Any],
    survey: Survey,
    mapping: SurveyExportMapping,
    columns: dict[str, str],
) -> tuple[list[dict[str, Any]], list[RowProblem]]:
    problems: list[RowProblem] = []

    def problem(field: str | None, code: str, message: str) -> None:
        problems.append(RowProblem(row=number, field=field, code=code, message=message))

    user_id = _cell(record, mapping.user_id)
    email = _cell(record, mapping.email)
    if user_id is None and email is None:
        columns_named = [c for c in (mapping.user_id, mapping.email) if c]
        problem(None, "MISSING_RESPONDENT", f"no respondent in {columns_named}")
    when = _timestamp(_cell(record, mapping.submitted_at))
    if when is None:
        value = record.get(mapping.submitted_at)
        problem(mapping.submitted_at, "BAD_TIMESTAMP", f"not an ISO-8601 time: {value!r}")
    answers: list[tuple[str, str, float | str]] = []
    for question in survey.questions:
        raw = record.get(columns[question.id])
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            answers.append((question.id, question.type, question.parse_answer(raw)))
        except ValueError as exc:
            problem(columns[question.id], "BAD_ANSWER", str(exc))
    if not answers and not problems:
        problem(None, "NO_ANSWERS", "the row answers none of the survey's questions")
    if problems or when is None:
        return [], problems
    response = _cell(record, mapping.response_id) or f"{user_id}|{email}|{when.isoformat()}"
    base = {"type": "track", "event": ANSWER_EVENT, "timestamp": when.isoformat()}
    base |= {"userId": user_id} if user_id else {"anonymousId": f"email:{email.lower()}"}
    if email:
        base["context"] = {"traits": {"email": email}}
    messages = [
        base
        | {
            "messageId": _message_id(survey.id, response, qid),
            "properties": {
                "survey_id": survey.id,
                "question_id": qid,
                "question_type": qtype,
                _ANSWER_KEY[qtype]: value,
            },
        }
        for qid, qtype, value in answers
    ]
    return messages, []


def _cell(record: Mapping[str, Any], column: str | None) -> str | None:
    if column is None or record.get(column) is None:
        return None
    text = str(record[column]).strip()
    return text or None


def _timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _message_id(survey_id: str, response: str, question_id: str) -> str:
    digest = hashlib.sha256(f"{survey_id}\x1f{response}\x1f{question_id}".encode()).hexdigest()
    return f"survey-{digest[:32]}"
