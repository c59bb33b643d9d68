"""What an experiment analysis reads: the exposures, the metrics and the statistical method.

Metrics are per person, measured from the person's first exposure on (within ``window`` when
given): ``conversion`` (did a matching event happen: 0/1), ``count`` (matching events),
``revenue`` (sum of ``revenue`` of matching events) and ``ratio`` (two per-person measures
summed over persons and divided, e.g. revenue per order or orders per session). The method is
a mode with its own settings: ``"bayesian"`` (optionally a Gaussian prior on the relative
lift), ``"frequentist"`` or ``"sequential"`` (its mixing variance τ²); a bare name takes the
defaults.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from journeylens.analysis.base import DurationField, Interval, Spec
from journeylens.analysis.event_match import EventField, EventMatch
from journeylens.stats import Correction

__all__ = [
    "BayesianMethod",
    "ConversionMetric",
    "CountMetric",
    "ExperimentSpec",
    "FrequentistMethod",
    "Measure",
    "Metric",
    "RatioMetric",
    "RevenueMetric",
    "SequentialMethod",
]


class _MetricBase(Spec):
    name: str | None = Field(None, min_length=1, description="Label; defaults to a description")
    window: DurationField | None = Field(
        None, description="Count only this long after the first exposure (None: until the end)"
    )


class ConversionMetric(_MetricBase):
    """1 if the person did a matching event after their first exposure, else 0.

    >>> ConversionMetric(kind="conversion", event="Order Completed").label
    'Order Completed conversion'
    """

    kind: Literal["conversion"]
    event: EventField

    @property
    def label(self) -> str:
        return self.name or f"{self.event.title} conversion"


class CountMetric(_MetricBase):
    """Matching events per person after their first exposure."""

    kind: Literal["count"]
    event: EventField = EventMatch()

    @property
    def label(self) -> str:
        return self.name or f"{self.event.title} per person"


class RevenueMetric(_MetricBase):
    """Revenue per person: the sum of ``revenue`` over matching events (null counts as 0)."""

    kind: Literal["revenue"]
    event: EventField = EventMatch()

    @property
    def label(self) -> str:
        return self.name or "Revenue per person"


class Measure(Spec):
    """One side of a ratio, per person: matching events (``count``), their ``revenue``, or the
    distinct ``sessions`` holding one."""

    value: Literal["count", "revenue", "sessions"] = "count"
    event: EventField = EventMatch()

    @property
    def label(self) -> str:
        noun = {"count": "", "revenue": "revenue of ", "sessions": "sessions with "}[self.value]
        return f"{noun}{self.event.title}"


class RatioMetric(_MetricBase):
    """Σ numerator ÷ Σ denominator over the persons of an arm (delta-method variance).

    >>> RatioMetric(kind="ratio", numerator={"value": "revenue", "event": "Order Completed"},
    ...             denominator={"event": "Order Completed"}).label
    'revenue of Order Completed per Order Completed'
    """

    kind: Literal["ratio"]
    numerator: Measure
    denominator: Measure

    @property
    def label(self) -> str:
        return self.name or f"{self.numerator.label} per {self.denominator.label}"


#: One metric of an experiment, chosen by ``kind``.
Metric = Annotated[
    ConversionMetric | CountMetric | RevenueMetric | RatioMetric, Field(discriminator="kind")
]


class BayesianMethod(Spec):
    """Bayesian comparison; ``prior_variance`` None is a flat prior, else a Gaussian prior
    N(``prior_mean``, ``prior_variance``) on the relative lift."""

    name: Literal["bayesian"] = "bayesian"
    prior_mean: float = 0.0
    prior_variance: float | None = Field(None, gt=0)


class FrequentistMethod(Spec):
    """Welch's t-test on the relative lift (fixed horizon: read it once)."""

    name: Literal["frequentist"] = "frequentist"


class SequentialMethod(Spec):
    """Mixture SPRT: always-valid p-values and confidence sequences (peeking allowed);
    ``mixing_variance`` is τ² on the relative-lift scale."""

    name: Literal["sequential"] = "sequential"
    mixing_variance: float = Field(0.01, gt=0)


def _method(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


MethodField = Annotated[
    Annotated[BayesianMethod | FrequentistMethod | SequentialMethod, Field(discriminator="name")],
    BeforeValidator(_method),
]


class ExperimentSpec(Spec):
    """An experiment to analyse.

    >>> s = ExperimentSpec(experiment_id="checkout_redesign",
    ...     metrics=[{"kind": "conversion", "event": "Order Completed"}], method="frequentist")
    >>> s.method.name, s.correction
    ('frequentist', 'holm')
    """

    experiment_id: str = Field(min_length=1)
    metrics: tuple[Metric, ...] = Field(min_length=1)
    method: MethodField = BayesianMethod()
    alpha: float = Field(0.05, gt=0, lt=1)
    correction: Correction = "holm"
    control: str | None = Field(None, description='Control variant; default "control" or first')
    weights: dict[str, float] | None = Field(
        None, description="Planned share per variant for the SRM check; default equal"
    )
    srm_threshold: float = Field(0.001, gt=0, lt=1)
    cuped_window: DurationField | None = Field(
        None,
        description="Adjust conversion/count/revenue metrics with the same metric measured "
        "over this long before the first exposure (CUPED); ratio metrics are not adjusted",
    )
    exposure_event: str = Field("Experiment Viewed", min_length=1)
    experiment_property: str = Field("experiment_id", min_length=1)
    variant_property: str = Field("variant", min_length=1)
    interval: Interval = "day"

    @model_validator(mode="after")
    def _weights_are_positive(self) -> ExperimentSpec:
        if self.weights is not None:
            if len(self.weights) < 2:
                raise ValueError("weights must name at least two variants")
            if any(not w > 0 for w in self.weights.values()):
                raise ValueError("every weight must be > 0")
            if self.control is not None and self.control not in self.weights:
                raise ValueError(f"the control {self.control!r} has no weight")
        labels = [m.label for m in self.metrics]
        if len(set(labels)) != len(labels):
            raise ValueError("metric labels must differ; give each metric a distinct `name`")
        return self
