"""The only layer that knows where data lives: a DuckDB file or any Ibis backend."""

from journeylens.store.workspace import Progress, Workspace

__all__ = ["Progress", "Workspace"]
