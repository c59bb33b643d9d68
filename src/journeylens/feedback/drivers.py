"""Drivers: which behaviours go with an outcome — conversion, churn or NPS — and how strongly.

For every person active before ``as_of`` (a ``track``/``page``/``screen`` event of their own,
i.e. not in ``passive_events``: someone the brand only sent messages to is not a customer who
can churn) the engine computes one row of features from their events before ``as_of``
(support contacts, visits, orders, channels used, journey stages reached, counts of any events
the spec names and, on request, the mean sentiment of their feedback texts) and the outcome in
the ``window`` after it:

- ``conversion``: did they do ``conversion_event`` in the window (logistic regression);
- ``churn``: did they do nothing of their own in the window (logistic regression); events the
  brand or a server produced (``passive_events``: sends, deliveries, refunds; identity calls)
  are not activity, since the brand keeps sending to customers who left;
- ``nps``: their mean NPS answer in the window (linear regression, ``nps_target="mean"``) or
  whether it was a promoter's 9–10 (logistic, ``nps_target="promoter"``); persons who did not
  answer are left out.

Only those per-person rows (persons ≪ events) come back to Python, where statsmodels fits
``outcome ~ features`` (Logit or OLS with an intercept). Each effect is reported per a natural
unit of its feature (``scale="per_unit"``: 1, or a round number near the feature's standard
deviation when that is above 5) or per standard deviation (``scale="standardised"``): an odds
ratio exp(β·unit) for the logistic models, β·unit for the linear one, each with its Wald
confidence interval and p-value. These are associations, not causes: a feature can stand in for
something unmeasured.

Also returned: the correlation matrix of per-person event counts across channels (which
channels the same customers use together).
"""

from __future__ import annotations

import math
import warnings as py_warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field
from scipy import stats

from journeylens.analysis.base import AnalysisWarning, DurationField, Result, Spec
from journeylens.analysis.event_match import BEHAVIOUR_TYPES
from journeylens.analysis.periods import UtcDatetime
from journeylens.analysis.registry import Analysis, register
from journeylens.feedback.source import FeedbackSource, feedback_table
from journeylens.predict.features import PASSIVE_EVENTS

__all__ = ["BUILTIN_FEATURES", "DriversResult", "DriversSpec", "drivers"]

Outcome = Literal["conversion", "churn", "nps"]
Feature = Literal[
    "support_contacts", "visits", "orders", "channels_used", "stages_reached", "sentiment"
]
#: The built-in features and what each counts before ``as_of``.
BUILTIN_FEATURES: dict[str, str] = {
    "support_contacts": "support contacts",
    "visits": "visits (sessions)",
    "orders": "orders",
    "channels_used": "channels used",
    "stages_reached": "journey stages reached",
    "sentiment": "mean feedback sentiment (−1…1)",
}
_OUTCOME_WORDS = {"conversion": "convert", "churn": "churn", "promoter": "be promoters"}
# Fewer outcome events than this per feature makes a logistic fit unstable (Peduzzi et al.).
_EVENTS_PER_FEATURE = 10


class DriversSpec(Spec):
    """What outcome, which features, and how to report the effects.

    Attributes:
        outcome: ``conversion``, ``churn`` or ``nps``.
        as_of: features come from events before it, the outcome from the ``window`` after it;
            default: the latest event minus ``window``.
        window: how long after ``as_of`` the outcome is watched.
        lookback: only events in this long before ``as_of`` make features; None for all.
        conversion_event: the event that converts (and is counted as ``orders``).
        support_events: events that are support contacts.
        passive_events: events that are not the person's own activity (see the module).
        features: the built-in features to use (``sentiment`` scores every feedback text of
            the population with the offline sentiment model; it is not on by default).
        count_events: more features: the count of each of these events before ``as_of``.
        nps_target: for ``outcome="nps"``: ``mean`` score (linear) or ``promoter`` (logistic).
        nps_source: where NPS answers are (for ``outcome="nps"``).
        scale: ``per_unit`` (a natural unit of each feature) or ``standardised`` (per sd).
        confidence: of the intervals.

    >>> DriversSpec(outcome="churn", window="30d").window.days
    30
    """

    outcome: Outcome = "churn"
    as_of: UtcDatetime | None = None
    window: DurationField = timedelta(days=30)
    lookback: DurationField | None = None
    conversion_event: str = Field("Order Completed", min_length=1)
    support_events: tuple[str, ...] = ("Call Completed", "ticket_created", "chat_message")
    passive_events: tuple[str, ...] = PASSIVE_EVENTS
    features: tuple[Feature, ...] = Field(
        ("support_contacts", "visits", "orders", "channels_used", "stages_reached"),
        min_length=0,
    )
    count_events: tuple[str, ...] = ()
    nps_target: Literal["mean", "promoter"] = "mean"
    nps_source: FeedbackSource = FeedbackSource(
        events=("survey_answered", "Survey Responded"), rating_properties=("score", "nps")
    )
    scale: Literal["per_unit", "standardised"] = "per_unit"
    confidence: float = Field(0.95, gt=0.5, lt=1.0)


