"""Reading a value out of a JSON column the same way on every engine.

DuckDB stores JSON as its own type, Spark as text; Ibis's ``.str`` unwrap is a Python UDF on
Spark that fails on bare strings. ``json_text`` is the one portable way the layers read JSON.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["json_text"]


def json_text(value: ir.JSONValue) -> ir.StringValue:
    """A JSON scalar at a path as plain text; null when absent, JSON null, ``"null"`` or empty.

    DuckDB renders a JSON string as its JSON text (``"google"``, quotes and escapes kept) while
    Spark's ``get_json_object`` gives the bare value (``google``), and Ibis's own unwrap is a
    Python UDF on Spark. So the text is taken as either engine renders it and a quoted JSON
    string is unquoted here, which makes both engines return the same value. Unescaping only
    runs on values with a backslash: string functions cost as much as the JSON read itself.

    Returns:
        The text as sent (not trimmed); numbers and booleans as their JSON text (``1``, ``true``).
    """
    text = value.cast("string")
    inner = text.substr(1, text.length() - 2)
    unescaped = ibis.ifelse(
        inner.contains("\\"),
        inner.replace('\\"', '"').replace("\\/", "/").replace("\\\\", "\\"),
        inner,
    )
    return ibis.ifelse(text.startswith('"'), unescaped, text).nullif("null").nullif("")
