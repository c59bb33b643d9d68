"""The workspace's tables, its metadata and schema migrations.

``jl_meta`` is a key/value table: ``schema_version``, ``settings`` (JSON), and the version
counters that say whether derived tables are stale (``data_version`` bumps on every ingest that
adds rows, ``identity_version`` records the data version identities were resolved at,
``enriched_version`` the one ``events_enriched`` was built at). ``segments`` holds saved segments
(schema version 2), ``predictions`` the latest scores of every predictive model (version 3),
``api_keys`` the hashed API keys and ``suppressed_identifiers`` the hashed identifiers of erased
persons (version 4), ``surveys`` the saved survey definitions (version 5, see
:mod:`journeylens.store.surveys`), and the journey runner's versions, instances, timers, outbox
and cursors (version 6, DuckDB only, see :mod:`journeylens.store.journeys`).

Migrations are functions from version N to N+1, applied in order on open; a workspace written by a
newer journeylens is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.backends import BaseBackend

from journeylens.errors import SchemaVersionError, WorkspaceError
from journeylens.schema import (
    API_KEYS_SCHEMA,
    EVENTS_SCHEMA,
    ID_MAP_SCHEMA,
    MERGE_LOG_SCHEMA,
    PERSONS_SCHEMA,
    PREDICTIONS_SCHEMA,
    QUARANTINE_SCHEMA,
    SCHEMA_VERSION,
    SUPPRESSED_IDENTIFIERS_SCHEMA,
)
from journeylens.settings import StoreSettings
from journeylens.store.journeys import create_journey_tables
from journeylens.store.surveys import SURVEYS_SCHEMA

__all__ = [
    "EDGE_OVERRIDES_SCHEMA",
    "META",
    "SEGMENTS_SCHEMA",
    "TABLES",
    "Catalog",
    "connect_duckdb",
]

META: Final = "jl_meta"
_META_SCHEMA: Final = ibis.schema({"key": dt.String(nullable=False), "value": dt.string})

#: Edges a user invalidated (unmerge); resolution skips them until they are restored.
EDGE_OVERRIDES_SCHEMA: Final = ibis.schema(
    {"edge_id": dt.String(nullable=False), "reason": dt.string, "created_at": dt.Timestamp("UTC")}
)

#: Saved segments: a name, the analysis that computes its members and that analysis's spec as
#: JSON; members are recomputed on demand, never stored.
SEGMENTS_SCHEMA: Final = ibis.schema(
    {
        "name": dt.String(nullable=False),
        "analysis": dt.string,
        "spec": dt.string,
        "saved_at": dt.Timestamp("UTC"),
    }
)

#: ``events`` keeps its JSON columns as text: it is append-only and read through
#: ``events_enriched`` (which has them as JSON), so validating JSON a second time on every insert
#: would only cost ingest speed; staging has already checked each is a JSON object.
STORED_EVENTS_SCHEMA: Final = ibis.schema(
    {name: (dt.string if dtype.is_json() else dtype) for name, dtype in EVENTS_SCHEMA.items()}
)

TABLES: Final[dict[str, ibis.Schema]] = {
    "events": STORED_EVENTS_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "id_map": ID_MAP_SCHEMA,
    "merge_log": MERGE_LOG_SCHEMA,
    "persons": PERSONS_SCHEMA,
    "edge_overrides": EDGE_OVERRIDES_SCHEMA,
}


def _create_v1(catalog: Catalog) -> None:
    for name, schema in TABLES.items():
        catalog.ensure_table(name, schema)


def _add_segments_v2(catalog: Catalog) -> None:
    catalog.ensure_table("segments", SEGMENTS_SCHEMA)


def _add_predictions_v3(catalog: Catalog) -> None:
    catalog.ensure_table("predictions", PREDICTIONS_SCHEMA)


def _add_keys_and_suppression_v4(catalog: Catalog) -> None:
    catalog.ensure_table("api_keys", API_KEYS_SCHEMA)
    catalog.ensure_table("suppressed_identifiers", SUPPRESSED_IDENTIFIERS_SCHEMA)


def _add_surveys_v5(catalog: Catalog) -> None:
    catalog.ensure_table("surveys", SURVEYS_SCHEMA)


#: migrations[i] upgrades a workspace from version i to i + 1.
_MIGRATIONS: Final[list[Callable[[Catalog], None]]] = [
    _create_v1,
    _add_segments_v2,
    _add_predictions_v3,
    _add_keys_and_suppression_v4,
    _add_surveys_v5,
    create_journey_tables,
]
assert len(_MIGRATIONS) == SCHEMA_VERSION


class Catalog:
    """Tables and metadata of one workspace on one Ibis backend."""

    def __init__(self, con: BaseBackend) -> None:
        self.con = con
        self._uploads = 0

    def configure(self, settings: StoreSettings) -> None:
        """Apply the store settings to an embedded DuckDB. The memory limit only binds a
        database on disk: an in-memory one cannot evict its tables, so it keeps DuckDB's
        default."""
        if self.con.name != "duckdb":
            return
        [(path,)] = self.con.con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
        on_disk = path is not None
        if on_disk and settings.memory_limit:
            self.con.raw_sql(f"SET memory_limit = '{settings.memory_limit}'")
        if settings.threads:
            self.con.raw_sql(f"SET threads = {settings.threads}")

    # ------------------------------------------------------------------ tables

    def ensure_table(self, name: str, schema: ibis.Schema) -> None:
        if name not in self.con.list_tables():
            self.con.create_table(name, schema=schema)

    def table(self, name: str) -> ibis.Table:
        return self.con.table(name)

    @contextmanager
    def uploaded(self, rows: pa.Table) -> Iterator[ibis.Table]:
        """Arrow rows as a table of this backend, for the duration of the block.

        The rows are registered under a name of their own and dropped after the block: Ibis's
        memtables stay registered as long as Ibis holds their expressions, which kept every
        ingested chunk in memory. On PySpark they go in through Spark 4's Arrow reader, as
        Ibis's pandas route turns missing strings into the text "NaN" under pandas 3.
        """
        self._uploads += 1
        view = f"jl_upload_{self._uploads}"
        if self.con.name == "duckdb":
            # Small record batches let DuckDB read the rows on every thread.
            batches = rows.to_batches(max_chunksize=16_384)
            self.con.con.register(view, pa.Table.from_batches(batches, schema=rows.schema))
            try:
                yield self.con.table(view)
            finally:
                self.con.con.unregister(view)
        elif self.con.name == "pyspark":
            self.con._session.createDataFrame(rows).createOrReplaceTempView(view)
            try:
                yield self.con.table(view)
            finally:
                self.con._session.catalog.dropTempView(view)
        else:
            yield ibis.memtable(rows)

    def append(
        self, name: str, rows: pa.Table, schema: ibis.Schema, *, key: str | None = None
    ) -> None:
        """Append rows (Arrow) to a stored table, cast to its schema; with ``key``, only rows
        whose key is not stored yet."""
        with self.uploaded(rows.cast(schema.to_pyarrow())) as staged:
            if key is not None:
                stored = self.con.table(name)
                staged = staged.anti_join(stored.select(key), key)
            self.con.insert(name, staged)

    def append_events(self, rows: pa.Table) -> int:
        """Insert events whose ``message_id`` is not stored yet. Returns how many were new."""
        if rows.num_rows == 0:
            return 0
        events = self.con.table("events")
        before = int(events.count().execute())
        # JSON columns travel as text: every backend reads JSON text into its own JSON type.
        with self.uploaded(rows) as staged:
            new = staged.anti_join(events.select("message_id"), "message_id")
            self.con.insert("events", new.select(*EVENTS_SCHEMA.names))
        return int(self.con.table("events").count().execute()) - before

    def replace(self, name: str, obj: Any, schema: ibis.Schema) -> None:
        """Replace a derived table's contents (an Arrow table or an Ibis expression)."""
        if isinstance(obj, ibis.Table):
            self.con.create_table(name, obj.select(*schema.names).cast(schema), overwrite=True)
            return
        with self.uploaded(obj) as staged:
            expr = staged.select(*schema.names).cast(schema)
            self.con.create_table(name, expr, overwrite=True)

    # ------------------------------------------------------------------ saved segments

    def saved_segments(self) -> list[dict[str, Any]]:
        """Every saved segment as ``{name, analysis, spec, saved_at}``, sorted by name."""
        table = self.con.table("segments")
        return table.order_by("name").to_pyarrow().to_pylist()

    def save_segment(self, name: str, analysis: str, spec: str, saved_at: datetime) -> None:
        """Store a segment under ``name``, replacing one saved under the same name."""
        rows = [r for r in self.saved_segments() if r["name"] != name]
        rows.append({"name": name, "analysis": analysis, "spec": spec, "saved_at": saved_at})
        self._write_segments(rows)

    def delete_segment(self, name: str) -> None:
        """Forget the segment saved under ``name`` (nothing happens if there is none)."""
        self._write_segments([r for r in self.saved_segments() if r["name"] != name])

    def _write_segments(self, rows: list[dict[str, Any]]) -> None:
        # A handful of rows: rewrite the table whole, which every backend can do.
        table = pa.Table.from_pylist(rows, schema=SEGMENTS_SCHEMA.to_pyarrow())
        self.replace("segments", table, SEGMENTS_SCHEMA)

    def delete_where_in(self, name: str, column: str, values: list[str]) -> int:
        """Delete the rows of ``name`` whose ``column`` is one of ``values`` (text). Returns how
        many rows were deleted."""
        if not values:
            return 0
        table = self.con.table(name)
        before = int(table.count().execute())
        keys = pa.table({column: pa.array(values, pa.string())})
        if self.con.name == "duckdb":
            # An in-place DELETE: rewriting a large events table to drop a few rows would copy
            # every other row.
            with self.uploaded(keys) as staged:
                view = staged.get_name()
                self.con.raw_sql(
                    f'DELETE FROM "{name}" WHERE "{column}" IN (SELECT "{column}" FROM "{view}")'
                ).fetchall()
        else:
            with self.uploaded(keys) as staged:
                kept = table.anti_join(staged, column).to_pyarrow()
            self.replace(name, kept, self.con.table(name).schema())
        return before - int(self.con.table(name).count().execute())

    def checkpoint(self) -> None:
        """Write DuckDB's log into the database file, so deleted rows leave the log now."""
        if self.con.name == "duckdb":
            self.con.raw_sql("CHECKPOINT").fetchall()

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of a small table (keys, suppressions) as dicts."""
        return self.con.table(name).to_pyarrow().to_pylist()

    def rewrite(self, name: str, rows: list[dict[str, Any]], schema: ibis.Schema) -> None:
        """Make ``rows`` the whole content of the small table ``name``."""
        self.replace(name, pa.Table.from_pylist(rows, schema=schema.to_pyarrow()), schema)

    # ------------------------------------------------------------------ API keys

    def api_key_rows(self) -> list[dict[str, Any]]:
        """Every stored key row (``API_KEYS_SCHEMA``), oldest first."""
        return sorted(self.rows("api_keys"), key=lambda r: (r["created_at"], r["key_id"]))

    def add_api_key(self, row: dict[str, Any]) -> None:
        self.rewrite("api_keys", [*self.rows("api_keys"), row], API_KEYS_SCHEMA)

    def revoke_api_key(self, key_id: str, now: datetime) -> dict[str, Any] | None:
        """Mark the key revoked at ``now`` unless it already is. Returns its row, or None if no
        key has that id."""
        rows = self.rows("api_keys")
        found = next((r for r in rows if r["key_id"] == key_id), None)
        if found is not None and found["revoked_at"] is None:
            found["revoked_at"] = now
            self.rewrite("api_keys", rows, API_KEYS_SCHEMA)
        return found

    # ------------------------------------------------------------------ predictions

    def replace_predictions(self, model: str, rows: pa.Table) -> None:
        """Make ``rows`` (``PREDICTIONS_SCHEMA``) the only predictions of ``model``."""
        table = self.con.table("predictions")
        # Read the other models' rows before the overwrite; the table is one row per scored
        # person and model, small enough to stage (and every backend can rewrite a table).
        kept = table.filter(table.model != model).to_pyarrow()
        combined = pa.concat_tables([kept.cast(rows.schema), rows])
        self.replace("predictions", combined, PREDICTIONS_SCHEMA)

    # ------------------------------------------------------------------ metadata

    def migrate(self) -> int:
        """Bring the workspace to ``SCHEMA_VERSION``. Returns the version it was at."""
        self.ensure_table(META, _META_SCHEMA)
        found = int(self.get("schema_version") or 0)
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"This workspace has schema version {found}; this journeylens reads up to "
                f"{SCHEMA_VERSION}",
                fix="Upgrade journeylens (pip install -U journeylens)",
            )
        for version in range(found, SCHEMA_VERSION):
            _MIGRATIONS[version](self)
            self.set("schema_version", str(version + 1))
        return found

    def get(self, key: str) -> str | None:
        meta = self.con.table(META)
        rows = meta.filter(meta.key == key).select("value").to_pyarrow()
        return rows.column(0)[0].as_py() if rows.num_rows else None

    def get_int(self, key: str) -> int:
        return int(self.get(key) or 0)

    def set(self, key: str, value: str) -> None:
        # The table is a handful of rows: rewrite it whole (portable to every backend).
        rows = self.con.table(META).to_pyarrow().to_pylist()
        values = {r["key"]: r["value"] for r in rows} | {key: value}
        table = pa.table(
            {"key": list(values), "value": list(values.values())},
            schema=pa.schema([pa.field("key", pa.string(), False), ("value", pa.string())]),
        )
        self.con.create_table(META, table, overwrite=True)


def connect_duckdb(path: str | Path | None) -> BaseBackend:
    """The embedded backend: ``<path>/journeylens.duckdb`` (a path ending in ``.duckdb`` is used
    as is), or an in-memory database for ``None``. Sessions run in UTC."""
    con = ibis.duckdb.connect(_duckdb_file(path) if path is not None else ":memory:")
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def _duckdb_file(path: str | Path) -> str:
    folder = Path(path)
    if folder.suffix in (".duckdb", ".db"):
        folder.parent.mkdir(parents=True, exist_ok=True)
        return str(folder)
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(
            f"{str(folder)!r} exists and is not a folder",
            fix="Pass a folder for the workspace, or a path ending in .duckdb",
        )
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "journeylens.duckdb")