@dataclass(frozen=True)
class DriversResult(Result):
    """The fitted effects, the population and the channel correlations.

    Attributes:
        outcome: as in the spec; ``model``: ``logit`` or ``ols``.
        as_of: the cut-off used (UTC).
        persons: persons in the model (rows); ``positives``: of them, with the outcome
            (logistic models; None for ``ols``).
        effects: one dict per feature, see ``to_frame``.
        channels: the channels of ``correlations``; ``correlations``: their Pearson
            correlation matrix of per-person event counts (None where a channel is constant).
        warnings: ``NO_PERSONS``, ``NO_EVENTS`` (one outcome for everyone), ``FEW_EVENTS``,
            ``SEPARATION``, ``CONSTANT_FEATURE``, ``COLLINEAR_FEATURE``, ``FIT_FAILED``.
    """

    outcome: Outcome
    model: Literal["logit", "ols"]
    as_of: datetime | None
    persons: int
    positives: int | None
    effects: tuple[dict[str, Any], ...]
    channels: tuple[str, ...]
    correlations: tuple[tuple[float | None, ...], ...]
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: ``feature``, ``unit`` (the step the effect is per),
        ``coefficient`` (β per unit: log-odds for logit), ``effect`` (odds ratio for logit,
        change in the outcome for ols), ``ci_low`` / ``ci_high`` (of ``effect``),
        ``p_value``, ``mean`` and ``sd`` of the feature, and ``sentence``."""
        columns = ["feature", "unit", "coefficient", "effect", "ci_low", "ci_high", "p_value"]
        return pd.DataFrame(list(self.effects), columns=[*columns, "mean", "sd", "sentence"])

    def to_dict(self) -> dict[str, Any]:
        """``outcome``, ``model``, ``as_of`` (ISO-8601), ``persons``, ``positives``,
        ``effects`` (rows of ``to_frame``; NaN as null), ``channels``, ``correlations``,
        ``warnings``."""
        return {
            "outcome": self.outcome,
            "model": self.model,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "persons": self.persons,
            "positives": self.positives,
            "effects": [{k: _json(v) for k, v in e.items()} for e in self.effects],
            "channels": list(self.channels),
            "correlations": [list(row) for row in self.correlations],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """A forest plot: each effect with its interval; the line of no effect at 1 (odds
        ratios, log axis) or 0."""
        rows = [e for e in self.effects if not math.isnan(e["effect"])]
        fig = go.Figure(
            go.Scatter(
                x=[e["effect"] for e in rows],
                y=[f"{e['feature']} (+{e['unit']:g})" for e in rows],
                mode="markers",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [e["ci_high"] - e["effect"] for e in rows],
                    "arrayminus": [e["effect"] - e["ci_low"] for e in rows],
                },
                text=[e["sentence"] for e in rows],
                name="effect",
            )
        )
        logit = self.model == "logit"
        fig.add_vline(x=1.0 if logit else 0.0, line_dash="dash")
        fig.update_layout(
            title=f"What drives {self.outcome}",
            xaxis_title="odds ratio" if logit else "change in the outcome",
            xaxis_type="log" if logit else "linear",
        )
        return fig


def drivers(events: ibis.Table, spec: DriversSpec) -> DriversResult:
    """Effects of behaviours on an outcome, from one row of features per person.

    Returns:
        A :class:`DriversResult`. The population is every person active (an event of their
        own) before ``as_of`` (within ``lookback``), and for ``nps`` who also answered in the
        window; ``positives`` are those who converted / churned / were promoters.

    >>> t = ibis.memtable({"person_id": ["a"], "type": ["track"], "event": ["x"],
    ...     "timestamp": ["2024-01-01"],
    ...     "session_id": ["s"], "channel": ["Web"], "stage": [None], "message_id": ["1"],
    ...     "properties": ["{}"]}).cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> [w.code for w in drivers(t, DriversSpec()).warnings]
    ['NO_PERSONS']
    """
    people = events.filter(events.person_id.notnull() & events.timestamp.notnull())
    as_of = spec.as_of or _default_as_of(people, spec)
    if as_of is None:
        return _empty(spec, None, "NO_PERSONS", "There are no events with a person.")
    before = people.filter(people.timestamp < as_of)
    if spec.lookback is not None:
        before = before.filter(before.timestamp >= as_of - spec.lookback)
    after = people.filter((people.timestamp >= as_of) & (people.timestamp < as_of + spec.window))
    active = before.filter(_own(before, spec)).select("person_id").distinct()
    features = _features(before, spec).semi_join(active, "person_id")
    frame = _with_outcome(features, after, spec).to_pyarrow().to_pandas()
    if spec.outcome != "nps" or spec.nps_target == "promoter":
        frame["y"] = frame["y"].astype(float)
    if "sentiment" in spec.features:
        frame = frame.merge(_sentiment(before, frame.person_id), on="person_id", how="left")
        frame["sentiment"] = frame["sentiment"].fillna(0.0)
    channels, correlations = _channel_correlations(before, frame.person_id)
    names = [f for f in spec.features] + [_count_name(e) for e in spec.count_events]
    return _fit(spec, as_of, frame, names, channels, correlations)


def _default_as_of(people: ibis.Table, spec: DriversSpec) -> datetime | None:
    latest = people.timestamp.max().to_pyarrow().as_py()
    return None if latest is None else latest - spec.window


def _own(events: ibis.Table, spec: DriversSpec) -> ir.BooleanValue:
    """True for the person's own behaviour: a track/page/screen event not in passive_events."""
    passive = events.event.isin(spec.passive_events).fill_null(False)
    return events.type.lower().isin(BEHAVIOUR_TYPES) & ~passive


