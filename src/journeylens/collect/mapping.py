"""Column mappings: how the columns of an export become canonical fields.

Columns that already carry a canonical name (``user_id``, ``anonymous_id``, ``event``,
``timestamp``…) or its Segment camelCase twin (``userId``, ``messageId``…) need no mapping. Other
exports pass ``mapping={target: source_column}`` where the target is a canonical field or a JSON
path into ``properties``, ``context`` or ``traits`` (``"context.campaign.source": "utm_source"``).
Columns that are neither mapped nor canonical become properties, so nothing is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from journeylens.errors import MappingError, UnknownNameError

__all__ = ["FIELDS", "JSON_ROOTS", "ColumnPlan", "plan_columns"]

#: Canonical fields a table column can fill, with the Segment spellings recognised on their own.
FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "message_id": ("message_id", "messageId"),
    "type": ("type",),
    "event": ("event", "name"),
    "anonymous_id": ("anonymous_id", "anonymousId"),
    "user_id": ("user_id", "userId"),
    "previous_id": ("previous_id", "previousId"),
    "group_id": ("group_id", "groupId"),
    "timestamp": ("timestamp",),
    "original_timestamp": ("original_timestamp", "originalTimestamp"),
    "sent_at": ("sent_at", "sentAt"),
    "received_at": ("received_at", "receivedAt"),
    "source": ("source",),
    "properties": ("properties",),
    "context": ("context",),
    "traits": ("traits",),
    "revenue": ("revenue",),
    "currency": ("currency",),
}
JSON_ROOTS: Final = ("properties", "context", "traits")
_PATH = re.compile(r"^(properties|context|traits)(\.[A-Za-z0-9_$\-]+)+$")


@dataclass(frozen=True)
class ColumnPlan:
    """Where each canonical field and JSON path comes from in one table."""

    fields: dict[str, str]  # canonical field → source column
    paths: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)
    # JSON root → {key path → source column}; extra columns land under properties.

    def json_paths(self, root: str) -> dict[tuple[str, ...], str]:
        return self.paths.get(root, {})


def plan_columns(columns: Sequence[str], mapping: Mapping[str, str] | None) -> ColumnPlan:
    """Decide where every column of a table goes.

    Returns:
        A ``ColumnPlan``: ``fields`` maps canonical fields to columns (explicit mapping first,
        then canonical and camelCase names); ``paths`` maps JSON paths to columns (explicit
        dotted targets, then every column left over, under ``properties``).

    Raises:
        UnknownNameError: a target is not a canonical field or a properties/context/traits path.
        MappingError: a mapped column is not in the table, or the table has no timestamp.
    """
    mapping = dict(mapping or {})
    present = list(columns)
    fields: dict[str, str] = {}
    paths: dict[str, dict[tuple[str, ...], str]] = {}
    for target, column in mapping.items():
        if column not in present:
            raise UnknownNameError("column", column, present)
        if target in FIELDS:
            fields[target] = column
        elif _PATH.match(target):
            root, *keys = target.split(".")
            paths.setdefault(root, {})[tuple(keys)] = column
        else:
            raise UnknownNameError(
                "mapping target",
                target,
                [*FIELDS, "properties.<key>", "context.<path>", "traits.<key>"],
            )
    used = set(mapping.values())
    for name, spellings in FIELDS.items():
        if name in fields:
            continue
        for spelling in spellings:
            if spelling in present and spelling not in used:
                fields[name] = spelling
                used.add(spelling)
                break
    if "timestamp" not in fields and "original_timestamp" not in fields:
        raise MappingError(
            "The table has no timestamp column",
            received=present,
            fix="Name the column 'timestamp' or map it: mapping={'timestamp': '<your column>'}",
        )
    for column in present:
        if column not in used and column != "row_nr":
            paths.setdefault("properties", {})[(column,)] = column
    return ColumnPlan(fields=fields, paths=paths)
