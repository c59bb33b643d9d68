"""What every analysis shares: the frozen spec base, the result contract and warnings.

An analysis is one module with an ``XSpec`` (a :class:`Spec`), a pure function
``x(events, spec) -> XResult`` and an ``XResult`` (a :class:`Result`): values, not live
expressions, with a table, a JSON document and a Plotly figure drawn from those values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from journeylens.durations import parse_duration
from journeylens.errors import JourneyLensError

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["AnalysisWarning", "DurationField", "Interval", "Result", "Spec"]

#: The time buckets analyses group by.
Interval = Literal["hour", "day", "week", "month"]


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except JourneyLensError as exc:  # pydantic reports ValueErrors against the field
        raise ValueError(str(exc)) from exc


#: A positive duration: ``"30m"``, ``"14d"``, ``"2w"``, ``"1mo"`` (31 days) or a ``timedelta``;
#: written back to JSON as seconds-with-unit text (``"1209600s"``) so a spec round-trips.
DurationField = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(lambda d: f"{int(d.total_seconds())}s", return_type=str, when_used="json"),
]


class Spec(BaseModel):
    """Base of every analysis spec: frozen, keyword-only, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class AnalysisWarning:
    """Something about the data a reader should know, with a stable UPPER_SNAKE ``code``
    (e.g. ``NO_EVENTS``) and a sentence saying what it means for the numbers."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """``{"code", "message"}``."""
        return {"code": self.code, "message": self.message}


class Result(ABC):
    """The result contract: values computed once, then shown three ways.

    Subclasses are frozen dataclasses with a ``warnings`` tuple of :class:`AnalysisWarning`.
    """

    warnings: tuple[AnalysisWarning, ...]

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """The main table of the result."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (the API's response body); includes ``warnings``."""

    @abstractmethod
    def figure(self) -> go.Figure:
        """A Plotly figure drawn from the result's values alone."""
