"""Step matrix: where paths are at each step, Retentioneering's ``step_matrix``.

Columns are steps k = 1..``max_steps`` of the cleaned paths (see ``path_cleaning``), rows are
nodes, and a cell is the share of paths (or of persons) whose step k is that node. An ``[end]``
row holds the paths that have already ended by step k (fewer than k steps), so with
``unit="paths"`` every column sums to 1 and the matrix reads as the flow of all paths through
time. With ``unit="persons"`` a person counts in a cell when any of their paths is there, so a
person with several sessions can sit in several rows of one column and columns can sum above 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.analysis.path_cleaning import END, PathCleaning, clean_paths
from journeylens.analysis.registry import Analysis, register

__all__ = ["StepMatrixResult", "StepMatrixSpec", "step_matrix"]


class StepMatrixSpec(PathCleaning):
    """The :class:`PathCleaning` fields plus how many steps to show and what a cell counts.

    >>> StepMatrixSpec(max_steps=3, unit="persons").unit
    'persons'
    """

    max_steps: int = Field(10, ge=1, le=50)
    unit: Literal["paths", "persons"] = "paths"


@dataclass(frozen=True)
class StepMatrixResult(Result):
    """Counts per (node, step); see :func:`step_matrix` for the fields."""

    counts: pd.DataFrame
    total: int
    unit: Literal["paths", "persons"]
    warnings: tuple[AnalysisWarning, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The matrix of shares: rows are nodes (``[end]`` last), columns steps 1..max_steps."""
        if self.total == 0:
            return self.counts.astype(float)
        return self.counts / self.total

    def to_dict(self) -> dict[str, Any]:
        """``{"unit", "total", "steps", "rows": [{"node", "counts", "shares"}], "warnings"}``."""
        shares = self.to_frame()
        return {
            "unit": self.unit,
            "total": self.total,
            "steps": [int(k) for k in self.counts.columns],
            "rows": [
                {
                    "node": str(node),
                    "counts": [int(v) for v in self.counts.loc[node]],
                    "shares": [float(v) for v in shares.loc[node]],
                }
                for node in self.counts.index
            ],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """A heatmap of the shares, one row per node, one column per step."""
        shares = self.to_frame()
        fig = go.Figure(
            go.Heatmap(
                z=shares.to_numpy(),
                x=[str(k) for k in shares.columns],
                y=[str(n) for n in shares.index],
                customdata=self.counts.to_numpy(),
                colorscale="Blues",
                zmin=0,
                zmax=1,
                hovertemplate="step %{x}: %{y}<br>%{z:.1%} (%{customdata})<extra></extra>",
            )
        )
        return fig.update_layout(
            title=f"Step matrix (share of {self.unit})",
            xaxis_title="step",
            yaxis_autorange="reversed",
        )


def step_matrix(events: ibis.Table, spec: StepMatrixSpec) -> StepMatrixResult:
    """Count, for each step k = 1..``max_steps``, the paths (or persons) at each node.

    Returns:
        A :class:`StepMatrixResult` with:

        - ``total``: the denominator of every share — the number of paths with at least one
          step (``unit="paths"``) or of their distinct persons (``unit="persons"``).
        - ``counts``: a frame indexed by node (ordered by their summed counts, most first, ties
          by name; ``[end]`` last) with one integer column per step k: paths whose step k is the
          node, or distinct persons with at least one such path. Row ``[end]``: paths with fewer
          than k steps, or persons with at least one path that short.
        - ``to_frame()``: ``counts`` ÷ ``total``; with ``unit="paths"`` each column sums to 1.

    >>> ev = ibis.memtable({"person_id": ["p", "p", "q"], "session_id": ["s", "s", "t"],
    ...     "type": ["page"] * 3, "event": ["Home", "Search", "Home"], "stage": [None] * 3,
    ...     "message_id": ["1", "2", "3"], "timestamp": [1, 2, 1]})
    >>> step_matrix(ev, StepMatrixSpec(max_steps=2)).to_frame().to_dict("index")
    {'Home': {1: 1.0, 2: 0.0}, 'Search': {1: 0.0, 2: 0.5}, '[end]': {1: 0.0, 2: 0.5}}
    """
    steps = clean_paths(events, spec, numbered=False)
    # Step number and "is the path's last step" share one window, so the paths are sorted once
    # and the path lengths need no second pass over the steps.
    order = ibis.window(group_by=steps.path_id, order_by=[steps.timestamp, steps.message_id])
    steps = steps.select(
        person_id=steps.person_id,
        node=steps.node,
        step=ibis.row_number().over(order) + 1,
        last=steps.node.lead().over(order).isnull(),
    )
    shown = steps.filter(steps.step <= spec.max_steps)
    # A path of n < max_steps steps has ended from step n + 1 on: one [end] row there.
    ends = shown.filter(shown.last & (shown.step < spec.max_steps))
    ends = ends.select("person_id", node=ibis.literal(END), step=ends.step + 1)
    rows = shown.select("person_id", "node", "step").union(ends, distinct=False)
    if spec.unit == "paths":
        # Step 1 holds every path once; the [end] rows at step k count paths of k - 1 steps.
        cells = rows.group_by(["step", "node"]).aggregate(n=rows.count())
        return _result(cells.to_pandas(), spec)
    # Distinct persons as two plain aggregations (per person, then per cell): unlike a grouped
    # COUNT DISTINCT both spill to disk, so 100M events fit a 2 GB memory limit. A person is in
    # [end] from their shortest path's end on, so their [end] rows fold into one at the
    # earliest, and one (null, null) row per person with a first step carries the total.
    firsts = shown.filter(shown.step == 1)
    totals = firsts.select("person_id", node=ibis.null("string"), step=ibis.null("int64"))
    rows = rows.union(totals, distinct=False)
    is_end = rows.node == END
    per_person = rows.group_by(
        person_id=rows.person_id,
        node=rows.node,
        step=ibis.ifelse(is_end, ibis.null("int64"), rows.step),
    ).aggregate(first_end=rows.step.min())
    cells = per_person.group_by(
        node=per_person.node, step=per_person.step.coalesce(per_person.first_end)
    ).aggregate(n=per_person.count())
    return _result(cells.to_pandas(), spec)


def _result(cells: pd.DataFrame, spec: StepMatrixSpec) -> StepMatrixResult:
    steps = list(range(1, spec.max_steps + 1))
    known = cells["node"].notna()
    total = int(cells.loc[~known, "n"].sum())
    if spec.unit == "paths":
        total = int(cells.loc[known & (cells["step"] == 1), "n"].sum())
    ended = cells["node"] == END
    ended_at = dict(zip(cells.loc[ended, "step"].astype(int), cells.loc[ended, "n"], strict=True))
    ended_by = np.cumsum([int(ended_at.get(k, 0)) for k in steps]).astype("int64")
    grid = (
        cells[known & ~ended]
        .pivot_table(index="node", columns="step", values="n", aggfunc="sum")
        .reindex(columns=steps)
        .fillna(0)
        .astype("int64")
    )
    order = sorted(grid.index, key=lambda n: (-int(grid.loc[n].sum()), str(n)))
    grid = grid.loc[order]
    grid.loc[END] = ended_by
    grid.index.name = "node"
    grid.columns.name = "step"
    warnings: tuple[AnalysisWarning, ...] = ()
    if total == 0:
        warnings = (
            AnalysisWarning("NO_PATHS", "No event of a person matched, so there are no paths."),
        )
    return StepMatrixResult(counts=grid, total=total, unit=spec.unit, warnings=warnings)


register(
    Analysis(
        name="step_matrix",
        spec=StepMatrixSpec,
        run=step_matrix,
        title="Step matrix",
        summary="Where paths are at each step: the share of paths at each event, step by step.",
        example={"max_steps": 10, "unit": "paths"},
    )
)
