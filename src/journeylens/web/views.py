"""What a dashboard page shows: charts, the tables behind them and KPI tiles, as plain values.

A page is computed once into a :class:`View` (cached), then rendered as HTML or sent as CSV.
Every chart is an analysis Result's own ``figure()``, carried as Plotly JSON made safe to sit
inside a ``<script type="application/json">`` block; every table is a DataFrame that is shown
(escaped by Jinja2) and downloadable whole as CSV.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

__all__ = ["Chart", "Kpi", "Table", "View", "cell_text", "csv_text", "reasons_text", "script_json"]

#: Rows of a table shown on the page; the CSV download has them all.
SHOWN_ROWS = 200


@dataclass(frozen=True)
class Chart:
    """One chart: ``title`` and the figure's Plotly JSON (``script_json`` escaped)."""

    title: str
    json: str

    @classmethod
    def of(cls, title: str, figure: go.Figure) -> Chart:
        """The chart of a Plotly figure."""
        return cls(title, script_json(figure.to_json()))


@dataclass(frozen=True)
class Table:
    """One table: ``name`` (its CSV's name), ``title`` and the ``frame`` itself."""

    name: str
    title: str
    frame: pd.DataFrame

    @property
    def shown(self) -> pd.DataFrame:
        """The first ``SHOWN_ROWS`` rows, as shown on the page."""
        return self.frame.head(SHOWN_ROWS)


@dataclass(frozen=True)
class Kpi:
    """A KPI tile: ``value`` over the range and ``change`` = (value − previous) ÷ previous,
    None when the previous period had none."""

    label: str
    value: float
    previous: float

    @property
    def change(self) -> float | None:
        return (self.value - self.previous) / self.previous if self.previous else None


@dataclass(frozen=True)
class View:
    """A computed page: KPI tiles, charts, tables, the analyses' warnings and notes, and the
    values offered to its ``choice`` fields (``{param name: values}``)."""

    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    kpis: tuple[Kpi, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        """The table called ``name``, or None."""
        return next((t for t in self.tables if t.name == name), None)


def script_json(text: str) -> str:
    """JSON text that cannot end a ``<script>`` block or open a comment in it: ``<``, ``>``
    and ``&`` (found only inside JSON strings) become ``\\u`` escapes, which mean the same.

    >>> script_json('{"name": "</script><b>"}')
    '{"name": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def cell_text(value: Any) -> str:
    """How one table cell reads on the page: blanks for missing values, short floats, ISO
    dates, JSON for nested values.

    >>> cell_text(0.123456), cell_text(float("nan")), cell_text(1234567)
    ('0.1235', '', '1,234,567')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(_plain(value), default=str)
    return str(value)


def reasons_text(reasons: Any) -> str:
    """A prediction's reasons (a list of strings or of objects such as ``{feature, value,
    contribution}``, or that list as stored JSON text) as one line.

    >>> reasons_text('[{"feature": "recency_days", "value": 40, "contribution": 0.21}, "new"]')
    'recency_days = 40 (contribution 0.21); new'
    """
    if not reasons:
        return ""
    parsed = json.loads(reasons) if isinstance(reasons, str) else reasons
    return "; ".join(_reason(item) for item in (parsed if isinstance(parsed, list) else [parsed]))


def _reason(item: Any) -> str:
    if not isinstance(item, dict):
        return cell_text(item)
    if "feature" not in item:
        return ", ".join(f"{k}: {cell_text(v)}" for k, v in item.items())
    rest = {k: v for k, v in item.items() if k not in ("feature", "value")}
    extra = ", ".join(f"{k} {cell_text(v)}" for k, v in rest.items())
    return f"{item['feature']} = {cell_text(item.get('value'))}" + (f" ({extra})" if extra else "")


def csv_text(frame: pd.DataFrame) -> str:
    """The whole table as CSV. Text cells that a spreadsheet would run as a formula (starting
    with ``=``, ``+``, ``-``, ``@``) get a leading ``'``: event names and properties are
    user-supplied.

    >>> csv_text(pd.DataFrame({"event": ["=1+1", "view"], "n": [-1, 2]})).splitlines()
    ['event,n', "'=1+1,-1", 'view,2']
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_safe_cell)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    return buffer.getvalue()


def _safe_cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        value = json.dumps(_plain(value), default=str)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
