"""Validate and canonicalise one chunk: the heart of ingest.

Both kinds of chunk are first brought to one flat *staging* relation (text fields, raw JSON
fields, parsed timestamps) by a front-end query — ``json`` chunks by extracting Segment's camelCase
fields (snake_case accepted too), ``table`` chunks through their ``ColumnPlan``. One shared query
then decides, per row, the first rule it breaks (see ``report.REJECTION_CODES``), corrects the
timestamp for clock skew as Segment does (``timestamp = receivedAt - (sentAt - originalTimestamp)``
when ``sentAt`` is present), fills a deterministic ``message_id`` from the row's content when it
has none, and drops repeats of a ``message_id`` within the chunk.

It runs in a private in-memory DuckDB (the collect layer's engine), so validation is vectorised
whatever backend the workspace stores to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.collect.mapping import JSON_ROOTS, ColumnPlan, plan_columns
from journeylens.collect.sources import Chunk
from journeylens.schema import EVENTS_ARROW_SCHEMA, MESSAGE_TYPES
from journeylens.settings import IngestSettings

__all__ = ["Staged", "Stager"]

_ROW = "__jl_row"


@dataclass(frozen=True)
class Staged:
    """One chunk after validation.

    accepted: valid, canonical rows (``EVENTS_ARROW_SCHEMA``), first of each ``message_id``.
    rejected: ``row, field, code, value, raw`` of each rejected row.
    repeats: valid rows dropped because their ``message_id`` came earlier in the chunk.
    """

    accepted: pa.Table
    rejected: pa.Table
    repeats: int


class Stager:
    """Validates chunks against the ingest settings; one per ingest call."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        source_name: str,
        received_at: datetime,
        mapping: dict[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._source_name = source_name
        self._received_at = received_at
        self._mapping = mapping
        self._plan: ColumnPlan | None = None
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")

    def close(self) -> None:
        self._con.close()

    def stage(self, chunk: Chunk) -> Staged:
        """Validate one chunk. Returns the accepted rows, the rejected rows and the repeats."""
        n = chunk.data.num_rows
        data = chunk.data.append_column(
            _ROW, pa.array(range(chunk.first_row, chunk.first_row + n), pa.int64())
        )
        # Small record batches let DuckDB scan the chunk on every thread.
        data = pa.Table.from_batches(data.to_batches(max_chunksize=_SCAN_BATCH_ROWS), data.schema)
        self._con.register("chunk", data)
        try:
            if chunk.kind == "json":
                front = _json_front()
            else:
                if self._plan is None:
                    self._plan = plan_columns(chunk.data.column_names, self._mapping)
                front = _table_front(self._plan, data.schema)
            sql = self._checked_sql(front)
            self._con.sql(f"CREATE OR REPLACE TEMP TABLE checked AS {sql}")
            bad = self._con.sql("SELECT count(*) FROM checked WHERE code IS NOT NULL").fetchall()
            accepted = self._con.sql(_ACCEPTED_SQL).to_arrow_table()
            repeated = self._con.sql(_REPEATS_SQL).to_arrow_table().column(0)
            if len(repeated):
                keep = pc.invert(pc.is_in(accepted.column(_ROW), value_set=repeated))
                accepted = accepted.filter(keep)
            accepted = accepted.drop_columns([_ROW])
            repeats = len(repeated)
            rejected = (
                self._con.sql(_REJECTED_SQL[chunk.kind]).to_arrow_table()
                if bad[0][0]
                else _NO_REJECTIONS
            )
        finally:
            self._con.unregister("chunk")
        if chunk.malformed:
            rejected = pa.concat_tables([_malformed(chunk.malformed), rejected])
        return Staged(
            accepted=accepted.cast(EVENTS_ARROW_SCHEMA), rejected=rejected, repeats=repeats
        )

    def _checked_sql(self, front: str) -> str:
        s = self._settings
        types = ", ".join(f"'{t}'" for t in MESSAGE_TYPES)
        received = self._received_at.isoformat()
        max_future_s = int(s.max_future_delta.total_seconds())
        return f"""
WITH t AS (
  SELECT *,
    lower(trim(type_raw)) AS type,
    coalesce(received0, TIMESTAMPTZ '{received}') AS received,
    nullif(trim(user_id_raw), '') AS user_id,
    nullif(trim(anonymous_id_raw), '') AS anonymous_id,
    nullif(trim(previous_id_raw), '') AS previous_id,
    nullif(trim(group_id_raw), '') AS group_id,
    -- Only track, page and screen messages name an event (schema.EVENTS_SCHEMA); analyses
    -- rely on it to select events by name alone.
    CASE WHEN lower(trim(type_raw)) IN ('track', 'page', 'screen')
         THEN nullif(trim(event_raw), '') END AS event,
    nullif(trim(message_id_raw), '') AS given_id,
    try_cast(revenue_raw AS DOUBLE) AS revenue
  FROM ({front})
),
c AS (
  SELECT *,
    CASE WHEN sent0 IS NOT NULL AND coalesce(orig0, ts0) IS NOT NULL
         THEN received - (sent0 - coalesce(orig0, ts0))
         ELSE coalesce(ts0, orig0, received) END AS timestamp
  FROM t
),
v AS (
  SELECT *,
    CASE
      WHEN bad_json THEN 'BAD_JSON'
      WHEN n_bytes > {s.max_message_bytes} THEN 'OVERSIZE'
      WHEN type IS NULL OR type NOT IN ({types}) THEN 'UNKNOWN_TYPE'
      WHEN wrong_field IS NOT NULL THEN 'WRONG_TYPE'
      WHEN revenue_raw IS NOT NULL AND revenue IS NULL THEN 'WRONG_TYPE'
      WHEN user_id IS NULL AND anonymous_id IS NULL THEN 'MISSING_ID'
      WHEN type = 'track' AND event IS NULL THEN 'MISSING_FIELD'
      WHEN type = 'alias' AND previous_id IS NULL THEN 'MISSING_FIELD'
      WHEN type = 'alias' AND user_id IS NULL THEN 'MISSING_FIELD'
      WHEN type = 'group' AND group_id IS NULL THEN 'MISSING_FIELD'
      WHEN ts_raw IS NOT NULL AND ts0 IS NULL THEN 'BAD_TIMESTAMP'
      WHEN original_raw IS NOT NULL AND orig0 IS NULL THEN 'BAD_TIMESTAMP'
      WHEN sent_raw IS NOT NULL AND sent0 IS NULL THEN 'BAD_TIMESTAMP'
      WHEN received_raw IS NOT NULL AND received0 IS NULL THEN 'BAD_TIMESTAMP'
      WHEN timestamp > received + INTERVAL {max_future_s} SECOND THEN 'FUTURE_TIMESTAMP'
      WHEN length(given_id) > {s.max_message_id_chars} THEN 'MESSAGE_ID_TOO_LONG'
    END AS code
  FROM c
)
SELECT {_ROW}, code, type, event, anonymous_id, user_id, previous_id, group_id, timestamp,
  received, properties, context, traits, revenue, currency_raw,
  CASE code
    WHEN 'UNKNOWN_TYPE' THEN 'type'
    WHEN 'WRONG_TYPE' THEN coalesce(wrong_field, 'properties.revenue')
    WHEN 'MISSING_ID' THEN 'userId'
    WHEN 'MISSING_FIELD' THEN CASE
      WHEN type = 'track' THEN 'event'
      WHEN type = 'alias' AND previous_id IS NULL THEN 'previousId'
      WHEN type = 'alias' THEN 'userId'
      ELSE 'groupId' END
    WHEN 'BAD_TIMESTAMP' THEN CASE
      WHEN ts_raw IS NOT NULL AND ts0 IS NULL THEN 'timestamp'
      WHEN original_raw IS NOT NULL AND orig0 IS NULL THEN 'originalTimestamp'
      WHEN sent_raw IS NOT NULL AND sent0 IS NULL THEN 'sentAt'
      ELSE 'receivedAt' END
    WHEN 'FUTURE_TIMESTAMP' THEN 'timestamp'
    WHEN 'MESSAGE_ID_TOO_LONG' THEN 'messageId'
  END AS field,
  CASE code
    WHEN 'UNKNOWN_TYPE' THEN type_raw
    WHEN 'WRONG_TYPE' THEN coalesce(wrong_value, revenue_raw)
    WHEN 'BAD_TIMESTAMP' THEN coalesce(
      CASE WHEN ts0 IS NULL THEN ts_raw END, CASE WHEN orig0 IS NULL THEN original_raw END,
      CASE WHEN sent0 IS NULL THEN sent_raw END, received_raw)
    WHEN 'FUTURE_TIMESTAMP' THEN strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%fZ')
    WHEN 'MESSAGE_ID_TOO_LONG' THEN given_id
    WHEN 'OVERSIZE' THEN n_bytes::VARCHAR || ' bytes'
  END AS value,
  CASE WHEN code IS NOT NULL THEN raw_text END AS raw,
  -- A row without an id gets one from its content (raw timestamps, so that re-reading the same
  -- row gives the same id even when the skew correction used the ingest clock).
  CASE WHEN given_id IS NOT NULL THEN given_id
       ELSE 'jl-' || md5(concat_ws(chr(31), type, event, user_id, anonymous_id, previous_id,
         group_id, coalesce(ts_raw, CAST(ts0 AS VARCHAR)),
         coalesce(original_raw, CAST(orig0 AS VARCHAR)), properties, traits, context))
  END AS message_id,
  coalesce(source_raw, '{_sql_str(self._source_name)}') AS source
FROM v
"""


_SCAN_BATCH_ROWS = 16_384

_NO_REJECTIONS = pa.table(
    {
        "row": pa.array([], pa.int64()),
        "field": pa.array([], pa.string()),
        "code": pa.array([], pa.string()),
        "value": pa.array([], pa.string()),
        "raw": pa.array([], pa.string()),
    }
)


def _malformed(lines: list[tuple[int, str]]) -> pa.Table:
    return pa.table(
        {
            "row": pa.array([n for n, _ in lines], pa.int64()),
            "field": pa.nulls(len(lines), pa.string()),
            "code": pa.array(["BAD_ROW"] * len(lines), pa.string()),
            "value": pa.nulls(len(lines), pa.string()),
            "raw": pa.array([text for _, text in lines], pa.string()),
        }
    )


_ACCEPTED_SQL = f"""
SELECT {_ROW}, message_id, type, event, anonymous_id, user_id, previous_id, group_id,
       timestamp, received AS received_at, source, properties, context, traits, revenue,
       CASE WHEN revenue IS NOT NULL THEN coalesce(upper(trim(currency_raw)), 'USD')
            ELSE upper(trim(currency_raw)) END AS currency
FROM checked WHERE code IS NULL
"""

# A table row's raw payload is its columns as a JSON object, built only for rejected rows.
_REJECTED_SQL = {
    "json": f"""
SELECT {_ROW} AS row, field, code, value, raw FROM checked
WHERE code IS NOT NULL ORDER BY {_ROW}
""",
    "table": f"""
SELECT k.{_ROW} AS row, k.field, k.code, k.value,
       json_merge_patch(to_json(chunk), '{{"{_ROW}": null}}')::VARCHAR AS raw
FROM (SELECT * FROM checked WHERE code IS NOT NULL) AS k JOIN chunk USING ({_ROW})
ORDER BY k.{_ROW}
""",
}

# Repeats are rare: find them with a cheap group-by and drop all but the first afterwards,
# instead of a window over every row.
_REPEATS_SQL = f"""
SELECT {_ROW} FROM (
  SELECT {_ROW}, row_number() OVER (PARTITION BY message_id ORDER BY {_ROW}) AS nth
  FROM checked
  WHERE code IS NULL AND message_id IN (
    SELECT message_id FROM checked WHERE code IS NULL GROUP BY 1 HAVING count(*) > 1)
) WHERE nth > 1
"""


# --------------------------------------------------------------------------- front-ends
#
# A front-end is a query over the registered ``chunk`` giving the staging columns: the row
# position, ``raw_text`` (JSON chunks), ``bad_json``, ``n_bytes``; the text fields
# ``<field>_raw``; ``properties``/``context``/``traits`` as JSON object text or null; for each
# timestamp its text (``ts_raw`` …, null when the column is typed) and its parsed value
# (``ts0``, ``orig0``, ``sent0``, ``received0``); ``wrong_field``/``wrong_value`` for the first
# field holding the wrong JSON type.

# Segment field → its spellings in a JSON message (camelCase first, then snake_case).
_JSON_FIELDS: dict[str, tuple[str, ...]] = {
    "message_id": ("messageId", "message_id"),
    "type": ("type",),
    "anonymous_id": ("anonymousId", "anonymous_id"),
    "user_id": ("userId", "user_id"),
    "previous_id": ("previousId", "previous_id"),
    "group_id": ("groupId", "group_id"),
    "event": ("event",),
    "name": ("name",),
    "properties_name": ("properties.name",),
    "source": ("source",),
    "ts": ("timestamp",),
    "original": ("originalTimestamp", "original_timestamp"),
    "sent": ("sentAt", "sent_at"),
    "received": ("receivedAt", "received_at"),
    "properties": ("properties",),
    "context": ("context",),
    "traits": ("traits",),
    "revenue": ("properties.revenue",),
    "currency": ("properties.currency",),
}
_ID_FIELDS = ("message_id", "type", "anonymous_id", "user_id", "previous_id", "group_id", "event")
_TIME_FIELDS = ("ts", "original", "sent", "received")
_TIME_LABELS = {
    "ts": "timestamp",
    "original": "originalTimestamp",
    "sent": "sentAt",
    "received": "receivedAt",
}
_PARSED = {"ts": "ts0", "original": "orig0", "sent": "sent0", "received": "received0"}
_RAW = {"ts": "ts_raw", "original": "original_raw", "sent": "sent_raw", "received": "received_raw"}


def _json_front() -> str:
    """Staging columns from one JSON text per row.

    The message is parsed once for validity and once more to pull every field at once
    (``json_extract`` with a list of paths); the type checks then run on the small values.
    """
    paths: list[str] = []
    position: dict[str, list[int]] = {}
    for name, spellings in _JSON_FIELDS.items():
        position[name] = []
        for spelling in spellings:
            paths.append(f"$.{spelling}")
            position[name].append(len(paths))  # DuckDB lists are 1-based

    def value(name: str) -> str:
        parts = [f"v[{i}]" for i in position[name]]
        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"

    def text(name: str) -> str:
        return f"json_extract_string({value(name)}, '$')"

    wrong: list[tuple[str, str]] = []
    for name in _ID_FIELDS:
        label = _JSON_FIELDS[name][0]
        wrong.append((f"json_type({value(name)}) IN ('OBJECT', 'ARRAY')", label))
    for name in _TIME_FIELDS:
        wrong.append((f"json_type({value(name)}) NOT IN ('VARCHAR', 'NULL')", _TIME_LABELS[name]))
    for root in JSON_ROOTS:
        wrong.append((f"json_type({value(root)}) NOT IN ('OBJECT', 'NULL')", root))
    field_case = " ".join(f"WHEN {cond} THEN '{label}'" for cond, label in wrong)
    value_case = " ".join(
        f"WHEN {cond} THEN {value(_field_of(label))}::VARCHAR" for cond, label in wrong
    )
    times = ", ".join(
        f"{text(n)} AS {_RAW[n]}, try_cast({text(n)} AS TIMESTAMPTZ) AS {_PARSED[n]}"
        for n in _TIME_FIELDS
    )
    quoted = ", ".join(f"'{p}'" for p in paths)
    return f"""
SELECT {_ROW}, raw AS raw_text, j IS NULL AS bad_json, strlen(raw) AS n_bytes,
  {text("message_id")} AS message_id_raw, {text("type")} AS type_raw,
  {text("anonymous_id")} AS anonymous_id_raw, {text("user_id")} AS user_id_raw,
  {text("previous_id")} AS previous_id_raw, {text("group_id")} AS group_id_raw,
  CASE WHEN lower({text("type")}) IN ('page', 'screen')
       THEN coalesce({text("name")}, {text("properties_name")}, {text("event")})
       ELSE {text("event")} END AS event_raw,
  {text("source")} AS source_raw,
  CASE WHEN json_type({value("properties")}) = 'OBJECT' THEN {value("properties")}::VARCHAR
    END AS properties,
  CASE WHEN json_type({value("context")}) = 'OBJECT' THEN {value("context")}::VARCHAR
    END AS context,
  CASE WHEN json_type({value("traits")}) = 'OBJECT' THEN {value("traits")}::VARCHAR END AS traits,
  {text("revenue")} AS revenue_raw, {text("currency")} AS currency_raw,
  {times},
  CASE {field_case} END AS wrong_field,
  CASE {value_case} END AS wrong_value
FROM (
  SELECT {_ROW}, raw, j, CASE WHEN j IS NOT NULL THEN json_extract(j, [{quoted}]) END AS v
  FROM (
    SELECT {_ROW}, raw,
      CASE WHEN left(ltrim(raw), 1) = '{{' THEN try_cast(raw AS JSON) END AS j
    FROM chunk WHERE raw IS NOT NULL AND trim(raw) <> ''
  )
)
"""


def _field_of(label: str) -> str:
    """The ``_JSON_FIELDS`` name whose first spelling is ``label``."""
    return next(name for name, spellings in _JSON_FIELDS.items() if spellings[0] == label)


def _table_front(plan: ColumnPlan, schema: pa.Schema) -> str:
    """Staging columns from a table's own columns, as its plan says.

    JSON text columns are parsed once (in the inner query) and checked for being objects by
    their first character; typed timestamp columns are used as they are, without a round trip
    through text.
    """

    def col(name: str) -> str:
        return f'"{name}"'

    def text(field: str) -> str:
        column = plan.fields.get(field)
        return f"CAST({col(column)} AS VARCHAR)" if column else "NULL::VARCHAR"

    inner: list[str] = [_ROW]
    roots: dict[str, str] = {}
    wrong: list[tuple[str, str, str]] = []  # condition, label, value
    for root in JSON_ROOTS:
        column = plan.fields.get(root)
        base = "NULL::JSON"
        if column:
            kind = schema.field(column).type
            if pa.types.is_struct(kind) or pa.types.is_map(kind):
                base = f"to_json({col(column)})"
            else:
                inner.append(f"{text(root)} AS {root}_in")
                inner.append(f"try_cast({text(root)} AS JSON) AS {root}_j")
                is_object = f"left(ltrim({root}_j::VARCHAR), 1) = '{{'"
                wrong.append(
                    (
                        f"{root}_in IS NOT NULL AND coalesce({root}_j::VARCHAR, '') <> 'null' "
                        f"AND NOT coalesce({is_object}, FALSE)",
                        root,
                        f"{root}_in",
                    )
                )
                base = f"CASE WHEN {is_object} THEN {root}_j END"
        extra = plan.json_paths(root)
        if extra:
            base = f"json_merge_patch(coalesce({base}, '{{}}'::JSON), {_nested_object(extra)})"
        roots[root] = f"({base})::VARCHAR"

    times: list[str] = []
    for name, field in (
        ("ts", "timestamp"),
        ("original", "original_timestamp"),
        ("sent", "sent_at"),
        ("received", "received_at"),
    ):
        column = plan.fields.get(field)
        if column is None:
            times.append(f"NULL::VARCHAR AS {_RAW[name]}, NULL::TIMESTAMPTZ AS {_PARSED[name]}")
            continue
        kind = schema.field(column).type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            times.append(
                f"NULL::VARCHAR AS {_RAW[name]}, CAST({col(column)} AS TIMESTAMPTZ) "
                f"AS {_PARSED[name]}"
            )
        else:
            times.append(
                f"{text(field)} AS {_RAW[name]}, try_cast({text(field)} AS TIMESTAMPTZ) "
                f"AS {_PARSED[name]}"
            )
    revenue = (
        text("revenue")
        if "revenue" in plan.fields
        else f"json_extract_string({roots['properties']}, '$.revenue')"
    )
    currency = (
        text("currency")
        if "currency" in plan.fields
        else f"json_extract_string({roots['properties']}, '$.currency')"
    )
    field_case = " ".join(f"WHEN {cond} THEN '{label}'" for cond, label, _ in wrong)
    value_case = " ".join(f"WHEN {cond} THEN {val}" for cond, _, val in wrong)
    return f"""
SELECT {_ROW}, NULL::VARCHAR AS raw_text, FALSE AS bad_json, 0 AS n_bytes,
  {text("message_id")} AS message_id_raw,
  coalesce({text("type")}, 'track') AS type_raw,
  {text("anonymous_id")} AS anonymous_id_raw,
  {text("user_id")} AS user_id_raw,
  {text("previous_id")} AS previous_id_raw,
  {text("group_id")} AS group_id_raw,
  {text("event")} AS event_raw,
  {text("source")} AS source_raw,
  {roots["properties"]} AS properties,
  {roots["context"]} AS context,
  {roots["traits"]} AS traits,
  {revenue} AS revenue_raw,
  {currency} AS currency_raw,
  {", ".join(times)},
  CASE {field_case or "WHEN FALSE THEN NULL"} END AS wrong_field,
  CASE {value_case or "WHEN FALSE THEN NULL"} END AS wrong_value
FROM (SELECT *, {", ".join(inner)} FROM chunk)
"""


def _nested_object(paths: dict[tuple[str, ...], str]) -> str:
    """``json_object`` building nested keys: {("campaign","source"): "utm_source"} →
    json_object('campaign', json_object('source', "utm_source"))."""
    tree: dict[str, object] = {}
    for keys, column in paths.items():
        node = tree
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = column

    def render(node: dict[str, object]) -> str:
        parts = []
        for key, value in node.items():
            inner = render(value) if isinstance(value, dict) else f'"{value}"'
            parts.append(f"'{_sql_str(key)}', {inner}")
        return f"json_object({', '.join(parts)})"

    return render(tree)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