def _count_name(event: str) -> str:
    return "count: " + event


def _features(before: ibis.Table, spec: DriversSpec) -> ibis.Table:
    e = before.event
    built = {
        "support_contacts": e.isin(spec.support_events).sum(),
        "visits": before.session_id.nunique(),
        "orders": (e == spec.conversion_event).sum(),
        "channels_used": before.channel.nunique(),
        "stages_reached": before.stage.nunique(),
    }
    wanted = {name: built[name] for name in spec.features if name in built}
    wanted |= {_count_name(ev): (e == ev).sum() for ev in spec.count_events}
    # Always one aggregate, so every person before as_of is a row even with no features named.
    return before.group_by("person_id").aggregate(_jl_events=before.count(), **wanted)


def _with_outcome(features: ibis.Table, after: ibis.Table, spec: DriversSpec) -> ibis.Table:
    """``features`` plus ``y``, for the persons the outcome is defined for."""
    if spec.outcome == "nps":
        answers = feedback_table(after, spec.nps_source)
        answers = answers.filter(answers.rating.between(0, 10))
        mean = answers.group_by("person_id").aggregate(_jl_score=answers.rating.mean())
        joined = features.join(mean, "person_id")
        y = joined._jl_score >= 9 if spec.nps_target == "promoter" else joined._jl_score
        return joined.mutate(y=y).drop("_jl_score")
    # Everyone in the features has an outcome: a person absent from the window did nothing.
    hits = (after.event == spec.conversion_event).sum() if spec.outcome == "conversion" else None
    if hits is None:
        after = after.filter(_own(after, spec))
    seen = after.group_by(_jl_person=after.person_id).aggregate(
        _jl_hit=hits if hits is not None else after.count()
    )
    joined = features.left_join(seen, features.person_id == seen._jl_person)
    active = joined._jl_hit.fill_null(0) > 0
    return joined.mutate(y=active if spec.outcome == "conversion" else ~active).drop(
        "_jl_person", "_jl_hit"
    )


