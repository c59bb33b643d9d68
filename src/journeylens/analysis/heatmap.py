"""Click heatmaps: where on a page people click, as a density grid, with scroll depth.

Clicks are ``event`` events (default "Element Clicked") whose properties hold ``x``, ``y``,
``path``, ``viewport_width`` and ``viewport_height``. As PostHog stores them, x is taken relative
to the viewport width (pages reflow horizontally, so 0.5 is "the middle" on every screen) and y
is absolute pixels from the top of the page (content does not reflow vertically). ``x_units``
says whether ``x`` arrives in pixels (divided by ``viewport_width`` here; the default) or
already as a share of the width.

The grid has ``x_bins`` equal columns over the width and rows ``y_bin_px`` pixels high. A click
on the right edge (x = 1) falls in the last column. Clicks without usable coordinates (missing
x or y, negative y, no positive viewport width when x is in pixels, x outside the viewport) are
left out and counted in an ``UNUSABLE_CLICKS`` warning.

Scroll depth comes from ``scroll_event`` events (default "Page Scrolled", the deepest point a
page view reached as ``depth_percent``), on the same page filter; viewport filters apply to
clicks only, since scroll events report depth as a share of the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Self

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field, model_validator

from journeylens.analysis.base import AnalysisWarning, Result, Spec
from journeylens.analysis.properties import with_property
from journeylens.analysis.registry import Analysis, register

__all__ = ["HeatmapResult", "HeatmapSpec", "heatmap"]

_DEPTHS = tuple(range(0, 101, 10))
_TOP_PAGES = 20


class HeatmapSpec(Spec):
    """Click heatmap settings.

    >>> HeatmapSpec(path="^/product/", path_match="regex").x_bins
    20
    """

    event: str = Field(default="Element Clicked", min_length=1)
    path: str | None = None
    path_match: Literal["exact", "regex"] = "exact"
    viewport_width_min: int | None = Field(default=None, ge=0)
    viewport_width_max: int | None = Field(default=None, ge=0)
    x_bins: int = Field(default=20, ge=1, le=200)
    y_bin_px: int = Field(default=50, ge=1, le=5000)
    x_units: Literal["pixels", "share"] = "pixels"
    count: Literal["clicks", "persons"] = "clicks"
    scroll_event: str = Field(default="Page Scrolled", min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        low, high = self.viewport_width_min, self.viewport_width_max
        if low is not None and high is not None and low > high:
            raise ValueError("viewport_width_min must not exceed viewport_width_max")
        if self.path_match == "regex":
            if self.path is None:
                raise ValueError("path_match 'regex' needs a path pattern")
            try:
                re.compile(self.path)
            except re.error as exc:
                raise ValueError(f"path is not a valid regular expression: {exc}") from exc
        return self


@dataclass(frozen=True)
class HeatmapResult(Result):
    """A click density grid, page totals and scroll depth (see :func:`heatmap`)."""

    x_bins: int
    y_bin_px: int
    count: str
    clicks: int
    persons: int
    below_fold_share: float | None
    grid: pd.DataFrame
    pages: pd.DataFrame
    scroll: pd.DataFrame
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The non-empty grid cells (see ``grid`` in :func:`heatmap`)."""
        return self.grid.copy()

    def to_dict(self) -> dict[str, Any]:
        """``x_bins``, ``y_bin_px``, ``count``, ``clicks``, ``persons``, ``below_fold_share``,
        ``grid``, ``pages``, ``scroll`` (rows), ``warnings``; NaN becomes None."""
        return {
            "x_bins": self.x_bins,
            "y_bin_px": self.y_bin_px,
            "count": self.count,
            "clicks": self.clicks,
            "persons": self.persons,
            "below_fold_share": self.below_fold_share,
            "grid": _records(self.grid),
            "pages": _records(self.pages),
            "scroll": _records(self.scroll),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """An overlay-ready heatmap: transparent background, x as a share of the viewport
        width (0–1), y in page pixels from the top, empty cells transparent."""
        rows = int(self.grid.y_bin.max()) + 1 if len(self.grid) else 1
        z = np.full((rows, self.x_bins), np.nan)
        for cell in self.grid.itertuples():
            z[cell.y_bin, cell.x_bin] = getattr(cell, self.count)
        fig = go.Figure(
            go.Heatmap(
                z=[[None if np.isnan(v) else float(v) for v in row] for row in z],
                x=[(i + 0.5) / self.x_bins for i in range(self.x_bins)],
                y=[(j + 0.5) * self.y_bin_px for j in range(rows)],
                colorscale=[[0, "rgba(255, 230, 0, 0.35)"], [1, "rgba(220, 0, 0, 0.9)"]],
                colorbar={"title": self.count},
                hoverongaps=False,
            )
        )
        transparent = "rgba(0, 0, 0, 0)"
        fig.update_layout(
            title=f"Click heatmap ({self.clicks} clicks, {self.persons} persons)",
            paper_bgcolor=transparent,
            plot_bgcolor=transparent,
            margin={"l": 0, "r": 0, "t": 40, "b": 0},
        )
        fig.update_xaxes(range=[0, 1], showgrid=False, zeroline=False, title="x (share of width)")
        fig.update_yaxes(autorange="reversed", showgrid=False, zeroline=False, title="y (px)")
        return fig


def heatmap(events: ibis.Table, spec: HeatmapSpec) -> HeatmapResult:
    """Clicks on a grid over the page, per page and viewport filter, and how far pages scroll.

    Returns:
        HeatmapResult with ``clicks`` (usable clicks after the filters) and ``persons``
        (distinct persons among them); ``below_fold_share`` (clicks with y beyond the viewport
        height / clicks that report a viewport height; None without any); ``grid`` (one row per
        non-empty cell): ``x_bin``, ``y_bin`` (0-based column and row), ``x_start``, ``x_end``
        (share of width), ``y_start``, ``y_end`` (px), ``clicks``, ``persons`` (distinct),
        ``click_share`` (``clicks`` / all usable clicks); ``pages``: the ``_TOP_PAGES`` paths
        with the most clicks of ``event`` (ignoring the page filter, with the viewport filter):
        ``path``, ``clicks``, ``persons``; ``scroll``: ``depth_percent`` (0, 10, …, 100),
        ``views`` (scroll events reaching at least that depth), ``share`` (``views`` / all
        scroll events on the filtered pages). Warnings ``NO_CLICKS``, ``UNUSABLE_CLICKS``.

    >>> import ibis, json
    >>> props = [json.dumps({"x": 720, "y": 430, "path": "/", "viewport_width": 1440,
    ...     "viewport_height": 900})]
    >>> ev = ibis.memtable({"person_id": ["a"], "event": ["Element Clicked"], "properties": props})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"))
    >>> heatmap(ev, HeatmapSpec(x_bins=4, y_bin_px=100)).grid[["x_bin", "y_bin"]].values.tolist()
    [[2, 4]]
    """
    events = events.filter(events.person_id.notnull())
    clicks = _props(events.filter(events.event == spec.event), _CLICK_PROPS)
    clicks = _in_viewport(clicks, spec)
    pages = _pages(clicks)
    clicks = _on_page(clicks, spec)
    x = clicks._jl_x / clicks._jl_vw if spec.x_units == "pixels" else clicks._jl_x
    usable = x.notnull() & (x >= 0) & (x <= 1) & clicks._jl_y.notnull() & (clicks._jl_y >= 0)
    clicks = clicks.mutate(_jl_share=x, _jl_usable=usable.fill_null(False))
    summary = _summary(clicks)
    rows, usable_rows = summary["rows"], summary["usable"]
    grid = _grid(clicks.filter(clicks._jl_usable), spec)
    warnings = []
    if usable_rows == 0:
        warnings.append(AnalysisWarning("NO_CLICKS", "No usable clicks match the filters."))
    if rows > usable_rows:
        warnings.append(
            AnalysisWarning(
                "UNUSABLE_CLICKS",
                f"{rows - usable_rows} of {rows} matching clicks lack usable coordinates and "
                "were left out.",
            )
        )
    return HeatmapResult(
        x_bins=spec.x_bins,
        y_bin_px=spec.y_bin_px,
        count=spec.count,
        clicks=usable_rows,
        persons=summary["persons"],
        below_fold_share=summary["below_fold_share"],
        grid=grid,
        pages=pages,
        scroll=_scroll(events, spec),
        warnings=tuple(warnings),
    )


_CLICK_PROPS = {
    "_jl_x": "x",
    "_jl_y": "y",
    "_jl_path": "path",
    "_jl_vw": "viewport_width",
    "_jl_vh": "viewport_height",
}


def _props(table: ibis.Table, props: dict[str, str]) -> ibis.Table:
    for column, prop in props.items():
        table = with_property(table, column, prop)
    numbers = {c: table[c].try_cast("float64") for c in props if c != "_jl_path"}
    return table.mutate(**numbers)


def _in_viewport(clicks: ibis.Table, spec: HeatmapSpec) -> ibis.Table:
    if spec.viewport_width_min is not None:
        clicks = clicks.filter(clicks._jl_vw >= spec.viewport_width_min)
    if spec.viewport_width_max is not None:
        clicks = clicks.filter(clicks._jl_vw <= spec.viewport_width_max)
    return clicks


def _on_page(table: ibis.Table, spec: HeatmapSpec) -> ibis.Table:
    if spec.path is None:
        return table
    if spec.path_match == "exact":
        return table.filter(table._jl_path == spec.path)
    return table.filter(table._jl_path.re_search(spec.path).fill_null(False))


def _grid(good: ibis.Table, spec: HeatmapSpec) -> pd.DataFrame:
    # x = 1 (the right edge) belongs to the last column, not to a column past it.
    column = (good._jl_share * spec.x_bins).floor().clip(upper=spec.x_bins - 1).cast("int64")
    row = (good._jl_y / spec.y_bin_px).floor().cast("int64")
    cells = good.mutate(x_bin=column, y_bin=row)
    per_person = _per_person(cells, ["x_bin", "y_bin"])
    grid = (
        per_person.group_by(["x_bin", "y_bin"])
        .aggregate(clicks=per_person.n.sum(), persons=per_person.person_id.count())
        .execute()
        .sort_values(["y_bin", "x_bin"])
        .reset_index(drop=True)
    )
    grid = grid.astype({"x_bin": "int64", "y_bin": "int64", "clicks": "int64", "persons": "int64"})
    grid.insert(2, "x_start", grid.x_bin / spec.x_bins)
    grid.insert(3, "x_end", (grid.x_bin + 1) / spec.x_bins)
    grid.insert(4, "y_start", grid.y_bin * spec.y_bin_px)
    grid.insert(5, "y_end", (grid.y_bin + 1) * spec.y_bin_px)
    total = grid.clicks.sum()
    grid["click_share"] = grid.clicks / total if total else pd.Series(dtype="float64")
    return grid


def _per_person(clicks: ibis.Table, keys: list[str]) -> ibis.Table:
    # Distinct persons as two plain aggregations (per person here, then per group by the
    # caller): unlike a grouped COUNT DISTINCT both spill to disk, so a 2 GB memory limit holds.
    return clicks.group_by([*keys, "person_id"]).aggregate(n=clicks.count())


def _summary(clicks: ibis.Table) -> dict[str, Any]:
    """Matching clicks, usable ones, their persons and the share below the fold, in one pass."""
    usable = clicks._jl_usable
    with_height = usable & clicks._jl_vh.notnull()
    # Per person first, then over persons: a distinct count as two plain aggregations.
    per_person = clicks.group_by("person_id").aggregate(
        rows=clicks.count(),
        usable=usable.cast("int64").sum(),
        below=(with_height & (clicks._jl_y > clicks._jl_vh)).cast("int64").sum(),
        with_height=with_height.cast("int64").sum(),
    )
    whole = per_person.aggregate(
        rows=per_person.rows.sum(),
        usable=per_person.usable.sum(),
        persons=per_person.person_id.count(where=per_person.usable > 0),
        below=per_person.below.sum(),
        with_height=per_person.with_height.sum(),
    ).execute()
    values = {k: int(v) for k, v in whole.fillna(0).iloc[0].items()}
    high = values.pop("with_height")
    below = values.pop("below")
    return values | {"below_fold_share": below / high if high else None}


def _pages(clicks: ibis.Table) -> pd.DataFrame:
    per_person = _per_person(clicks.mutate(path=clicks._jl_path), ["path"])
    per = per_person.group_by("path").aggregate(
        clicks=per_person.n.sum(), persons=per_person.person_id.count()
    )
    top = per.order_by([ibis.desc(per.clicks), per.path]).limit(_TOP_PAGES).execute()
    return top.astype({"clicks": "int64", "persons": "int64"}).reset_index(drop=True)


def _scroll(events: ibis.Table, spec: HeatmapSpec) -> pd.DataFrame:
    scrolls = events.filter(events.event == spec.scroll_event)
    scrolls = _on_page(_props(scrolls, {"_jl_path": "path", "_jl_depth": "depth_percent"}), spec)
    scrolls = scrolls.filter(scrolls._jl_depth.notnull())
    step = (scrolls._jl_depth.clip(lower=0, upper=100) / 10).floor().cast("int64") * 10
    counts = scrolls.group_by(depth=step).aggregate(views=scrolls.count()).execute()
    per_depth = dict(zip(counts.depth.astype(int), counts.views.astype(int), strict=True))
    total = sum(per_depth.values())
    reaching = [sum(n for d, n in per_depth.items() if d >= depth) for depth in _DEPTHS]
    return pd.DataFrame(
        {
            "depth_percent": list(_DEPTHS),
            "views": reaching,
            "share": [n / total if total else float("nan") for n in reaching],
        }
    ).astype({"views": "int64"})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in rows]


register(
    Analysis(
        name="heatmap",
        spec=HeatmapSpec,
        run=heatmap,
        title="Click heatmap",
        summary="Where on a page people click, and how far down they scroll.",
        example={"path": "/", "viewport_width_min": 1024, "x_bins": 20, "y_bin_px": 50},
    )
)
