"""The only layer that knows where data lives: a DuckDB file or any Ibis backend."""

from journeylens.store.catalog import EDGE_OVERRIDES_SCHEMA, TABLES, Catalog, connect_duckdb

__all__ = ["EDGE_OVERRIDES_SCHEMA", "TABLES", "Catalog", "connect_duckdb"]
