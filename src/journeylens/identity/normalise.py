"""Normalise raw identifier values and drop the ones that must never become identifiers.

Work is done once per distinct (type, raw value), not per row: a million page views of one
anonymous id cost one normalisation. Trimming, case-folding, the blocklist and the patterns are
Arrow kernels. Phone numbers take a fast path for the common North American shapes and go to
the ``phonenumbers`` library only for the rest (it costs ~20 µs a value).

Order of the checks, for each value: missing → blocked value (trimmed, case-folded, exact) →
blocked pattern (full match on the trimmed value) → the type's normaliser (an email needs one
``@``; a phone must parse as a possible number). The first that fails names the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.schema import IDENTIFIERS_SCHEMA
from journeylens.settings import IdentifierType, IdentitySettings

__all__ = [
    "BLOCK_REASONS",
    "RAW_IDENTIFIER_COLUMNS",
    "TRIM_CHARACTERS",
    "NormalisedIdentifiers",
    "normalise_identifiers",
    "normalise_phone",
]

#: Exactly the characters Ibis' ``strip()`` removes in SQL, so the SQL join keys of
#: ``attach_person`` and this normaliser agree on every backend.
TRIM_CHARACTERS = " \t\n\r\v\f"
#: Columns ``extract_identifiers`` produces and this module reads.
RAW_IDENTIFIER_COLUMNS = (
    "message_id",
    "timestamp",
    "id_type",
    "raw_value",
    "edge_kind",
    "path_rank",
    "weight",
)
BLOCK_REASONS = ("missing", "blocked_value", "blocked_pattern", "invalid_email", "invalid_phone")
_EMAIL = r"^[^@\s]+@[^@\s]+$"
# After removing separators: +1 / 1 / nothing, then a 10-digit NANP number. Only these take the
# fast path; everything else goes to the library (tests check the two agree on these shapes).
_ARROW_SCHEMA = IDENTIFIERS_SCHEMA.to_pyarrow().append(pa.field("weight", pa.int64()))
_RAW_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("id_type", pa.string()),
        ("raw_value", pa.string()),
        ("edge_kind", pa.string()),
        ("path_rank", pa.int32()),
        ("weight", pa.int64()),
    ]
)
_NANP = re.compile(r"^(?:\+?1)?([2-9]\d{9})$")
_SEPARATORS = re.compile(r"[ \t.\-()]")


@dataclass(frozen=True)
class NormalisedIdentifiers:
    """Identifiers ready for ``resolve``.

    Attributes:
        table: one row per (message, identifier) in ``IDENTIFIERS_SCHEMA`` layout (``id_value``
            normalised) plus ``weight`` (int64, messages the row stands for); for each message
            at most one ``message`` row per type (the first path whose value survived), all
            ``alias`` rows.
        blocked: messages' values dropped, ``{id_type: {reason: count}}`` (rows weighted by
            ``weight``); reasons are ``BLOCK_REASONS``. A value that was dropped only because
            an earlier path of its type already gave the message a value is not counted.
    """

    table: pa.Table
    blocked: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def blocked_rows(self) -> int:
        """All dropped rows, every type and reason."""
        return sum(sum(r.values()) for r in self.blocked.values())


def normalise_phone(value: str, region: str) -> str | None:
    """One phone number as E.164 (``+15555550100``), or ``None`` if it is not a possible number.

    Numbers without a country code are read in ``region`` (ISO 3166 alpha-2).
    """
    stripped = _SEPARATORS.sub("", value)
    nanp = _NANP.match(stripped)
    if nanp and (stripped.startswith("+") or _region_code(region) == 1):
        return "+1" + nanp.group(1)
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _region_code(region: str) -> int:
    return phonenumbers.country_code_for_region(region)


def normalise_identifiers(raw: pa.Table, settings: IdentitySettings) -> NormalisedIdentifiers:
    """Normalise ``extract_identifiers`` output and drop blocked values.

    ``raw`` has the columns ``RAW_IDENTIFIER_COLUMNS`` (``path_rank`` may be absent: every row
    then counts as the first path of its type; ``weight`` may be absent: every row stands for
    one message).

    Returns:
        ``NormalisedIdentifiers``: ``table`` (``IDENTIFIERS_SCHEMA`` layout and ``weight``) and
        ``blocked`` (values dropped per type and reason, weighted).

    Example:
        >>> import pyarrow as pa
        >>> from journeylens.settings import IdentitySettings
        >>> raw = pa.table({"message_id": ["m1", "m1"], "timestamp": [None, None],
        ...     "id_type": ["user_id", "email"], "raw_value": [" u1 ", "null"],
        ...     "edge_kind": ["message", "message"]})
        >>> out = normalise_identifiers(raw, IdentitySettings())
        >>> out.table.column("id_value").to_pylist(), out.blocked
        (['u1'], {'email': {'blocked_value': 1}})
    """
    missing = [
        c
        for c in RAW_IDENTIFIER_COLUMNS
        if c not in ("path_rank", "weight") and c not in raw.column_names
    ]
    if missing:
        raise ValidationError(
            "The raw identifiers table lacks required columns",
            received=raw.column_names,
            allowed=", ".join(RAW_IDENTIFIER_COLUMNS),
            fix="Pass the output of extract_identifiers(...).to_pyarrow()",
        )
    if "path_rank" not in raw.column_names:
        raw = raw.append_column("path_rank", pa.array(np.zeros(raw.num_rows, np.int32)))
    if "weight" not in raw.column_names:
        raw = raw.append_column("weight", pa.array(np.ones(raw.num_rows, np.int64)))
    # No combine_chunks: at ten million events that would copy gigabytes for nothing.
    raw = raw.select(list(RAW_IDENTIFIER_COLUMNS)).cast(_RAW_SCHEMA)
    _check_kinds(raw.column("edge_kind"))
    blocked_values = pa.array(
        sorted({v.strip(TRIM_CHARACTERS).lower() for v in settings.blocked_values})
    )
    patterns = [f"^(?:{p})$" for p in settings.blocked_patterns]

    known = {t.name for t in settings.types}
    pieces: list[pa.Table] = []
    blocked: dict[str, dict[str, int]] = {}
    for type_name in pc.unique(raw.column("id_type")).to_pylist():
        if type_name not in known:
            raise UnknownNameError("identifier type", str(type_name), known)
        rows = raw.filter(pc.equal(raw.column("id_type"), type_name))
        id_type = settings.type(type_name)
        encoded = rows.column("raw_value").dictionary_encode().combine_chunks()
        normal, reason = _normalise_unique(
            encoded.dictionary, id_type, settings, blocked_values, patterns
        )
        indices = encoded.indices
        row_reason = pc.take(reason, indices)
        counts = _count_reasons(
            row_reason, pc.is_null(indices), rows.column("weight").combine_chunks()
        )
        if counts:
            blocked[type_name] = counts
        keep = pc.and_(pc.is_valid(indices), pc.is_null(row_reason))
        if not counts:  # nothing dropped: skip a copy of what may be millions of rows
            kept = rows.set_column(
                rows.column_names.index("raw_value"), "id_value", pc.take(normal, indices)
            )
        else:
            kept = rows.filter(keep).set_column(
                rows.column_names.index("raw_value"),
                "id_value",
                pc.take(normal, indices.filter(keep)),
            )
        if len(id_type.paths) > 1:
            kept = _first_path(kept)
        pieces.append(kept.select(_ARROW_SCHEMA.names).cast(_ARROW_SCHEMA))
    table = pa.concat_tables(pieces) if pieces else _ARROW_SCHEMA.empty_table()
    return NormalisedIdentifiers(table=table, blocked=blocked)


def _check_kinds(kinds: pa.ChunkedArray | pa.Array) -> None:
    bad = pc.unique(pc.filter(kinds, pc.invert(pc.is_in(kinds, pa.array(["message", "alias"])))))
    if len(bad) or kinds.null_count:
        raise ValidationError(
            "edge_kind must be 'message' or 'alias'",
            received=bad.to_pylist() or [None],
            allowed="message, alias",
        )


def _normalise_unique(
    values: pa.Array,
    id_type: IdentifierType,
    settings: IdentitySettings,
    blocked_values: pa.Array,
    patterns: list[str],
) -> tuple[pa.Array, pa.Array]:
    """Normalise distinct raw values; return (normalised, reason) aligned with ``values``,
    reason null where the value survives."""
    values = values.cast(pa.string())
    trimmed = pc.utf8_trim(values, characters=TRIM_CHARACTERS)
    reason = pa.nulls(len(values), pa.string())
    reason = _flag(reason, pc.is_in(pc.utf8_lower(trimmed), blocked_values), "blocked_value")
    for pattern in patterns:
        try:
            matched = pc.match_substring_regex(trimmed, pattern)
        except pa.ArrowInvalid as exc:
            raise ValidationError(
                "A blocked pattern is not a valid regular expression (RE2 syntax)",
                received=pattern,
                fix=str(exc),
            ) from exc
        reason = _flag(reason, matched, "blocked_pattern")

    kind = id_type.normaliser
    if kind == "none":
        normal = values
    elif kind == "trim":
        normal = trimmed
    elif kind == "lower_trim":
        normal = pc.utf8_lower(trimmed)
    elif kind == "email":
        normal = pc.utf8_lower(trimmed)
        reason = _flag(reason, pc.invert(pc.match_substring_regex(normal, _EMAIL)), "invalid_email")
    else:
        normal = _phones(trimmed, pc.is_null(reason), settings.default_phone_region)
        reason = _flag(reason, pc.is_null(normal), "invalid_phone")
    return normal, reason


def _flag(reason: pa.Array, mask: pa.Array, name: str) -> pa.Array:
    """Set ``name`` where ``mask`` holds and no earlier check already failed."""
    mask = pc.fill_null(mask, True)
    return pc.if_else(pc.and_(pc.is_null(reason), mask), pa.scalar(name), reason)


def _phones(trimmed: pa.Array, todo: pa.Array, region: str) -> pa.Array:
    """E.164 for every value still alive; the fast path is a vectorised regex, the rest go one
    by one through ``normalise_phone``."""
    stripped = pc.replace_substring_regex(trimmed, _SEPARATORS.pattern, "")
    nanp = pc.match_substring_regex(stripped, _NANP.pattern)
    if _region_code(region) != 1:
        nanp = pc.and_(nanp, pc.starts_with(stripped, "+"))
    nanp = pc.fill_null(pc.and_(nanp, todo), False)
    fast = pc.binary_join_element_wise("+1", pc.utf8_slice_codeunits(stripped, -10), "")
    out = pc.if_else(nanp, fast, pa.nulls(len(trimmed), pa.string())).to_pylist()
    slow = np.flatnonzero(
        pc.and_(pc.fill_null(todo, False), pc.invert(nanp)).to_numpy(zero_copy_only=False)
    )
    values = trimmed.to_pylist() if slow.size else []
    for i in slow:
        out[i] = normalise_phone(values[i], region)
    return pa.array(out, pa.string())


def _count_reasons(row_reason: pa.Array, null_value: pa.Array, weight: pa.Array) -> dict[str, int]:
    """Weighted rows per reason: ``missing`` where the value is null, else the row's reason."""
    counts: dict[str, int] = {}
    missing = int(pc.sum(pc.filter(weight, null_value)).as_py() or 0)
    if missing:
        counts["missing"] = missing
    dropped = pc.is_valid(row_reason)
    per_reason = (
        pa.table({"reason": row_reason.filter(dropped), "weight": pc.filter(weight, dropped)})
        .group_by("reason")
        .aggregate([("weight", "sum")])
    )
    for reason, total in zip(
        per_reason.column("reason").to_pylist(),
        per_reason.column("weight_sum").to_pylist(),
        strict=True,
    ):
        counts[reason] = total
    return counts


def _first_path(rows: pa.Table) -> pa.Table:
    """Rows of one type: keep, per message, the ``message`` rows of the lowest ``path_rank``
    (the first path whose value survived); keep every ``alias`` row."""
    alias = pc.equal(rows.column("edge_kind"), "alias")
    message_rows = rows.filter(pc.invert(alias))
    best = message_rows.group_by(["message_id"]).aggregate([("path_rank", "min")])
    message_rows = message_rows.join(
        best.rename_columns(["message_id", "path_rank"]),
        keys=["message_id", "path_rank"],
        join_type="inner",
    )
    return pa.concat_tables([message_rows.select(rows.column_names), rows.filter(alias)])
