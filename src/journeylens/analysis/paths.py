"""Paths: the most travelled routes through the product, from or to an anchor step.

Each cleaned path (see ``path_cleaning``) is cut to at most ``max_steps`` steps:

- with a ``start_point``: from the path's first step equal to it, forwards;
- with an ``end_point``: up to the path's first step equal to it, keeping the last
  ``max_steps`` steps;
- with both: from the first start point to the first end point after it, keeping the first
  ``max_steps`` steps (a longer stretch is drawn without its end);
- with neither: from the path's first step, keeping the first ``max_steps`` steps.

Anchors are compared with the node after cleaning (an alias, when a rule renamed it). Paths that
never reach an anchor are left out. Steps are numbered 1..``max_steps`` from the left; an
``end_point``-only path is right-aligned, so its end point is always step ``max_steps`` and the
Sankey's last column holds it. As in PostHog, a Sankey node is a (step, node) pair (id
``"<step>_<node>"``), so a page seen at step 2 and at step 4 is two nodes, and an edge joins step
k to step k + 1. Only the heaviest ``max_edges`` edges with at least ``min_edge_weight`` paths
are kept (ties broken by step, then source, then target), so node totals drawn from the kept
edges can be below the true number of paths through a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

import ibis
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field, model_validator

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.analysis.path_cleaning import PathCleaning, clean_paths, json_records
from journeylens.analysis.registry import Analysis, register

__all__ = ["PathsResult", "PathsSpec", "paths"]

_EDGE_COLUMNS = ["source_step", "source", "target_step", "target", "paths", "persons", "share"]
_SEP = "\x1f"  # joins a path's nodes into one sort key; never part of a readable name


class PathsSpec(PathCleaning):
    """Which paths to draw: the :class:`PathCleaning` fields plus the anchors and limits.

    >>> PathsSpec(start_point="Home", max_steps=4).max_edges
    50
    """

    start_point: str | None = None
    end_point: str | None = None
    max_steps: int = Field(5, ge=2, le=20)
    min_edge_weight: int = Field(1, ge=1)
    max_edges: int = Field(50, ge=1, le=1000)
    max_paths: int = Field(10, ge=1, le=100)

    @model_validator(mode="after")
    def _anchors_differ(self) -> Self:
        if self.start_point is not None and self.start_point == self.end_point:
            raise ValueError("start_point and end_point must differ")
        return self


@dataclass(frozen=True)
class PathsResult(Result):
    """The kept edges and the top paths; see :func:`paths` for the fields."""

    edges: pd.DataFrame
    top_paths: pd.DataFrame
    total_paths: int
    total_persons: int
    edges_total: int
    warnings: tuple[AnalysisWarning, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The kept edges, heaviest first."""
        return self.edges.copy()

    def nodes(self) -> pd.DataFrame:
        """The Sankey nodes of the kept edges: ``id`` (``"<step>_<node>"``), ``step``, ``node``
        and ``paths`` (the larger of the paths flowing in and out through kept edges), ordered
        by step then node."""
        ends = [
            self.edges.rename(columns={"source_step": "step", "source": "node"})[
                ["step", "node", "paths"]
            ].assign(side="out"),
            self.edges.rename(columns={"target_step": "step", "target": "node"})[
                ["step", "node", "paths"]
            ].assign(side="in"),
        ]
        both = pd.concat(ends, ignore_index=True)
        if both.empty:
            return pd.DataFrame({"id": [], "step": [], "node": [], "paths": []})
        flow = both.groupby(["step", "node", "side"])["paths"].sum().unstack(fill_value=0)
        nodes = flow.max(axis=1).rename("paths").reset_index()
        nodes.insert(0, "id", nodes["step"].astype(str) + "_" + nodes["node"])
        return nodes.sort_values(["step", "node"], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """``{"total_paths", "total_persons", "edges_total", "edges", "nodes", "top_paths",
        "warnings"}``, rows as in :func:`paths`."""
        return {
            "total_paths": self.total_paths,
            "total_persons": self.total_persons,
            "edges_total": self.edges_total,
            "edges": json_records(self.edges),
            "nodes": json_records(self.nodes()),
            "top_paths": json_records(self.top_paths),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """A Sankey of the kept edges, one column per step; link width = paths."""
        nodes = self.nodes()
        # Pin each node to its step's column (plotly would otherwise place a right-aligned
        # end-point path by its length), stacked by paths within the column.
        last = max(int(nodes["step"].max()), 2) if len(nodes) else 2
        rank = nodes.groupby("step")["paths"].rank(method="first", ascending=False)
        size = nodes.groupby("step")["paths"].transform("size")
        x = 0.01 + 0.98 * (nodes["step"] - 1) / (last - 1)
        y = 0.01 + 0.98 * (rank - 0.5) / size
        index = {key: i for i, key in enumerate(nodes["id"])}
        source = (self.edges["source_step"].astype(str) + "_" + self.edges["source"]).map(index)
        target = (self.edges["target_step"].astype(str) + "_" + self.edges["target"]).map(index)
        fig = go.Figure(
            go.Sankey(
                arrangement="snap",
                node={
                    "label": list(nodes["node"]),
                    "x": list(x),
                    "y": list(y),
                    "customdata": list(nodes["step"]),
                    "hovertemplate": "step %{customdata}: %{label}<extra></extra>",
                },
                link={
                    "source": list(source),
                    "target": list(target),
                    "value": list(self.edges["paths"]),
                },
            )
        )
        return fig.update_layout(title=f"Top paths ({len(self.edges)} of {self.edges_total} edges)")


def paths(events: ibis.Table, spec: PathsSpec) -> PathsResult:
    """The heaviest step-to-step edges and the most common paths, from or to an anchor.

    Returns:
        A :class:`PathsResult` with:

        - ``total_paths``: paths that reach the anchor(s) (all paths with a step when there is
          none) — the denominator of every ``share``; ``total_persons``: their distinct persons.
        - ``edges_total``: edges with at least ``min_edge_weight`` paths before ``max_edges``.
        - ``to_frame()`` / ``edges``: the kept edges, heaviest first: ``source_step`` (k),
          ``source``, ``target_step`` (k + 1), ``target``, ``paths`` (paths whose step k is
          ``source`` and step k + 1 is ``target``), ``persons`` (their distinct persons),
          ``share`` (``paths`` ÷ ``total_paths``).
        - ``top_paths``: the ``max_paths`` most common cut paths: ``path`` (the list of nodes),
          ``paths`` (paths cut to exactly that sequence), ``persons``, ``share`` (÷
          ``total_paths``); ties by the nodes' text, first node first.

    >>> ev = ibis.memtable({"person_id": ["p", "p", "q", "q"], "session_id": ["s", "s", "t", "t"],
    ...     "type": ["page"] * 4, "event": ["Home", "Search", "Home", "Help"],
    ...     "stage": [None] * 4, "message_id": ["1", "2", "3", "4"], "timestamp": [1, 2, 1, 2]})
    >>> paths(ev, PathsSpec(start_point="Home")).to_frame()[["source", "target", "share"]].values
    array([['Home', 'Help', 0.5],
           ['Home', 'Search', 0.5]], dtype=object)
    """
    steps = clean_paths(events, spec)
    whole = ibis.window(group_by=steps.path_id)
    t = steps
    if spec.start_point is not None:
        t = t.mutate(_jl_s0=_first_step(t, spec.start_point).over(whole))
        t = t.filter(t.step >= t._jl_s0)
    if spec.end_point is not None:
        whole = ibis.window(group_by=t.path_id)
        t = t.mutate(_jl_e0=_first_step(t, spec.end_point).over(whole))
        t = t.filter(t.step <= t._jl_e0)
    if spec.start_point is not None:
        pos = t.step - t._jl_s0 + 1
    elif spec.end_point is not None:
        pos = spec.max_steps - (t._jl_e0 - t.step)
    else:
        pos = t.step
    t = t.select("path_id", "person_id", "node", pos=pos)
    t = t.filter((t.pos >= 1) & (t.pos <= spec.max_steps))

    order = ibis.window(group_by=t.path_id, order_by=t.pos)
    links = t.mutate(target=t.node.lead().over(order))
    links = links.filter(links.target.notnull())
    # Distinct persons as two plain aggregations (per person, then per edge or sequence): unlike
    # a grouped COUNT DISTINCT both spill to disk, so 100M events fit a 2 GB memory limit.
    per_person = links.group_by(
        source_step=links.pos, source=links.node, target=links.target, person_id=links.person_id
    ).aggregate(n=links.count())
    edges = per_person.group_by(["source_step", "source", "target"]).aggregate(
        paths=per_person.n.sum(), persons=per_person.person_id.count()
    )
    edges = edges.filter(edges.paths >= spec.min_edge_weight)
    edges = edges.mutate(_jl_total=edges.count().over(ibis.window()))
    edges = edges.order_by([ibis.desc("paths"), "source_step", "source", "target"]).limit(
        spec.max_edges
    )

    positions = range(1, spec.max_steps + 1)
    per_path = t.group_by("path_id").aggregate(
        person_id=t.person_id.max(), **{f"s{k}": t.node.max(where=t.pos == k) for k in positions}
    )
    key = ibis.literal("")
    for k in positions:
        node = per_path[f"s{k}"]
        key = key + ibis.ifelse(node.isnull(), "", node + _SEP)
    # Flag one path per person so distinct persons add up across the sequences below, and
    # the totals ride along the top-paths query instead of costing a query of their own.
    first_of_person = ibis.row_number().over(group_by=per_path.person_id, order_by=per_path.path_id)
    per_path = per_path.mutate(_jl_key=key, _jl_new=(first_of_person == 0).cast("int64"))
    sequence = ["_jl_key", *(f"s{k}" for k in positions)]
    per_person = per_path.group_by([*sequence, "person_id"]).aggregate(
        n=per_path.count(), _jl_new=per_path._jl_new.sum()
    )
    top = per_person.group_by(sequence).aggregate(
        paths=per_person.n.sum(),
        persons=per_person.person_id.count(),
        _jl_new=per_person._jl_new.sum(),
    )
    everything = ibis.window()
    top = top.mutate(
        total_paths=top.paths.sum().over(everything),
        total_persons=top._jl_new.sum().over(everything),
    )
    top = top.order_by([ibis.desc("paths"), "_jl_key"]).limit(spec.max_paths)
    return _result(edges.to_pandas(), top.to_pandas(), spec)


def _first_step(t: ibis.Table, anchor: str) -> ibis.Value:
    return ibis.ifelse(t.node == anchor, t.step, ibis.null("int64")).min()


def _result(edges: pd.DataFrame, top: pd.DataFrame, spec: PathsSpec) -> PathsResult:
    total_paths = int(top["total_paths"].iloc[0]) if len(top) else 0
    total_persons = int(top["total_persons"].iloc[0]) if len(top) else 0
    edges_total = int(edges["_jl_total"].iloc[0]) if len(edges) else 0
    edges = edges.astype({"source": object, "target": object, "source_step": "int64"})
    edges = edges.assign(target_step=edges["source_step"] + 1)
    edges["share"] = (edges["paths"] / total_paths).astype(float) if total_paths else 0.0
    edges = edges.astype({"paths": "int64", "persons": "int64"})[_EDGE_COLUMNS]
    cols = [f"s{k}" for k in range(1, spec.max_steps + 1)]
    sequences = [[n for n in row if isinstance(n, str)] for row in top[cols].itertuples(False)]
    top_paths = pd.DataFrame(
        {
            "path": pd.Series(sequences, dtype=object),
            "paths": top["paths"].astype("int64"),
            "persons": top["persons"].astype("int64"),
            "share": (top["paths"] / total_paths).astype(float) if total_paths else [],
        }
    )
    warnings: list[AnalysisWarning] = []
    anchors = [a for a in (spec.start_point, spec.end_point) if a is not None]
    if total_paths == 0:
        reach = f" reaching {' and '.join(map(repr, anchors))}" if anchors else ""
        warnings.append(AnalysisWarning("NO_PATHS", f"No path{reach} was found."))
    elif edges_total > len(edges):
        warnings.append(
            AnalysisWarning(
                "EDGES_LIMITED",
                f"Only the {len(edges)} heaviest of {edges_total} edges are kept (max_edges), so "
                "node totals drawn from them can be below the paths through those nodes.",
            )
        )
    return PathsResult(
        edges=edges,
        top_paths=top_paths,
        total_paths=total_paths,
        total_persons=total_persons,
        edges_total=edges_total,
        warnings=tuple(warnings),
    )


register(
    Analysis(
        name="paths",
        spec=PathsSpec,
        run=paths,
        title="Paths",
        summary="Which routes people take from or to a step, drawn as a Sankey of top edges.",
        example={"start_point": "Home", "max_steps": 5, "max_edges": 50},
    )
)
