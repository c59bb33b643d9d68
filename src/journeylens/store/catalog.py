"""The workspace's tables, its metadata and schema migrations.

``jl_meta`` is a key/value table: ``schema_version``, ``settings`` (JSON), and the version
counters that say whether derived tables are stale (``data_version`` bumps on every ingest that
adds rows, ``identity_version`` records the data version identities were resolved at,
``enriched_version`` the one ``events_enriched`` was built at).

Migrations are functions from version N to N+1, applied in order on open; a workspace written by a
newer journeylens is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend

from journeylens.errors import SchemaVersionError
from journeylens.schema import (
    EVENTS_SCHEMA,
    ID_MAP_SCHEMA,
    MERGE_LOG_SCHEMA,
    PERSONS_SCHEMA,
    QUARANTINE_SCHEMA,
    SCHEMA_VERSION,
)

__all__ = ["EDGE_OVERRIDES_SCHEMA", "META", "TABLES", "Catalog"]

META: Final = "jl_meta"
_META_SCHEMA: Final = ibis.schema({"key": dt.String(nullable=False), "value": dt.string})

#: Edges a user invalidated (unmerge); resolution skips them until they are restored.
EDGE_OVERRIDES_SCHEMA: Final = ibis.schema(
    {"edge_id": dt.String(nullable=False), "reason": dt.string, "created_at": dt.Timestamp("UTC")}
)

TABLES: Final[dict[str, ibis.Schema]] = {
    "events": EVENTS_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "id_map": ID_MAP_SCHEMA,
    "merge_log": MERGE_LOG_SCHEMA,
    "persons": PERSONS_SCHEMA,
    "edge_overrides": EDGE_OVERRIDES_SCHEMA,
}


def _create_v1(catalog: Catalog) -> None:
    for name, schema in TABLES.items():
        catalog.ensure_table(name, schema)


#: migrations[i] upgrades a workspace from version i to i + 1.
_MIGRATIONS: Final[list[Callable[[Catalog], None]]] = [_create_v1]
assert len(_MIGRATIONS) == SCHEMA_VERSION


class Catalog:
    """Tables and metadata of one workspace on one Ibis backend."""

    def __init__(self, con: BaseBackend) -> None:
        self.con = con

    # ------------------------------------------------------------------ tables

    def ensure_table(self, name: str, schema: ibis.Schema) -> None:
        if name not in self.con.list_tables():
            self.con.create_table(name, schema=schema)

    def table(self, name: str) -> ibis.Table:
        return self.con.table(name)

    def replace(self, name: str, obj: Any, schema: ibis.Schema) -> None:
        """Replace a derived table's contents (an Arrow table, DataFrame or Ibis expression)."""
        expr = obj if isinstance(obj, ibis.Table) else ibis.memtable(obj)
        expr = expr.select(*schema.names).cast(schema)
        self.con.create_table(name, expr, overwrite=True)

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
        meta = self.con.table(META)
        kept = meta.filter(meta.key != key)
        new = ibis.memtable({"key": [key], "value": [value]}).cast(_META_SCHEMA)
        self.con.create_table(META, kept.union(new).to_pyarrow(), overwrite=True)
