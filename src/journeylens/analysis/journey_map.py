"""The journey map: how journeys move through the stages, and where they stop without buying.

A journey is a cleaned path (see ``path_cleaning``: a session by default, or a person's whole
history with ``scope="person"``). Each step keeps the journey stage of its event (the ``stage``
column of ``Workspace.events()``: awareness → consideration → purchase → retention → advocacy;
``[none]`` for events without one). A journey *converted* when any of its events — before
cleaning, so an excluded or collapsed event still counts — is named ``conversion_event``
("Order Completed" by default).

The map has four tables:

- **stages**: how many journeys reach each stage and how many of those converted;
- **stage flows**: consecutive steps as stage → stage moves, with ``[start]`` before the first
  step and, after the last one, ``[converted]`` for converted journeys or ``[end]`` for the rest;
- **flows**: the biggest event → event moves (with both stages);
- **drop-offs**: the last step of journeys that did not convert, ranked by how many journeys
  ended there — the points where journeys break.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.analysis.path_cleaning import (
    END,
    START,
    PathCleaning,
    clean_paths,
    json_records,
    path_events,
)
from journeylens.analysis.registry import Analysis, register
from journeylens.schema import STAGES

__all__ = ["CONVERTED", "NO_STAGE", "JourneyMapResult", "JourneyMapSpec", "journey_map"]

#: Where a converted journey ends in the stage flows (a non-converted one ends at ``[end]``).
CONVERTED = "[converted]"
#: The stage of events that have none.
NO_STAGE = "[none]"
_ORDER = [START, *STAGES, NO_STAGE, CONVERTED, END]


class JourneyMapSpec(PathCleaning):
    """The :class:`PathCleaning` fields plus the conversion event and the table sizes.

    >>> JourneyMapSpec(conversion_event="Signed Up").max_flows
    20
    """

    conversion_event: str = Field("Order Completed", min_length=1)
    max_flows: int = Field(20, ge=1, le=500)
    max_drop_offs: int = Field(10, ge=1, le=500)


@dataclass(frozen=True)
class JourneyMapResult(Result):
    """The four tables of the map and its totals; see :func:`journey_map` for the fields."""

    stages: pd.DataFrame
    stage_flows: pd.DataFrame
    flows: pd.DataFrame
    drop_offs: pd.DataFrame
    journeys: int
    converted_journeys: int
    persons: int
    warnings: tuple[AnalysisWarning, ...] = field(default=())

    @property
    def conversion_rate(self) -> float | None:
        """``converted_journeys`` ÷ ``journeys`` (None when there are no journeys)."""
        return self.converted_journeys / self.journeys if self.journeys else None

    def to_frame(self) -> pd.DataFrame:
        """The drop-off points, the journeys ending there first."""
        return self.drop_offs.copy()

    def to_dict(self) -> dict[str, Any]:
        """``{"journeys", "converted_journeys", "conversion_rate", "persons", "stages",
        "stage_flows", "flows", "drop_offs", "warnings"}``."""
        return {
            "journeys": self.journeys,
            "converted_journeys": self.converted_journeys,
            "conversion_rate": self.conversion_rate,
            "persons": self.persons,
            "stages": json_records(self.stages),
            "stage_flows": json_records(self.stage_flows),
            "flows": json_records(self.flows),
            "drop_offs": json_records(self.drop_offs),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """A Sankey of the moves between different stages (journeys as link width), from
        ``[start]`` to ``[converted]`` or ``[end]``; moves within one stage are not drawn."""
        moves = self.stage_flows[self.stage_flows["source"] != self.stage_flows["target"]]
        names = sorted(set(moves["source"]) | set(moves["target"]), key=_rank)
        index = {name: i for i, name in enumerate(names)}
        fig = go.Figure(
            go.Sankey(
                node={"label": names},
                link={
                    "source": [index[n] for n in moves["source"]],
                    "target": [index[n] for n in moves["target"]],
                    "value": list(moves["journeys"]),
                },
            )
        )
        rate = self.conversion_rate
        shown = "" if rate is None else f" — {rate:.1%} of {self.journeys} journeys convert"
        return fig.update_layout(title=f"Journey map{shown}")


def journey_map(events: ibis.Table, spec: JourneyMapSpec) -> JourneyMapResult:
    """Map journeys onto the stages and rank the points where they end without converting.

    Returns:
        A :class:`JourneyMapResult` with ``journeys`` (journeys with at least one step),
        ``converted_journeys`` (those with a ``conversion_event``), ``conversion_rate`` (÷
        ``journeys``), ``persons`` (distinct persons with a journey) and four tables:

        - ``stages``, in stage order: ``stage``, ``events`` (steps in the stage), ``journeys``
          (journeys with a step in it), ``share`` (``journeys`` ÷ all journeys),
          ``converted_journeys`` (of those, the converted ones), ``conversion_rate``
          (``converted_journeys`` ÷ the stage's ``journeys``).
        - ``stage_flows``: ``source``, ``target`` (stages, or the ``[start]``, ``[end]`` and
          ``[converted]`` markers), ``transitions`` (consecutive steps making that move),
          ``journeys`` (journeys making it at least once), ``share`` (``journeys`` ÷ all
          journeys); most transitions first.
        - ``flows``: the ``max_flows`` biggest node → node moves: ``source_stage``, ``source``,
          ``target_stage``, ``target``, ``transitions``, ``journeys``, ``share`` (÷ all
          journeys).
        - ``drop_offs`` (also ``to_frame()``): the last step of journeys that did not convert,
          the ``max_drop_offs`` most common: ``stage``, ``node``, ``journeys_ended`` (journeys
          ending there), ``share`` (``journeys_ended`` ÷ all non-converted journeys),
          ``journeys_reached`` (journeys with a step at that node in that stage),
          ``drop_off_rate`` (``journeys_ended`` ÷ ``journeys_reached``). Ties by stage, node.

    >>> ev = ibis.memtable({"person_id": ["p", "p", "q"], "session_id": ["s", "s", "t"],
    ...     "type": ["track"] * 3, "event": ["Product Viewed", "Order Completed", "Product Viewed"],
    ...     "stage": ["consideration", "purchase", "consideration"],
    ...     "message_id": ["1", "2", "3"], "timestamp": [1, 2, 1]})
    >>> journey_map(ev, JourneyMapSpec()).to_frame()[["node", "journeys_ended", "drop_off_rate"]]
                 node  journeys_ended  drop_off_rate
    0  Product Viewed               1            0.5
    """
    raw = path_events(events, spec)
    hits = raw.filter(raw.event == spec.conversion_event)
    converted = hits.select(path_id=hits._jl_path).distinct().mutate(converted=ibis.literal(True))
    steps = clean_paths(events, spec, numbered=False)
    steps = steps.left_join(converted, "path_id").drop("path_id_right")
    steps = steps.mutate(
        converted=steps.converted.fill_null(False), stage=steps.stage.fill_null(NO_STAGE)
    )
    # The step number and the next step come from one window in the paths' own order, so the
    # engine sorts the steps once for both (numbering them in clean_paths and then ordering
    # by that number sorted them twice, in each of the four queries below).
    order = ibis.window(group_by=steps.path_id, order_by=[steps.timestamp, steps.message_id])
    steps = steps.mutate(
        step=ibis.row_number().over(order) + 1,
        next_node=steps.node.lead().over(order),
        next_stage=steps.stage.lead().over(order),
    )
    # Every distinct count below is two (or three) plain aggregations, first per journey (or
    # person) and then per group: unlike a grouped COUNT DISTINCT they spill to disk, so 100M
    # events fit a 2 GB memory limit.
    per_journey = steps.group_by(["stage", "path_id"]).aggregate(
        events=steps.count(), converted=steps.converted.cast("int64").max()
    )
    stages = per_journey.group_by("stage").aggregate(
        events=per_journey.events.sum(),
        journeys=per_journey.count(),
        converted_journeys=per_journey.converted.sum(),
    )
    firsts = steps.filter(steps.step == 1)
    ending = ibis.ifelse(steps.converted, ibis.literal(CONVERTED), ibis.literal(END))
    moves = steps.select(
        "path_id", "person_id", source=steps.stage, target=steps.next_stage.coalesce(ending)
    )
    starts = firsts.select("path_id", "person_id", source=ibis.literal(START), target=firsts.stage)
    # One (null, null) row per journey carries the totals (journeys, persons) through the same
    # aggregation; converted journeys are the moves into [converted], one per such journey.
    totals = firsts.select(
        "path_id", "person_id", source=ibis.null("string"), target=ibis.null("string")
    )
    moves = moves.union(starts, distinct=False).union(totals, distinct=False)
    # A journey belongs to one person (a session id starts with its person id), so a person's
    # distinct journeys add up to the distinct journeys of the pair.
    per_journey = moves.group_by(["source", "target", "person_id", "path_id"]).aggregate(
        n=moves.count()
    )
    per_person = per_journey.group_by(["source", "target", "person_id"]).aggregate(
        n=per_journey.n.sum(), journeys=per_journey.count()
    )
    stage_flows = per_person.group_by(["source", "target"]).aggregate(
        transitions=per_person.n.sum(),
        journeys=per_person.journeys.sum(),
        persons=per_person.count(),
    )
    pairs = steps.filter(steps.next_node.notnull())
    flow = ["source_stage", "source", "target_stage", "target"]
    per_journey = pairs.group_by(
        source_stage=pairs.stage,
        source=pairs.node,
        target_stage=pairs.next_stage,
        target=pairs.next_node,
        path_id=pairs.path_id,
    ).aggregate(n=pairs.count())
    flows = (
        per_journey.group_by(flow)
        .aggregate(transitions=per_journey.n.sum(), journeys=per_journey.count())
        .order_by([ibis.desc("transitions"), "source_stage", "source", "target_stage", "target"])
        .limit(spec.max_flows)
    )
    lasts = steps.filter(steps.next_node.isnull() & ~steps.converted)
    ended = lasts.group_by(["stage", "node"]).aggregate(journeys_ended=lasts.count())
    visits = steps.select("stage", "node", "path_id").distinct()
    reached = visits.group_by(["stage", "node"]).aggregate(journeys_reached=visits.count())
    drop_offs = (
        ended.join(reached, ["stage", "node"])
        .order_by([ibis.desc("journeys_ended"), "stage", "node"])
        .limit(spec.max_drop_offs)
    )
    return _result(
        stages.to_pandas(),
        stage_flows.to_pandas(),
        flows.to_pandas(),
        drop_offs.to_pandas(),
    )


def _rank(name: str) -> tuple[int, str]:
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), name)


def _result(
    stages: pd.DataFrame,
    stage_flows: pd.DataFrame,
    flows: pd.DataFrame,
    drop_offs: pd.DataFrame,
) -> JourneyMapResult:
    total = stage_flows["source"].isna()
    journeys = int(stage_flows.loc[total, "transitions"].sum())
    persons = int(stage_flows.loc[total, "persons"].sum())
    converted = int(stage_flows.loc[stage_flows["target"] == CONVERTED, "transitions"].sum())
    stage_flows = stage_flows[~total].drop(columns="persons")
    per = journeys or 1  # every count is 0 when there are no journeys, so any divisor serves

    stages = stages.astype({"stage": object})
    stages = stages.sort_values("stage", key=lambda s: s.map(_rank), ignore_index=True)
    stages = stages.astype({"events": "int64", "journeys": "int64", "converted_journeys": "int64"})
    stages["share"] = stages["journeys"] / per
    stages["conversion_rate"] = stages["converted_journeys"] / stages["journeys"]
    stages = stages[
        ["stage", "events", "journeys", "share", "converted_journeys", "conversion_rate"]
    ]

    stage_flows = stage_flows.astype({"transitions": "int64", "journeys": "int64"})
    stage_flows["share"] = stage_flows["journeys"] / per
    stage_flows = stage_flows.sort_values(
        ["transitions", "source", "target"], ascending=[False, True, True], ignore_index=True
    )

    flows = flows.astype({"transitions": "int64", "journeys": "int64"})
    flows["share"] = flows["journeys"] / per

    drop_offs = drop_offs.astype({"journeys_ended": "int64", "journeys_reached": "int64"})
    drop_offs["share"] = drop_offs["journeys_ended"] / max(journeys - converted, 1)
    drop_offs["drop_off_rate"] = drop_offs["journeys_ended"] / drop_offs["journeys_reached"]
    drop_offs = drop_offs[
        ["stage", "node", "journeys_ended", "share", "journeys_reached", "drop_off_rate"]
    ]

    warnings: list[AnalysisWarning] = []
    if journeys == 0:
        warnings.append(
            AnalysisWarning("NO_PATHS", "No event of a person matched, so there are no journeys.")
        )
    elif converted == 0:
        warnings.append(
            AnalysisWarning(
                "NO_CONVERSIONS",
                "No journey has the conversion event, so every journey counts as a drop-off.",
            )
        )
    return JourneyMapResult(
        stages=stages,
        stage_flows=stage_flows,
        flows=flows,
        drop_offs=drop_offs,
        journeys=journeys,
        converted_journeys=converted,
        persons=persons,
        warnings=tuple(warnings),
    )


register(
    Analysis(
        name="journey_map",
        spec=JourneyMapSpec,
        run=journey_map,
        title="Journey map",
        summary="How journeys move through the stages and where they end without converting.",
        example={"conversion_event": "Order Completed", "max_flows": 20, "max_drop_offs": 10},
    )
)