def _sentiment(before: ibis.Table, persons: pd.Series) -> pd.DataFrame:
    """Mean sentiment score of each person's feedback texts before ``as_of``."""
    from journeylens.feedback.sentiment import score_texts

    texts = feedback_table(before).filter(lambda t: t.text.notnull()).select("person_id", "text")
    rows = texts.to_pyarrow().to_pandas()
    rows = rows[rows.person_id.isin(set(persons))]
    if rows.empty:
        return pd.DataFrame({"person_id": [], "sentiment": []})
    rows["sentiment"] = score_texts(rows.text.tolist()).score
    return rows.groupby("person_id", as_index=False).sentiment.mean()


def _channel_correlations(
    before: ibis.Table, persons: pd.Series
) -> tuple[tuple[str, ...], tuple[tuple[float | None, ...], ...]]:
    counts = before.filter(before.channel.notnull())
    counts = counts.group_by(["person_id", "channel"]).aggregate(n=counts.count())
    rows = counts.to_pyarrow().to_pandas()
    rows = rows[rows.person_id.isin(set(persons))]
    if rows.empty:
        return (), ()
    wide = rows.pivot_table(index="person_id", columns="channel", values="n", fill_value=0)
    wide = wide.reindex(pd.Index(persons.unique()), fill_value=0)
    matrix = wide.corr()
    channels = tuple(str(c) for c in matrix.columns)
    return channels, tuple(tuple(_json(float(v)) for v in row) for row in matrix.to_numpy())


def _fit(
    spec: DriversSpec,
    as_of: datetime,
    frame: pd.DataFrame,
    names: list[str],
    channels: tuple[str, ...],
    correlations: tuple[tuple[float | None, ...], ...],
) -> DriversResult:
    import statsmodels.api as sm

    logit = spec.outcome != "nps" or spec.nps_target == "promoter"
    notes: list[AnalysisWarning] = []
    if len(frame) < 3:
        return _empty(spec, as_of, "NO_PERSONS", f"Only {len(frame)} persons have an outcome.")
    sd = frame[names].std(ddof=1) if names else pd.Series(dtype=float)
    constant = [n for n in names if not sd[n] > 0]
    if constant:
        notes.append(
            AnalysisWarning(
                "CONSTANT_FEATURE", f"Left out, the same for everyone: {', '.join(constant)}."
            )
        )
    used = _independent(frame, [n for n in names if n not in constant])
    duplicated = [n for n in names if n not in constant and n not in used]
    if duplicated:
        notes.append(
            AnalysisWarning(
                "COLLINEAR_FEATURE",
                f"Left out, a combination of the other features: {', '.join(duplicated)}.",
            )
        )
    if len(frame) <= len(used) + 1:
        # As many coefficients as persons: a perfect fit, with no error left to measure.
        return _empty(
            spec,
            as_of,
            "NO_PERSONS",
            f"Only {len(frame)} persons for {len(used)} features: too few to fit.",
        )
    y = frame["y"].to_numpy(dtype=float)
    positives = int(y.sum()) if logit else None
    if logit:
        rarer = min(positives, len(y) - positives)
        if rarer == 0:
            return _empty(
                spec, as_of, "NO_EVENTS", "Everyone has the same outcome: nothing to explain."
            )
        if rarer < _EVENTS_PER_FEATURE * max(len(used), 1):
            notes.append(
                AnalysisWarning(
                    "FEW_EVENTS",
                    f"{rarer} persons in the rarer outcome for {len(used)} features (fewer "
                    f"than {_EVENTS_PER_FEATURE} per feature): effects are unstable.",
                )
            )
    x = sm.add_constant(frame[used].to_numpy(dtype=float), has_constant="add")
    try:
        with py_warnings.catch_warnings(record=True) as caught:
            py_warnings.simplefilter("always")
            fit = sm.Logit(y, x).fit(disp=0) if logit else sm.OLS(y, x).fit()
    except (np.linalg.LinAlgError, ValueError) as exc:
        return _empty(spec, as_of, "FIT_FAILED", f"The model could not be fitted: {exc}.")
    if logit and (_separated(caught) or not np.all(np.isfinite(fit.bse))):
        notes.append(
            AnalysisWarning(
                "SEPARATION",
                "A feature (nearly) predicts the outcome perfectly: its effect and interval "
                "are not reliable.",
            )
        )
    z = float(stats.norm.ppf(0.5 + spec.confidence / 2))
    effects = [
        _effect(
            spec, name, fit.params[i + 1], fit.bse[i + 1], fit.pvalues[i + 1], frame[name], logit, z
        )
        for i, name in enumerate(used)
    ]
    return DriversResult(
        outcome=spec.outcome,
        model="logit" if logit else "ols",
        as_of=as_of,
        persons=len(frame),
        positives=positives,
        effects=tuple(effects),
        channels=channels,
        correlations=correlations,
        warnings=tuple(notes),
    )


