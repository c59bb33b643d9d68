"""What one ingest did: how many rows landed, were duplicates, or were rejected and why."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["REJECTION_CODES", "IngestReport", "Rejection", "rejection_message"]

#: Every reason a row can be quarantined for, with what it means.
REJECTION_CODES: Final[dict[str, str]] = {
    "BAD_JSON": "the row is not a JSON object",
    "BAD_ROW": "the line does not split into the file's columns",
    "OVERSIZE": "the message is larger than ingest.max_message_bytes",
    "UNKNOWN_TYPE": "type is not one of track, identify, page, screen, group, alias",
    "WRONG_TYPE": "a field has the wrong JSON type (an object where text was expected, …)",
    "MISSING_ID": "neither userId nor anonymousId is set",
    "MISSING_FIELD": "a field the message type requires is missing",
    "BAD_TIMESTAMP": "a timestamp is not an ISO-8601 date-time",
    "FUTURE_TIMESTAMP": "the timestamp is later than received_at plus ingest.max_future",
    "MESSAGE_ID_TOO_LONG": "messageId is longer than ingest.max_message_id_chars",
}


class Rejection(BaseModel):
    """One quarantined row: where it was in the source, which field failed, and why."""

    model_config = ConfigDict(frozen=True)

    row: int  # 0-based position in the source (line of a JSON lines file, row of a table;
    # a CSV record that does not split into the header's columns counts every record before it)
    field: str | None
    code: str
    message: str


class IngestReport(BaseModel):
    """The outcome of ``Workspace.ingest``.

    Returns fields:
        batch_id: id of this ingest; quarantined rows carry it.
        source: what was ingested (file path, ``"dataframe"``, ``"messages"``…).
        rows: rows read from the source (accepted + duplicates + rejected).
        accepted: new rows written to ``events``.
        duplicates: valid rows whose ``message_id`` was already stored or repeated in the batch.
        rejected: rows quarantined, each with row, field, code and message (first 1000 kept
            here; all of them are in the ``quarantine`` table).
        rejected_count: number of rejected rows (may exceed ``len(rejected)``).
        rejected_by_code: rejected rows per code (all of them).
        seconds: wall time of the ingest.
    """

    model_config = ConfigDict(frozen=True)

    batch_id: str
    source: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected_by_code: dict[str, int] = Field(default_factory=dict)
    rejected: list[Rejection] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump() | {"rows_per_second": self.rows_per_second}


_FIX = {
    "BAD_JSON": "Send one JSON object per message (per line in a JSON lines file)",
    "BAD_ROW": "Quote values that contain the delimiter, and give every line the header's columns",
    "OVERSIZE": "Keep each message under the limit (Segment's is 32 KB): move bulky data out of "
    "properties",
    "UNKNOWN_TYPE": "Use one of track, identify, page, screen, group, alias",
    "WRONG_TYPE": "Send ids and names as strings, and properties/context/traits as JSON objects",
    "MISSING_ID": "Set userId or anonymousId on every message",
    "MISSING_FIELD": "track needs event, alias needs previousId and userId, group needs groupId",
    "BAD_TIMESTAMP": "Write timestamps as ISO-8601, e.g. 2026-01-31T12:00:00Z",
    "FUTURE_TIMESTAMP": "Check the sender's clock, or raise ingest.max_future",
    "MESSAGE_ID_TOO_LONG": "Use message ids shorter than 100 characters (a UUID is 36)",
}


def rejection_message(code: str, field: str | None, value: str | None) -> str:
    """One sentence for a rejected row, e.g. ``timestamp 'yesterday' is not an ISO-8601
    date-time. Write timestamps as ISO-8601, e.g. 2026-01-31T12:00:00Z.``"""
    what = REJECTION_CODES.get(code, code)
    subject = field or "row"
    shown = f" {value[:80]!r}" if value else ""
    return f"{subject}{shown}: {what}. {_FIX.get(code, '')}".rstrip()
