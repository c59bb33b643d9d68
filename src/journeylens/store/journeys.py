"""Durable journey state: versions, instances, timers, the outbox, the event cursor.

The journey runner is exactly-once only if its state changes are atomic, so these tables live in
the embedded DuckDB and every tick's changes go in through :meth:`JourneyStore.commit_tick`, one
transaction:

``journey_versions``
    every published version of every journey (``definition`` is its JSON); ``status`` is
    ``live`` (takes new entries; the newest version of a journey), ``retired`` (an older
    version: its instances run on, it takes no new entries) or ``paused`` (the whole journey
    stops: no entries, no timers, no sends, until resumed).
``journey_instances``
    one row per (journey version, person, entry key), named by ``instance_id``; ``state`` is the
    engine's ``InstanceState`` as JSON, ``timezone`` the zone the person had at entry.
``journey_timers``
    each instance's one pending timer (``timer_id``, ``due_at``); a tick fires those due.
``journey_outbox``
    the send ledger: one row per action, ``idempotency_key`` PRIMARY KEY, so replaying a step
    after a crash cannot add a second row. ``status`` pending → sent | failed; ``attempts``,
    ``next_attempt_at`` (backoff after a transient failure), ``last_error``,
    ``provider_message_id``, ``sent_at``. It is also the frequency-cap counter: a person's
    recent messages are its rows (indexed by ``person_id``), counted at their ``not_before``.
``journey_cursor``
    how far the runner has read the events: ``received_at`` of the newest processed batch
    (a key per reader: ``events``, ``score:<model>``, ``date:<journey>``).
``journey_cursor_seen``
    the message ids already processed whose ``received_at`` equals the cursor: one ingest
    stamps a whole batch with one ``received_at`` and may store it in several chunks, so the
    time alone cannot say which of its rows were read.
``journey_segment_members``
    the members each segment a journey enters on (or exits on) had at the last check, so the
    runner can tell who entered and who left since.

Only the embedded DuckDB backend has the transactions this needs; on another backend the
tables are not made and :class:`JourneyStore` refuses to open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
from ibis.backends import BaseBackend

from journeylens.errors import WorkspaceError

if TYPE_CHECKING:
    from journeylens.store.catalog import Catalog

__all__ = ["JOURNEY_TABLES", "JourneyStore", "TickChanges", "create_journey_tables", "utc"]

_TS: Final = "TIMESTAMPTZ"

#: Table -> its DDL columns (DuckDB).
JOURNEY_TABLES: Final[dict[str, str]] = {
    "journey_versions": f"""
        journey_id VARCHAR NOT NULL, version VARCHAR NOT NULL, definition VARCHAR NOT NULL,
        priority INTEGER NOT NULL, status VARCHAR NOT NULL, published_at {_TS} NOT NULL,
        PRIMARY KEY (journey_id, version)""",
    "journey_instances": f"""
        instance_id VARCHAR PRIMARY KEY, journey_id VARCHAR NOT NULL, version VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL, entry_key VARCHAR NOT NULL, status VARCHAR NOT NULL,
        grp VARCHAR NOT NULL, node VARCHAR, timezone VARCHAR, entered_at {_TS} NOT NULL,
        updated_at {_TS} NOT NULL, converted_at {_TS}, state VARCHAR NOT NULL""",
    "journey_timers": f"""
        instance_id VARCHAR PRIMARY KEY, timer_id VARCHAR NOT NULL, due_at {_TS} NOT NULL""",
    "journey_outbox": f"""
        idempotency_key VARCHAR PRIMARY KEY, instance_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL, channel VARCHAR, person_id VARCHAR NOT NULL, recipient VARCHAR,
        journey_id VARCHAR NOT NULL, journey_version VARCHAR NOT NULL, node_id VARCHAR NOT NULL,
        payload VARCHAR NOT NULL, not_before {_TS} NOT NULL, created_at {_TS} NOT NULL,
        status VARCHAR NOT NULL, attempts INTEGER NOT NULL, next_attempt_at {_TS},
        last_error VARCHAR, provider_message_id VARCHAR, sent_at {_TS}""",
    "journey_cursor": f"name VARCHAR PRIMARY KEY, received_at {_TS}",
    "journey_cursor_seen": "name VARCHAR NOT NULL, message_id VARCHAR NOT NULL",
    "journey_segment_members": "segment VARCHAR NOT NULL, person_id VARCHAR NOT NULL",
}

_INSTANCE_COLUMNS: Final = (
    "instance_id, journey_id, version, person_id, entry_key, status, grp, node, timezone, "
    "entered_at, updated_at, converted_at, state"
)
_OUTBOX_NEW: Final = (
    "idempotency_key, instance_id, kind, channel, person_id, recipient, journey_id, "
    "journey_version, node_id, payload, not_before, created_at"
)


def create_journey_tables(catalog: Catalog) -> None:
    """The journey tables (schema version 6) on an embedded DuckDB; nothing elsewhere."""
    if catalog.con.name != "duckdb":
        return
    for name, columns in JOURNEY_TABLES.items():
        catalog.con.raw_sql(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    for table in ("journey_instances", "journey_outbox"):
        catalog.con.raw_sql(f"CREATE INDEX IF NOT EXISTS {table}_person ON {table} (person_id)")


class TickChanges:
    """What one runner tick changes, written at once by :meth:`JourneyStore.commit_tick`.

    Attributes:
        instances: rows of ``journey_instances`` to insert or replace (dicts with its columns).
        timers: ``instance_id -> (timer_id, due_at)``, or None to drop the instance's timer.
        outbox: new rows (dicts with ``_OUTBOX_NEW`` columns); a key already stored is kept.
        cursors: ``name -> (received_at, message ids at that time)``: the readers' new
            positions; the ids replace those stored unless the time is unchanged (then they
            are added).
        dropped: ids of instances to delete with their timers (an instance moved to the
            person its person merged into lives on under a new id).
        segments: ``segment key -> (person ids that entered, person ids that left)``: the
            changes to ``journey_segment_members``.
    """

    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.timers: dict[str, tuple[str, datetime] | None] = {}
        self.outbox: dict[str, dict[str, Any]] = {}
        self.cursors: dict[str, tuple[datetime, list[str]]] = {}
        self.dropped: set[str] = set()
        self.segments: dict[str, tuple[list[str], list[str]]] = {}

    def __bool__(self) -> bool:
        return bool(
            self.instances
            or self.timers
            or self.outbox
            or self.cursors
            or self.dropped
            or self.segments
        )


class JourneyStore:
    """The journey tables of one workspace's DuckDB connection."""

    def __init__(self, backend: BaseBackend) -> None:
        if backend.name != "duckdb":
            raise WorkspaceError(
                "Journeys need the embedded DuckDB store (they commit state transactionally)",
                received=backend.name,
                fix="Run journeys on a workspace opened from a folder or in memory",
            )
        self._db = backend.con
        self._uploads = 0

    # ------------------------------------------------------------------ plumbing

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._db.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @contextmanager
    def _staged(self, rows: list[dict[str, Any]], schema: pa.Schema) -> Iterator[str]:
        self._uploads += 1
        view = f"jl_journey_upload_{self._uploads}"
        self._db.register(view, pa.Table.from_pylist(rows, schema=schema))
        try:
            yield view
        finally:
            self._db.unregister(view)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction: everything in the block is stored, or nothing."""
        self._db.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ versions

    def publish(
        self, journey_id: str, version: str, definition: str, priority: int, now: datetime
    ) -> bool:
        """Make ``version`` the live version of ``journey_id`` (earlier versions retire; a
        paused journey stays paused). Returns False if that version was already published."""
        known = self._rows(
            "SELECT version, status FROM journey_versions WHERE journey_id = ?", [journey_id]
        )
        if any(r["version"] == version for r in known):
            return False
        paused = any(r["status"] == "paused" for r in known)
        with self.transaction():
            self._db.execute(
                "UPDATE journey_versions SET status = 'retired' "
                "WHERE journey_id = ? AND status = 'live'",
                [journey_id],
            )
            self._db.execute(
                "INSERT INTO journey_versions VALUES (?, ?, ?, ?, ?, ?)",
                [journey_id, version, definition, priority, "paused" if paused else "live", now],
            )
        return True

    def set_paused(self, journey_id: str, paused: bool) -> None:
        """Pause the journey (its newest version stops; others are retired) or resume it."""
        newest = self._rows(
            "SELECT version FROM journey_versions WHERE journey_id = ? "
            "ORDER BY published_at DESC, version LIMIT 1",
            [journey_id],
        )
        if not newest:
            return
        with self.transaction():
            self._db.execute(
                "UPDATE journey_versions SET status = ? WHERE journey_id = ? AND version = ?",
                ["paused" if paused else "live", journey_id, newest[0]["version"]],
            )

    def versions(self, journey_id: str | None = None) -> list[dict[str, Any]]:
        """Published versions (newest first per journey): ``journey_id``, ``version``,
        ``definition`` (JSON text), ``priority``, ``status``, ``published_at``."""
        where, params = ("WHERE journey_id = ?", [journey_id]) if journey_id else ("", [])
        return self._rows(
            f"SELECT * FROM journey_versions {where} ORDER BY journey_id, published_at DESC",
            params,
        )

    def paused_journeys(self) -> set[str]:
        return {
            r["journey_id"]
            for r in self._rows("SELECT journey_id FROM journey_versions WHERE status = 'paused'")
        }

    # ------------------------------------------------------------------ instances, timers

    def instances_of(self, person_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every instance of these persons (all journeys, all statuses), with the priority of
        its journey version."""
        if not person_ids:
            return []
        with self._staged([{"person_id": p} for p in set(person_ids)], _IDS_SCHEMA) as view:
            return self._rows(
                f"SELECT i.*, v.priority FROM journey_instances i "
                f"JOIN {view} p USING (person_id) "
                f"JOIN journey_versions v ON v.journey_id = i.journey_id "
                f"AND v.version = i.version"
            )

    def unmapped_persons(self) -> list[str]:
        """Persons of live instances whose id the identity map no longer holds (they merged
        into someone else, or were erased), sorted; ``m_`` ids (never mapped) are not listed."""
        found = self._rows(
            "SELECT DISTINCT person_id FROM journey_instances i "
            "WHERE status IN ('active', 'waiting') AND NOT starts_with(person_id, 'm_') "
            "AND NOT EXISTS (SELECT 1 FROM id_map m WHERE m.person_id = i.person_id) "
            "ORDER BY person_id"
        )
        return [r["person_id"] for r in found]

    def segment_members(self, key: str) -> set[str]:
        """The members a journey's segment had at its last check (``key``: see the runner)."""
        rows = self._rows("SELECT person_id FROM journey_segment_members WHERE segment = ?", [key])
        return {r["person_id"] for r in rows}

    def due_timers(self, now: datetime) -> list[dict[str, Any]]:
        """Timers due at ``now`` of journeys not paused: ``instance_id``, ``timer_id``,
        ``due_at``, ``person_id``, oldest first."""
        return self._rows(
            "SELECT t.instance_id, t.timer_id, t.due_at, i.person_id "
            "FROM journey_timers t JOIN journey_instances i USING (instance_id) "
            "WHERE t.due_at <= ? AND i.journey_id NOT IN "
            "(SELECT journey_id FROM journey_versions WHERE status = 'paused') "
            "ORDER BY t.due_at, t.instance_id",
            [now],
        )

    def instance_rows(self, journey_id: str) -> list[dict[str, Any]]:
        """Every instance of a journey (all versions): its columns but ``state``, and
        ``path`` (the visits, parsed from the state)."""
        rows = self._rows(
            f"SELECT {_INSTANCE_COLUMNS} FROM journey_instances WHERE journey_id = ?",
            [journey_id],
        )
        for row in rows:
            row["path"] = json.loads(row.pop("state"))["path"]
        return rows

    # ------------------------------------------------------------------ cursors

    def cursor(self, name: str) -> tuple[datetime | None, set[str]]:
        """A reader's position: the newest ``received_at`` it processed (None: nothing yet)
        and the message ids of that time it has processed."""
        found = self._rows("SELECT received_at FROM journey_cursor WHERE name = ?", [name])
        if not found:
            return None, set()
        seen = self._rows("SELECT message_id FROM journey_cursor_seen WHERE name = ?", [name])
        return found[0]["received_at"], {r["message_id"] for r in seen}

    def cursor_view(self, name: str) -> tuple[datetime | None, str]:
        """Like :meth:`cursor`, but the ids stay in the database: the SQL of a subquery
        listing them (for an anti-join that must not pull a large set into Python)."""
        found = self._rows("SELECT received_at FROM journey_cursor WHERE name = ?", [name])
        at = found[0]["received_at"] if found else None
        return at, f"SELECT message_id FROM journey_cursor_seen WHERE name = '{_quote(name)}'"

    # ------------------------------------------------------------------ the tick

    def commit_tick(self, changes: TickChanges, now: datetime) -> None:
        """Store one tick's changes in one transaction (see :class:`TickChanges`)."""
        if not changes:
            return
        with self.transaction():
            if changes.dropped:
                self._drop_instances(changes.dropped)
            if changes.instances:
                self._put_instances(list(changes.instances.values()))
            if changes.timers:
                self._put_timers(changes.timers)
            if changes.outbox:
                self._put_outbox(list(changes.outbox.values()), now)
            for name, (at, ids) in changes.cursors.items():
                self._put_cursor(name, at, ids)
            for key, (entered, left) in changes.segments.items():
                self._put_segment(key, entered, left)

    def _drop_instances(self, instance_ids: set[str]) -> None:
        rows = [{"instance_id": i} for i in sorted(instance_ids)]
        with self._staged(rows, _INSTANCE_IDS_SCHEMA) as view:
            for table in ("journey_timers", "journey_instances"):
                self._db.execute(
                    f"DELETE FROM {table} WHERE instance_id IN (SELECT instance_id FROM {view})"
                )

    def _put_segment(self, key: str, entered: list[str], left: list[str]) -> None:
        if left:
            with self._staged([{"person_id": p} for p in left], _IDS_SCHEMA) as view:
                self._db.execute(
                    "DELETE FROM journey_segment_members WHERE segment = ? "
                    f"AND person_id IN (SELECT person_id FROM {view})",
                    [key],
                )
        if entered:
            with self._staged([{"person_id": p} for p in entered], _IDS_SCHEMA) as view:
                self._db.execute(
                    f"INSERT INTO journey_segment_members SELECT ?, person_id FROM {view}", [key]
                )

    def _put_instances(self, rows: list[dict[str, Any]]) -> None:
        with self._staged(rows, _INSTANCE_SCHEMA) as view:
            self._db.execute(
                f"INSERT OR REPLACE INTO journey_instances ({_INSTANCE_COLUMNS}) "
                f"SELECT {_INSTANCE_COLUMNS} FROM {view}"
            )

    def _put_timers(self, timers: dict[str, tuple[str, datetime] | None]) -> None:
        rows = [
            {"instance_id": i, "timer_id": t[0] if t else None, "due_at": t[1] if t else None}
            for i, t in timers.items()
        ]
        with self._staged(rows, _TIMER_SCHEMA) as view:
            self._db.execute(
                f"DELETE FROM journey_timers WHERE instance_id IN (SELECT instance_id FROM {view})"
            )
            self._db.execute(
                f"INSERT INTO journey_timers SELECT instance_id, timer_id, due_at FROM {view} "
                "WHERE timer_id IS NOT NULL"
            )

    def _put_outbox(self, rows: list[dict[str, Any]], now: datetime) -> None:
        for row in rows:
            row["created_at"] = now
        with self._staged(rows, _OUTBOX_SCHEMA) as view:
            self._db.execute(
                f"INSERT INTO journey_outbox ({_OUTBOX_NEW}, status, attempts) "
                f"SELECT {_OUTBOX_NEW}, 'pending', 0 FROM {view} "
                "ON CONFLICT (idempotency_key) DO NOTHING"
            )

    def _put_cursor(self, name: str, at: datetime, ids: list[str]) -> None:
        stored, _ = self.cursor(name)
        if stored != at:
            self._db.execute("DELETE FROM journey_cursor_seen WHERE name = ?", [name])
        self._db.execute("INSERT OR REPLACE INTO journey_cursor VALUES (?, ?)", [name, at])
        if ids:
            rows = [{"name": name, "message_id": m} for m in ids]
            with self._staged(rows, _SEEN_SCHEMA) as view:
                self._db.execute(f"INSERT INTO journey_cursor_seen SELECT * FROM {view}")

    # ------------------------------------------------------------------ the outbox

    def due_sends(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Pending outbox rows to try now: ``not_before`` and any retry backoff passed,
        journey not paused; oldest first."""
        return self._rows(
            "SELECT * FROM journey_outbox WHERE status = 'pending' AND not_before <= ? "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND journey_id NOT IN "
            "(SELECT journey_id FROM journey_versions WHERE status = 'paused') "
            "ORDER BY not_before, idempotency_key LIMIT ?",
            [now, now, limit],
        )

    def mark_sent(self, key: str, provider_message_id: str | None, now: datetime) -> None:
        """Record the provider's acknowledgement of a send."""
        self._db.execute(
            "UPDATE journey_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
            "provider_message_id = ?, last_error = NULL, next_attempt_at = NULL "
            "WHERE idempotency_key = ?",
            [now, provider_message_id, key],
        )

    def mark_sent_many(self, acks: Sequence[tuple[str, str | None]], now: datetime) -> None:
        """:meth:`mark_sent` for many ``(key, provider_message_id)`` in one statement."""
        rows = [{"idempotency_key": k, "provider_message_id": p} for k, p in acks]
        with self._staged(rows, _ACK_SCHEMA) as view:
            self._db.execute(
                "UPDATE journey_outbox SET status = 'sent', attempts = attempts + 1, "
                f"sent_at = ?, provider_message_id = {view}.provider_message_id, "
                f"last_error = NULL, next_attempt_at = NULL FROM {view} "
                f"WHERE journey_outbox.idempotency_key = {view}.idempotency_key",
                [now],
            )

    def mark_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retried at ``retry_at``, or final (status ``failed``)."""
        status = "pending" if retry_at is not None else "failed"
        self._db.execute(
            "UPDATE journey_outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = ? WHERE idempotency_key = ?",
            [status, error, retry_at, key],
        )

    def outbox(self, journey_id: str | None = None) -> list[dict[str, Any]]:
        """Outbox rows (of one journey, or all), oldest first."""
        where, params = ("WHERE journey_id = ?", [journey_id]) if journey_id else ("", [])
        return self._rows(
            f"SELECT * FROM journey_outbox {where} ORDER BY not_before, idempotency_key", params
        )

    def recent_sends(self, person_ids: Sequence[str], since: datetime) -> list[dict[str, Any]]:
        """Messages of these persons sent or queued for ``since`` or later (every journey):
        ``person_id``, ``channel``, ``at`` (``not_before``: the time the engine decided, so
        the caps count the same whether the runner ticked right then or an hour later)."""
        if not person_ids:
            return []
        with self._staged([{"person_id": p} for p in set(person_ids)], _IDS_SCHEMA) as view:
            return self._rows(
                f"SELECT o.person_id, o.channel, o.not_before AS at "
                f"FROM journey_outbox o JOIN {view} p USING (person_id) "
                "WHERE o.kind = 'message' AND o.status IN ('pending', 'sent') "
                "AND o.not_before >= ?",
                [since],
            )

    def counts(self) -> dict[str, int]:
        """Rows per journey table, and outbox rows per status (``outbox_<status>``)."""
        found = {
            name: int(self._db.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            for name in (
                "journey_versions",
                "journey_instances",
                "journey_timers",
                "journey_outbox",
            )
        }
        for status, n in self._db.execute(
            "SELECT status, count(*) FROM journey_outbox GROUP BY status"
        ).fetchall():
            found[f"outbox_{status}"] = int(n)
        return found


def _quote(text: str) -> str:
    return text.replace("'", "''")


_UTC_TS: Final = pa.timestamp("us", "UTC")
_INSTANCE_SCHEMA: Final = pa.schema(
    [
        (c, pa.string())
        for c in (
            "instance_id",
            "journey_id",
            "version",
            "person_id",
            "entry_key",
            "status",
            "grp",
            "node",
            "timezone",
        )
    ]
    + [
        ("entered_at", _UTC_TS),
        ("updated_at", _UTC_TS),
        ("converted_at", _UTC_TS),
        ("state", pa.string()),
    ]
)
_TIMER_SCHEMA: Final = pa.schema(
    [("instance_id", pa.string()), ("timer_id", pa.string()), ("due_at", _UTC_TS)]
)
_OUTBOX_SCHEMA: Final = pa.schema(
    [
        (c, pa.string())
        for c in (
            "idempotency_key",
            "instance_id",
            "kind",
            "channel",
            "person_id",
            "recipient",
            "journey_id",
            "journey_version",
            "node_id",
            "payload",
        )
    ]
    + [("not_before", _UTC_TS), ("created_at", _UTC_TS)]
)
_IDS_SCHEMA: Final = pa.schema([("person_id", pa.string())])
_INSTANCE_IDS_SCHEMA: Final = pa.schema([("instance_id", pa.string())])
_SEEN_SCHEMA: Final = pa.schema([("name", pa.string()), ("message_id", pa.string())])
_ACK_SCHEMA: Final = pa.schema(
    [("idempotency_key", pa.string()), ("provider_message_id", pa.string())]
)


def utc(moment: datetime | None) -> datetime | None:
    """DuckDB hands ``TIMESTAMPTZ`` back in the session zone (UTC here); make it explicit."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
