"""The one exception tree of journeylens.

Every error a user can meet is one of these. Each class has a stable UPPER_SNAKE ``code`` (the
API's JSON error ``code``), an HTTP ``status``, and builds its message from structured fields:
what was wrong, the value received, what is allowed and how to fix it.

::

    JourneyLensError                      JL_ERROR            500
    ├── ValidationError                   INVALID_INPUT       400
    │   ├── UnknownNameError              UNKNOWN_NAME        400
    │   ├── InvalidDurationError          INVALID_DURATION    400
    │   ├── MappingError                  INVALID_MAPPING     400
    │   └── SpecError                     INVALID_SPEC        400
    ├── SourceError                       INVALID_SOURCE      400
    │   └── UnsupportedFormatError        UNSUPPORTED_FORMAT  400
    ├── NotFoundError                     NOT_FOUND           404
    ├── WorkspaceError                    WORKSPACE_ERROR     409
    │   └── SchemaVersionError            SCHEMA_VERSION      409
    └── ModelError                        MODEL_ERROR         409
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "InvalidDurationError",
    "JourneyLensError",
    "MappingError",
    "ModelError",
    "NotFoundError",
    "SchemaVersionError",
    "SourceError",
    "SpecError",
    "UnknownNameError",
    "UnsupportedFormatError",
    "ValidationError",
    "WorkspaceError",
]


class JourneyLensError(Exception):
    """Base of every journeylens error; carries a stable ``code`` and an HTTP ``status``."""

    code: ClassVar[str] = "JL_ERROR"
    status: ClassVar[int] = 500

    def __init__(
        self,
        problem: str,
        *,
        received: Any = None,
        allowed: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.received = received
        self.allowed = allowed
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [self.problem.rstrip(".") + "."]
        if self.received is not None:
            parts.append(f"Received: {_short(self.received)}.")
        if self.allowed:
            parts.append(f"Allowed: {self.allowed}.")
        if self.fix:
            parts.append(self.fix.rstrip(".") + ".")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The API's error body: ``{"code", "message", "detail"}``."""
        return {
            "code": self.code,
            "message": str(self),
            "detail": {
                "problem": self.problem,
                "received": None if self.received is None else _short(self.received),
                "allowed": self.allowed,
                "fix": self.fix,
            },
        }


class ValidationError(JourneyLensError):
    """An argument, spec or setting has a value that is not allowed."""

    code = "INVALID_INPUT"
    status = 400


class UnknownNameError(ValidationError):
    """A name (column, analysis, identifier type, format…) is not one of the known ones."""

    code = "UNKNOWN_NAME"

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        fix = f"Did you mean {close[0]!r}?" if close else None
        super().__init__(f"Unknown {kind} {name!r}", allowed=", ".join(known) or "(none)", fix=fix)
        self.kind = kind
        self.name = name


class InvalidDurationError(ValidationError):
    """A duration string could not be read."""

    code = "INVALID_DURATION"


class MappingError(ValidationError):
    """A column mapping for an import names columns that are missing or targets that are unknown."""

    code = "INVALID_MAPPING"


class SpecError(ValidationError):
    """An analysis spec (Python, ``--spec`` file or API body) does not validate.

    ``errors`` lists each problem as ``{"field", "problem", "received"}``, the field as a dotted
    path into the spec (``steps.1.where.0.operator``).
    """

    code = "INVALID_SPEC"

    def __init__(self, analysis: str, errors: list[dict[str, Any]], *, allowed: str | None = None):
        self.analysis = analysis
        self.errors = errors
        lines = "; ".join(f"{e['field'] or '(spec)'}: {e['problem']}" for e in errors)
        super().__init__(
            f"The {analysis} spec is not valid: {lines}",
            allowed=allowed,
            fix=f"Correct the fields named above; `journeylens analyze {analysis} --example` "
            "prints a spec that runs",
        )

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["detail"]["errors"] = self.errors
        return body


class SourceError(JourneyLensError):
    """An ingest source cannot be read at all (missing file, unreadable table)."""

    code = "INVALID_SOURCE"
    status = 400


class UnsupportedFormatError(SourceError):
    """An ingest source is of a kind or file format journeylens does not read."""

    code = "UNSUPPORTED_FORMAT"


class NotFoundError(JourneyLensError):
    """A thing asked for by its id (a person) does not exist. Unlike ``UnknownNameError`` it
    lists no known values: those ids are personal data."""

    code = "NOT_FOUND"
    status = 404


class WorkspaceError(JourneyLensError):
    """The workspace is in a state that does not allow the operation."""

    code = "WORKSPACE_ERROR"
    status = 409


class SchemaVersionError(WorkspaceError):
    """The workspace was written by a newer journeylens than this one."""

    code = "SCHEMA_VERSION"


class ModelError(JourneyLensError):
    """A trained model is missing, unreadable, or was trained on data it cannot score."""

    code = "MODEL_ERROR"
    status = 409


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
