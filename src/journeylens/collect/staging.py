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

# Segment field → (camelCase path, snake_case path) in a JSON message.
_JSON_TEXT_FIELDS = {
    "message_id": ("messageId", "message_id"),
    "type": ("type",),
    "anonymous_id": ("anonymousId", "anonymous_id"),
    "user_id": ("userId", "user_id"),
    "previous_id": ("previousId", "previous_id"),
    "group_id": ("groupId", "group_id"),
    "ts_raw": ("timestamp",),
    "original_raw": ("originalTimestamp", "original_timestamp"),
    "sent_raw": ("sentAt", "sent_at"),
    "received_raw": ("receivedAt", "received_at"),
    "source": ("source",),
}
_ID_FIELDS = ("message_id", "type", "anonymous_id", "user_id", "previous_id", "group_id", "event")


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
            accepted = self._con.sql(_ACCEPTED_SQL).to_arrow_table()
            repeated = self._con.sql(_REPEATS_SQL).to_arrow_table().column(0)
            if len(repeated):
                keep = pc.invert(pc.is_in(accepted.column(_ROW), value_set=repeated))
                accepted = accepted.filter(keep)
            accepted = accepted.drop_columns([_ROW])
            repeats = len(repeated)
            rejected = self._con.sql(_REJECTED_SQL[chunk.kind]).to_arrow_table()
        finally:
            self._con.unregister("chunk")
        return Staged(
            accepted=accepted.cast(EVENTS_ARROW_SCHEMA), rejected=rejected, repeats=repeats
        )

    def _checked_sql(self, front: str) -> str:
        s = self._settings
        types = ", ".join(f"'{t}'" for t in MESSAGE_TYPES)
        received = self._received_at.isoformat()
        max_future_s = int(s.max_future_delta.total_seconds())
        return f"""
WITH f AS ({front}),
t AS (
  SELECT *,
    lower(trim(type_raw)) AS type,
    try_cast(ts_raw AS TIMESTAMPTZ) AS ts0,
    try_cast(original_raw AS TIMESTAMPTZ) AS orig0,
    try_cast(sent_raw AS TIMESTAMPTZ) AS sent0,
    coalesce(try_cast(received_raw AS TIMESTAMPTZ), TIMESTAMPTZ '{received}') AS received,
    nullif(trim(user_id_raw), '') AS user_id,
    nullif(trim(anonymous_id_raw), '') AS anonymous_id,
    nullif(trim(previous_id_raw), '') AS previous_id,
    nullif(trim(group_id_raw), '') AS group_id,
    nullif(trim(event_raw), '') AS event,
    nullif(trim(message_id_raw), '') AS given_id,
    try_cast(revenue_raw AS DOUBLE) AS revenue
  FROM f
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
      WHEN received_raw IS NOT NULL AND try_cast(received_raw AS TIMESTAMPTZ) IS NULL
        THEN 'BAD_TIMESTAMP'
      WHEN timestamp > received + INTERVAL {max_future_s} SECOND THEN 'FUTURE_TIMESTAMP'
      WHEN length(given_id) > {s.max_message_id_chars} THEN 'MESSAGE_ID_TOO_LONG'
    END AS code
  FROM c
)
SELECT *,
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
  coalesce(given_id, 'jl-' || md5(concat_ws(chr(31), type, event, user_id, anonymous_id,
    previous_id, group_id, ts_raw::VARCHAR, original_raw::VARCHAR, properties, traits, context)))
    AS message_id,
  coalesce(source_raw, '{_sql_str(self._source_name)}') AS source
FROM v
"""


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
FROM checked AS k JOIN chunk USING ({_ROW})
WHERE k.code IS NOT NULL ORDER BY k.{_ROW}
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


def _json_front() -> str:
    """Flat staging columns from one JSON text per row."""
    text = []
    for name, keys in _JSON_TEXT_FIELDS.items():
        alias = "type_raw" if name == "type" else name if name.endswith("_raw") else f"{name}_raw"
        if name == "source":
            alias = "source_raw"
        text.append(f"{_coalesce_text(keys)} AS {alias}")
    wrong = _wrong_type_checks()
    return f"""
SELECT {_ROW}, raw AS raw_text, j IS NULL AS bad_json, strlen(raw) AS n_bytes,
  {", ".join(text)},
  CASE WHEN lower(json_extract_string(j, '$.type')) IN ('page', 'screen')
       THEN coalesce(json_extract_string(j, '$.name'), json_extract_string(j, '$.properties.name'),
                     json_extract_string(j, '$.event'))
       ELSE json_extract_string(j, '$.event') END AS event_raw,
  json_extract(j, '$.properties')::VARCHAR AS properties,
  json_extract(j, '$.context')::VARCHAR AS context,
  json_extract(j, '$.traits')::VARCHAR AS traits,
  json_extract_string(j, '$.properties.revenue') AS revenue_raw,
  json_extract_string(j, '$.properties.currency') AS currency_raw,
  {wrong}
FROM (
  SELECT {_ROW}, raw,
    CASE WHEN json_type(try_cast(raw AS JSON)) = 'OBJECT' THEN try_cast(raw AS JSON) END AS j
  FROM chunk WHERE raw IS NOT NULL AND trim(raw) <> ''
)
"""


