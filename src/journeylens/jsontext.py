"""Reading values out of JSON columns the same way, and cheaply, on every engine.

DuckDB renders a JSON string as its JSON text (``"google"``, quotes and escapes kept) while
Spark's ``get_json_object`` gives the bare value (``google``), and Ibis's own ``.str`` unwrap is
a Python UDF on Spark that fails on bare strings. So a value is read as text the way either
engine renders it, and a quoted JSON string is unquoted here: both engines then agree.

Unquoting refers to the text several times. Written over a JSON path expression, every
reference would read the JSON again, so ``with_json_text`` first reads each path once into a
column and unquotes the columns in a second step.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["with_json_text"]


def with_json_text(table: ibis.Table, **values: ir.Value) -> ibis.Table:
    """``table`` plus one text column per JSON value, each JSON path read once.

    Args:
        table: the table the values come from.
        values: column name → a JSON value of ``table`` (e.g. ``ctx["campaign"]["source"]``).

    Returns:
        ``table`` with a string column per keyword: the value as sent (not trimmed); numbers and
        booleans as their JSON text (``1``, ``true``); objects and arrays as JSON text; null when
        absent, JSON null, the text ``null`` or empty.

    >>> t = ibis.memtable({"doc": ['{"a": "x\\\\"y", "n": 2}', '{"a": null}']})
    >>> doc = t.doc.cast("json")
    >>> with_json_text(t, a=doc["a"], n=doc["n"]).select("a", "n").to_pyarrow().to_pylist()
    [{'a': 'x"y', 'n': '2'}, {'a': None, 'n': None}]
    """
    raw = {name: f"_jl_json_{name}" for name in values}
    staged = table.mutate(**{raw[name]: value.cast("string") for name, value in values.items()})
    return staged.mutate(**{name: _unquoted(staged[raw[name]]) for name in values}).drop(
        *raw.values()
    )


def _unquoted(text: ir.StringValue) -> ir.StringValue:
    """Unescaping only runs on values with a backslash: string functions cost as much as the
    JSON read itself."""
    inner = text.substr(1, text.length() - 2)
    unescaped = ibis.ifelse(
        inner.contains("\\"),
        inner.replace('\\"', '"').replace("\\/", "/").replace("\\\\", "\\"),
        inner,
    )
    return ibis.ifelse(text.startswith('"'), unescaped, text).nullif("null").nullif("")