def _independent(frame: pd.DataFrame, names: list[str]) -> list[str]:
    """The features in order, skipping each that is a linear combination of those before it
    (and the intercept): its effect could not be told apart from theirs."""
    kept: list[str] = []
    base = np.ones((len(frame), 1))
    for name in names:
        trial = np.column_stack([base, frame[name].to_numpy(dtype=float)])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(name)
            base = trial
    return kept


def _separated(caught: list[Any]) -> bool:
    return any(
        "separation" in str(w.message).lower() or "converge" in str(w.message).lower()
        for w in caught
    )


def _effect(
    spec: DriversSpec,
    name: str,
    beta: float,
    se: float,
    p_value: float,
    values: pd.Series,
    logit: bool,
    z: float,
) -> dict[str, Any]:
    sd = float(values.std(ddof=1))
    unit = sd if spec.scale == "standardised" else _natural_unit(sd)
    coef, half = beta * unit, z * se * unit
    if logit:
        with np.errstate(over="ignore"):  # a separated feature's odds ratio is infinite
            effect, low, high = (float(np.exp(v)) for v in (coef, coef - half, coef + half))
    else:
        effect, low, high = coef, coef - half, coef + half
    return {
        "feature": name,
        "unit": unit,
        "coefficient": coef,
        "effect": effect,
        "ci_low": low,
        "ci_high": high,
        "p_value": float(p_value),
        "mean": float(values.mean()),
        "sd": sd,
        "sentence": _sentence(spec, name, unit, effect, low, high, logit),
    }


def _natural_unit(sd: float) -> float:
    """1, or for a widely spread feature a round 1/2/5 × 10^k step near its sd."""
    if sd <= 5:
        return 1.0
    power = 10 ** math.floor(math.log10(sd))
    return float(min((1, 2, 5, 10), key=lambda m: abs(m * power - sd)) * power)


def _sentence(
    spec: DriversSpec, name: str, unit: float, effect: float, low: float, high: float, logit: bool
) -> str:
    label = BUILTIN_FEATURES.get(name, name.removeprefix("count: ") + " events")
    step = (
        f"{unit:.2g} more {label}"
        if spec.scale == "per_unit"
        else f"1 sd ({unit:.2g}) more {label}"
    )
    interval = f"{spec.confidence:.0%} CI {low:.2f}–{high:.2f}"
    if logit:
        target = "promoter" if spec.outcome == "nps" else spec.outcome
        return (
            f"Customers with {step} have {effect:.2f}× the odds to "
            f"{_OUTCOME_WORDS[target]} ({interval})."
        )
    return (
        f"Customers with {step} give a mean NPS answer {effect:+.2f} points different ({interval})."
    )


def _empty(spec: DriversSpec, as_of: datetime | None, code: str, message: str) -> DriversResult:
    logit = spec.outcome != "nps" or spec.nps_target == "promoter"
    return DriversResult(
        outcome=spec.outcome,
        model="logit" if logit else "ols",
        as_of=as_of,
        persons=0,
        positives=None,
        effects=(),
        channels=(),
        correlations=(),
        warnings=(AnalysisWarning(code, message),),
    )


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


register(
    Analysis(
        name="drivers",
        spec=DriversSpec,
        run=drivers,
        title="Drivers",
        summary="Which behaviours go with conversion, churn or NPS, as effects with "
        "confidence intervals.",
        example={"outcome": "churn", "window": "14d"},
    )
)