def _coalesce_text(keys: tuple[str, ...]) -> str:
    parts = [f"json_extract_string(j, '$.{k}')" for k in keys]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _wrong_type_checks() -> str:
    """The first field whose JSON type is wrong, and its value."""
    checks: list[tuple[str, str]] = []
    for name, keys in [*_JSON_TEXT_FIELDS.items(), ("event", ("event",))]:
        if name in ("source",):
            continue
        label = keys[0]
        types = " , ".join(f"json_type(j, '$.{k}')" for k in keys)
        cond = (
            f"coalesce({types}) IN ('OBJECT', 'ARRAY')"
            if len(keys) > 1
            else (f"json_type(j, '$.{keys[0]}') IN ('OBJECT', 'ARRAY')")
        )
        if name.endswith("_raw"):
            cond = cond.replace("IN ('OBJECT', 'ARRAY')", "NOT IN ('VARCHAR', 'NULL')")
        checks.append((cond, label))
    for root in JSON_ROOTS:
        checks.append((f"json_type(j, '$.{root}') NOT IN ('OBJECT', 'NULL')", root))
    field_case = " ".join(f"WHEN {cond} THEN '{label}'" for cond, label in checks)
    value_case = " ".join(
        f"WHEN {cond} THEN json_extract(j, '$.{label}')::VARCHAR" for cond, label in checks
    )
    return f"CASE {field_case} END AS wrong_field, CASE {value_case} END AS wrong_value"


def _table_front(plan: ColumnPlan, schema: pa.Schema) -> str:
    """Flat staging columns from a table's own columns, as its plan says."""

    def col(name: str) -> str:
        return f'"{name}"'

    def text(field: str) -> str:
        column = plan.fields.get(field)
        return f"CAST({col(column)} AS VARCHAR)" if column else "NULL::VARCHAR"

    def json_root(root: str) -> tuple[str, str]:
        """The root's JSON text, and a check that a given JSON column holds an object."""
        column = plan.fields.get(root)
        base = "NULL::JSON"
        check = "FALSE"
        if column:
            kind = schema.field(column).type
            if pa.types.is_struct(kind) or pa.types.is_map(kind):
                base = f"to_json({col(column)})"
            else:
                raw = f"CAST({col(column)} AS VARCHAR)"
                check = (
                    f"({raw} IS NOT NULL AND "
                    f"coalesce(json_type(try_cast({raw} AS JSON)), '') NOT IN ('OBJECT', 'NULL'))"
                )
                base = f"try_cast({raw} AS JSON)"
        extra = plan.json_paths(root)
        if extra:
            base = f"json_merge_patch(coalesce({base}, '{{}}'::JSON), {_nested_object(extra)})"
        return f"{base}::VARCHAR", check

    roots = {root: json_root(root) for root in JSON_ROOTS}
    wrong_field = " ".join(f"WHEN {check} THEN '{root}'" for root, (_, check) in roots.items())
    wrong_value = " ".join(
        f"WHEN {check} THEN CAST({col(plan.fields[root])} AS VARCHAR)"
        for root, (_, check) in roots.items()
        if root in plan.fields
    )
    ts = plan.fields.get("timestamp")
    revenue = (
        text("revenue")
        if "revenue" in plan.fields
        else f"json_extract_string({roots['properties'][0]}, '$.revenue')"
    )
    currency = (
        text("currency")
        if "currency" in plan.fields
        else f"json_extract_string({roots['properties'][0]}, '$.currency')"
    )
    return f"""
SELECT {_ROW}, NULL::VARCHAR AS raw_text, FALSE AS bad_json, 0 AS n_bytes,
  {text("message_id")} AS message_id_raw,
  coalesce({text("type")}, 'track') AS type_raw,
  {text("anonymous_id")} AS anonymous_id_raw,
  {text("user_id")} AS user_id_raw,
  {text("previous_id")} AS previous_id_raw,
  {text("group_id")} AS group_id_raw,
  {f"CAST({col(ts)} AS VARCHAR)" if ts else "NULL::VARCHAR"} AS ts_raw,
  {text("original_timestamp")} AS original_raw,
  {text("sent_at")} AS sent_raw,
  {text("received_at")} AS received_raw,
  {text("source")} AS source_raw,
  {text("event")} AS event_raw,
  {roots["properties"][0]} AS properties,
  {roots["context"][0]} AS context,
  {roots["traits"][0]} AS traits,
  {revenue} AS revenue_raw,
  {currency} AS currency_raw,
  CASE {wrong_field or "WHEN FALSE THEN NULL"} END AS wrong_field,
  CASE {wrong_value or "WHEN FALSE THEN NULL"} END AS wrong_value
FROM chunk
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
