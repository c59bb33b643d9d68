"""How a journey is doing: counts per node, sends, engagement, and the lift over its holdout.

Counts come from the stored instances (every version of the journey), sends from the outbox,
opens and clicks from engagement events that name the send: ``Email Opened``, ``Email Link
Clicked``, ``Push Opened``... whose properties carry the send's ``idempotency_key`` (the e-mail
``Message-ID`` holds it too) or the ``journey_id`` and ``node_id`` (the journey headers).

The lift is causal because the holdout is random: a stable hash puts ``holdout_share`` of the
persons who enter into a group that walks the journey without receiving anything. The goal
rate of the treatment group against the holdout's is compared as two proportions
(:func:`journeylens.stats.compare`, frequentist: Welch on the relative lift, delta method).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa

from journeylens.activate.journey import Journey, successors
from journeylens.activate.publish import journey_store, journey_version
from journeylens.errors import UnknownNameError
from journeylens.stats import Proportion, compare
from journeylens.workspace import Workspace

__all__ = ["CLICK_EVENTS", "OPEN_EVENTS", "JourneyReport", "journey_report", "preview_report"]

#: Engagement events counted as opens and clicks of a journey's sends.
OPEN_EVENTS = ("Email Opened", "Push Opened", "Web Push Opened", "SMS Opened", "WhatsApp Read")
CLICK_EVENTS = ("Email Link Clicked", "Link Clicked", "Push Clicked", "SMS Link Clicked")


@dataclass(frozen=True)
class JourneyReport:
    """A journey's state.

    Attributes:
        journey_id, name, version (newest), status (``live`` or ``paused``).
        nodes: per node of the newest version, in definition order: ``node_id``, ``kind``,
            ``entered`` (instances that reached it, any version), ``waiting`` (live instances
            at it now), ``exited`` (entered − waiting: went on or left), ``sent``, ``pending``,
            ``failed`` (outbox rows by status), ``opens``, ``clicks`` (engagement events).
        edges: ``(from, to)`` node links of the newest version, for the graph.
        groups: per group (``treatment``, ``holdout``): ``instances``, ``live``,
            ``converted`` and ``rate`` (converted ÷ instances; None without instances).
        lift: the treatment's goal rate against the holdout's (``Comparison.to_dict()``:
            ``lift`` = relative lift, ``lift_interval`` its 95% CI, ``difference`` in rate
            points, ``p_value``...), or None when the journey has no goal.
        warnings: codes of what limits the numbers (``NO_GOAL``, ``NO_HOLDOUT``,
            ``NO_INSTANCES``).
    """

    journey_id: str
    name: str
    version: str
    status: str
    nodes: list[dict[str, Any]]
    edges: list[tuple[str, str]]
    groups: dict[str, dict[str, Any]]
    lift: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every attribute (edges as two-item lists)."""
        return {
            "journey_id": self.journey_id,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "nodes": self.nodes,
            "edges": [list(e) for e in self.edges],
            "groups": self.groups,
            "lift": self.lift,
            "warnings": self.warnings,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per node (the ``nodes`` fields)."""
        return pd.DataFrame(self.nodes)

    def figure(self) -> go.Figure:
        """The journey as a left-to-right graph: a box per node sized by ``entered`` and
        labelled with entered / waiting / sent, arrows along the links."""
        depth = _depths(self.edges, [n["node_id"] for n in self.nodes])
        rows: Counter[int] = Counter()
        xy: dict[str, tuple[float, float]] = {}
        for node in self.nodes:
            level = depth[node["node_id"]]
            xy[node["node_id"]] = (level, -rows[level])
            rows[level] += 1
        fig = go.Figure()
        for a, b in self.edges:
            (x0, y0), (x1, y1) = xy[a], xy[b]
            fig.add_annotation(
                x=x1,
                y=y1,
                ax=x0,
                ay=y0,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=2,
                arrowcolor="#888",
                standoff=14,
                startstandoff=14,
            )
        biggest = max([n["entered"] for n in self.nodes] + [1])
        fig.add_trace(
            go.Scatter(
                x=[xy[n["node_id"]][0] for n in self.nodes],
                y=[xy[n["node_id"]][1] for n in self.nodes],
                mode="markers+text",
                text=[_label(n) for n in self.nodes],
                textposition="bottom center",
                marker={
                    "size": [18 + 30 * n["entered"] / biggest for n in self.nodes],
                    "color": [n["waiting"] for n in self.nodes],
                    "colorscale": "Blues",
                    "showscale": True,
                    "colorbar": {"title": "waiting"},
                    "line": {"width": 1, "color": "#333"},
                },
                hovertext=[
                    f"{n['node_id']} ({n['kind']}): entered {n['entered']}, waiting "
                    f"{n['waiting']}, sent {n['sent']}, opens {n['opens']}, clicks {n['clicks']}"
                    for n in self.nodes
                ],
                hoverinfo="text",
                showlegend=False,
            )
        )
        fig.update_layout(
            title=f"{self.name}: live counts per node",
            xaxis={"visible": False},
            yaxis={"visible": False},
            margin={"l": 20, "r": 20, "t": 50, "b": 20},
        )
        return fig


def _label(node: dict[str, Any]) -> str:
    text = f"{node['node_id']}<br>{node['entered']} in · {node['waiting']} waiting"
    return text + (f" · {node['sent']} sent" if node["sent"] else "")


def _depths(edges: list[tuple[str, str]], order: list[str]) -> dict[str, int]:
    """Each node's column: the longest chain of links from the start (first node) to it,
    ignoring links back to a node already placed (loops)."""
    depth = {order[0]: 0} if order else {}
    frontier = order[:1]
    while frontier:
        following = []
        for a in frontier:
            for src, dst in edges:
                if src == a and dst not in depth:
                    depth[dst] = depth[a] + 1
                    following.append(dst)
        frontier = following
    return {n: depth.get(n, 0) for n in order}


def journey_report(ws: Workspace, journey_id: str) -> JourneyReport:
    """Report on the published journey ``journey_id`` (every version's instances).

    Returns:
        A :class:`JourneyReport`.
    """
    store = journey_store(ws)
    versions = store.versions(journey_id)
    if not versions:
        known = sorted({r["journey_id"] for r in store.versions()})
        raise UnknownNameError("journey", journey_id, known)
    newest = versions[0]
    journey = journey_version(newest["definition"])
    instances = store.instance_rows(journey_id)
    outbox = store.outbox(journey_id)
    engagement = _engagement(ws, journey_id, outbox)
    nodes = _nodes(journey, instances, outbox, engagement)
    groups = _groups(instances)
    warnings = []
    lift = None
    if not instances:
        warnings.append("NO_INSTANCES")
    if journey.goal is None:
        warnings.append("NO_GOAL")
    elif groups["holdout"]["instances"] == 0:
        warnings.append("NO_HOLDOUT")
    if journey.goal is not None:
        control = Proportion(groups["holdout"]["instances"], groups["holdout"]["converted"])
        treated = Proportion(groups["treatment"]["instances"], groups["treatment"]["converted"])
        lift = compare(control, treated, "frequentist").to_dict()
    shape = preview_report(journey)
    return JourneyReport(
        journey_id=journey_id,
        name=journey.name,
        version=newest["version"],
        status=newest["status"],
        nodes=nodes,
        edges=shape.edges,
        groups=groups,
        lift=lift,
        warnings=warnings,
    )


def preview_report(journey: Journey) -> JourneyReport:
    """The report of a journey nobody has entered (not published): its graph with zero counts.

    Returns:
        A :class:`JourneyReport` with status ``draft``, every count 0, no lift, and the
        warning ``NO_INSTANCES``.

    >>> from journeylens.activate.templates import load_template
    >>> preview_report(load_template("cart_abandonment")).nodes[0]["entered"]
    0
    """
    edges = [(a, b) for a, node in journey.nodes.items() for b in successors(node) if b]
    return JourneyReport(
        journey_id=journey.id,
        name=journey.name,
        version=journey.content_hash,
        status="draft",
        nodes=_nodes(journey, [], [], {}),
        edges=list(dict.fromkeys(edges)),
        groups=_groups([]),
        lift=None,
        warnings=["NO_INSTANCES"],
    )


def _nodes(
    journey: Journey,
    instances: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    engagement: dict[tuple[str, str], int],
) -> list[dict[str, Any]]:
    entered: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    for row in instances:
        for node in {visit["node"] for visit in row["path"]}:
            entered[node] += 1
        if row["status"] == "active" and row["node"]:
            waiting[row["node"]] += 1
    sends: Counter[tuple[str, str]] = Counter((r["node_id"], r["status"]) for r in outbox)
    return [
        {
            "node_id": node_id,
            "kind": node.kind,
            "entered": entered[node_id],
            "waiting": waiting[node_id],
            "exited": entered[node_id] - waiting[node_id],
            "sent": sends[(node_id, "sent")],
            "pending": sends[(node_id, "pending")],
            "failed": sends[(node_id, "failed")],
            "opens": engagement.get((node_id, "open"), 0),
            "clicks": engagement.get((node_id, "click"), 0),
        }
        for node_id, node in journey.nodes.items()
    ]


def _groups(instances: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups = {}
    for name in ("treatment", "holdout"):
        mine = [r for r in instances if r["grp"] == name]
        converted = sum(1 for r in mine if r["converted_at"] is not None)
        groups[name] = {
            "instances": len(mine),
            "live": sum(1 for r in mine if r["status"] in ("active", "waiting")),
            "converted": converted,
            "rate": converted / len(mine) if mine else None,
        }
    return groups


def _engagement(
    ws: Workspace, journey_id: str, outbox: list[dict[str, Any]]
) -> dict[tuple[str, str], int]:
    """(node, ``open`` | ``click``) -> engagement events naming a send of the journey."""
    events = ws.events()
    kinds = {**dict.fromkeys(OPEN_EVENTS, "open"), **dict.fromkeys(CLICK_EVENTS, "click")}
    found = events.filter(events.event.isin(list(kinds)))
    props = found.properties
    named = found.select(
        "event",
        key=props["idempotency_key"].str,
        journey=props["journey_id"].str,
        node=props["node_id"].str,
    )
    by_journey = (
        named.filter(named.journey == journey_id)
        .group_by("node", "event")
        .agg(n=ibis._.count())
        .to_pyarrow()
        .to_pylist()
    )
    counts: Counter[tuple[str, str]] = Counter()
    for row in by_journey:
        counts[(row["node"], kinds[row["event"]])] += row["n"]
    if outbox:
        keys = ibis.memtable(
            pa.table(
                {
                    "key": [r["idempotency_key"] for r in outbox],
                    "send_node": [r["node_id"] for r in outbox],
                }
            )
        )
        # Events that name the key but not the journey, so none is counted twice.
        by_key = (
            named.filter(named.journey.isnull())
            .join(keys, "key")
            .group_by("send_node", "event")
            .agg(n=ibis._.count())
            .to_pyarrow()
            .to_pylist()
        )
        for row in by_key:
            counts[(row["send_node"], kinds[row["event"]])] += row["n"]
    return dict(counts)
