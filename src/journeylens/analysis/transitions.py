"""Transitions: how often each step of a path is followed directly by each other step.

A transition is a pair of consecutive steps of one cleaned path (see ``path_cleaning``): with
repeats collapsed (the default) ``Home Home Search`` gives one transition, Home → Search. With
``markers`` (default) every path also contributes ``[start]`` → its first step and its last step
→ ``[end]``, so the matrix shows where paths begin and where they stop.

Counted two ways: by transitions (every consecutive pair, so one person can add many) and by
unique persons (a person counts once per pair however often they made it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.analysis.path_cleaning import END, START, PathCleaning, clean_paths, json_records
from journeylens.analysis.registry import Analysis, register

__all__ = ["TransitionsResult", "TransitionsSpec", "transitions"]

_COLUMNS = ["source", "target", "transitions", "persons", "share"]


class TransitionsSpec(PathCleaning):
    """Which paths to count transitions in (every :class:`PathCleaning` field) and whether to
    add the ``[start]`` / ``[end]`` markers.

    >>> TransitionsSpec(scope="person", markers=False).markers
    False
    """

    markers: bool = True


@dataclass(frozen=True)
class TransitionsResult(Result):
    """Transition counts between nodes; see :func:`transitions` for the fields."""

    frame: pd.DataFrame
    paths: int
    persons: int
    warnings: tuple[AnalysisWarning, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """One row per (source, target) pair, most transitions first."""
        return self.frame.copy()

    def matrix(
        self, value: Literal["transitions", "persons", "share"] = "transitions"
    ) -> pd.DataFrame:
        """The pairs as a matrix: rows are sources, columns targets, cells ``value`` (0 where
        a pair never happens). Rows and columns are in alphabetical order with the markers at
        the edges (``[start]`` first row, ``[end]`` last column)."""
        if self.frame.empty:
            return pd.DataFrame(dtype=float)
        grid = self.frame.pivot(index="source", columns="target", values=value).fillna(0)
        rows = sorted(grid.index, key=lambda n: (n != START, n == END, n))
        cols = sorted(grid.columns, key=lambda n: (n != START, n == END, n))
        return grid.loc[rows, cols]

    def to_dict(self) -> dict[str, Any]:
        """``{"paths", "persons", "transitions": [rows of to_frame], "warnings"}``."""
        return {
            "paths": self.paths,
            "persons": self.persons,
            "transitions": json_records(self.frame),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """A heatmap of ``share`` (the chance that ``source`` is followed by ``target``)."""
        grid = self.matrix("share")
        counts = self.matrix("transitions")
        fig = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=list(grid.columns),
                y=list(grid.index),
                customdata=counts.to_numpy(),
                colorscale="Blues",
                hovertemplate="%{y} → %{x}<br>share %{z:.1%}<br>%{customdata} transitions"
                "<extra></extra>",
            )
        )
        fig.update_layout(
            title="Transitions (share of the source's next steps)",
            xaxis_title="next step",
            yaxis_title="step",
            yaxis_autorange="reversed",
        )
        return fig


def transitions(events: ibis.Table, spec: TransitionsSpec) -> TransitionsResult:
    """Count the transitions between consecutive steps of every cleaned path.

    Returns:
        A :class:`TransitionsResult` with ``paths`` (number of paths with at least one step),
        ``persons`` (their distinct persons) and ``to_frame()`` rows, most transitions first
        (ties by source then target):

        - ``source``, ``target``: the node and the node right after it in the same path;
          ``[start]`` as source / ``[end]`` as target for where paths begin and end (markers).
        - ``transitions``: how many times ``source`` was directly followed by ``target``.
        - ``persons``: how many distinct persons made that transition at least once.
        - ``share``: ``transitions`` ÷ all transitions out of ``source`` (the chance the next
          step after ``source`` is ``target``; with markers the shares of a source sum to 1).

        Without markers the transitions sum to the number of consecutive pairs, Σ (steps − 1)
        over paths; with markers to Σ (steps + 1).

    >>> ev = ibis.memtable({"person_id": ["p"] * 3, "session_id": ["s"] * 3,
    ...     "type": ["track"] * 3, "event": ["A", "B", "A"], "stage": [None] * 3,
    ...     "message_id": ["1", "2", "3"], "timestamp": [1, 2, 3]})
    >>> transitions(ev, TransitionsSpec(markers=False)).to_frame()[["source", "target"]].values
    array([['A', 'B'],
           ['B', 'A']], dtype=object)
    """
    steps = clean_paths(events, spec, numbered=False)
    # The next step and "is first" share one window, so the engine sorts each path once here.
    order = ibis.window(group_by=steps.path_id, order_by=[steps.timestamp, steps.message_id])
    steps = steps.select(
        source=steps.node,
        target=steps.node.lead().over(order),
        first=ibis.row_number().over(order) == 0,
        person_id=steps.person_id,
    )
    pairs = steps.select("source", "target", "person_id")
    if spec.markers:
        pairs = pairs.mutate(target=pairs.target.fill_null(END))
    else:
        pairs = pairs.filter(pairs.target.notnull())
    firsts = steps.filter(steps.first)
    # One (null, null) row per path carries the totals through the same aggregation, so the
    # cleaned steps are computed and sorted once.
    totals = firsts.select(
        source=ibis.null("string"), target=ibis.null("string"), person_id=firsts.person_id
    )
    pairs = pairs.union(totals, distinct=False)
    if spec.markers:
        starts = firsts.select(
            source=ibis.literal(START), target=firsts.source, person_id=firsts.person_id
        )
        pairs = pairs.union(starts, distinct=False)
    # Distinct persons per edge as two plain aggregations (per person, then per edge): unlike a
    # grouped COUNT DISTINCT, both spill to disk, so 100M events fit a 2 GB memory limit.
    per_person = pairs.group_by(["source", "target", "person_id"]).aggregate(n=pairs.count())
    counted = per_person.group_by(["source", "target"]).aggregate(
        transitions=per_person.n.sum(), persons=per_person.person_id.count()
    )
    frame = counted.to_pandas()
    total = frame["source"].isna()
    paths = int(frame.loc[total, "transitions"].sum())
    persons = int(frame.loc[total, "persons"].sum())
    return _result(frame[~total], paths, persons)


def _result(frame: pd.DataFrame, paths: int, persons: int) -> TransitionsResult:
    frame = frame.astype({"source": object, "target": object})
    frame["transitions"] = frame["transitions"].astype("int64")
    frame["persons"] = frame["persons"].astype("int64")
    out_of_source = frame.groupby("source")["transitions"].transform("sum")
    frame["share"] = (frame["transitions"] / out_of_source).astype(float)
    frame = frame.sort_values(
        ["transitions", "source", "target"], ascending=[False, True, True], ignore_index=True
    )[_COLUMNS]
    warnings: tuple[AnalysisWarning, ...] = ()
    if paths == 0:
        warnings = (
            AnalysisWarning("NO_PATHS", "No event of a person matched, so there are no paths."),
        )
    elif frame.empty:
        warnings = (
            AnalysisWarning(
                "NO_TRANSITIONS", "Every path has a single step, so no step follows another."
            ),
        )
    return TransitionsResult(frame=frame, paths=paths, persons=persons, warnings=warnings)


register(
    Analysis(
        name="transitions",
        spec=TransitionsSpec,
        run=transitions,
        title="Transitions",
        summary="Which step follows which, counted by transitions and by unique persons.",
        example={"scope": "session", "markers": True},
    )
)
