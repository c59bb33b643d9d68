"""From the engine's sums per (variant, period) to the experiment result: statistics per arm,
comparisons with control, the sample-ratio check, corrections and the cumulative lift."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from journeylens.analysis.base import AnalysisWarning
from journeylens.analysis.experiment_result import ExperimentResult, ExperimentRow, LiftPoint
from journeylens.analysis.experiment_spec import (
    BayesianMethod,
    ConversionMetric,
    ExperimentSpec,
    RatioMetric,
    SequentialMethod,
)
from journeylens.stats import (
    Comparison,
    CupedMean,
    GaussianPrior,
    Mean,
    Proportion,
    Ratio,
    Statistic,
    adjust_p_values,
    compare,
    srm,
)

__all__ = ["infer"]

Cell = Mapping[str, Any]


def _statistic(spec: ExperimentSpec, i: int, cell: Cell) -> Statistic:
    metric, n = spec.metrics[i], int(cell["n"])
    if isinstance(metric, RatioMetric):
        keys = ("num", "num2", "den", "den2", "numden")
        return Ratio(n, *(float(cell[f"m{i}_{k}"]) for k in keys))
    if spec.cuped_window is not None:
        keys = ("sum", "sum2", "pre", "pre2", "prod")
        return CupedMean(n, *(float(cell[f"m{i}_{k}"]) for k in keys))
    if isinstance(metric, ConversionMetric):
        return Proportion(n, round(cell[f"m{i}_sum"]))
    return Mean(n, float(cell[f"m{i}_sum"]), float(cell[f"m{i}_sum2"]))


def _compare(spec: ExperimentSpec, control: Statistic, treatment: Statistic) -> Comparison:
    method = spec.method
    prior = None
    if isinstance(method, BayesianMethod) and method.prior_variance is not None:
        prior = GaussianPrior(method.prior_mean, method.prior_variance)
    tau2 = method.mixing_variance if isinstance(method, SequentialMethod) else 0.01
    return compare(
        control, treatment, method.name, alpha=spec.alpha, prior=prior, mixing_variance=tau2
    )


def _arm_totals(cells: Sequence[Cell]) -> dict[str, list[Cell]]:
    by_variant: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        if cell["variant"] is not None:
            by_variant[cell["variant"]].append(cell)
    return by_variant


def _control(spec: ExperimentSpec, variants: Sequence[str]) -> str:
    if spec.control is not None:
        return spec.control
    if "control" in variants:
        return "control"
    return next(iter(spec.weights)) if spec.weights else variants[0]


def infer(spec: ExperimentSpec, cells: Sequence[Cell]) -> ExperimentResult:
    """The :class:`ExperimentResult` of the engine's ``cells`` (rows of
    ``experiment_statistics``).

    Returns:
        The result; see :func:`journeylens.analysis.experiment.experiment`.
    """
    warnings: list[AnalysisWarning] = []
    excluded = sum(int(c["n"]) for c in cells if c["variant"] is None)
    if excluded:
        warnings.append(
            AnalysisWarning(
                "MIXED_EXPOSURE",
                f"{excluded} persons saw more than one variant and are left out of every arm.",
            )
        )
    by_variant = _arm_totals(cells)
    labels = [m.label for m in spec.metrics]
    if not by_variant:
        warnings.append(AnalysisWarning("NO_EXPOSURES", "Nobody was exposed to the experiment."))
        return _result(spec, None, (), [], (), None, excluded, [], warnings)
    variants = sorted(by_variant)
    control = _control(spec, variants)
    ordered = ([control] if control in by_variant else []) + [v for v in variants if v != control]
    periods = sorted({c["period"] for cs in by_variant.values() for c in cs})
    # Statistics add: the per-period sums give both the totals and the cumulative timeline.
    running: dict[tuple[str, int], Statistic] = {}
    timeline_stats: list[tuple[Any, dict[tuple[str, int], Statistic]]] = []
    for period in periods:
        for variant in ordered:
            for cell in (c for c in by_variant[variant] if c["period"] == period):
                for i in range(len(spec.metrics)):
                    stat = _statistic(spec, i, cell)
                    key = (variant, i)
                    running[key] = running[key] + stat if key in running else stat
        timeline_stats.append((period, dict(running)))
    persons = {v: sum(int(c["n"]) for c in by_variant[v]) for v in ordered}

    rows: list[ExperimentRow] = []
    comparisons: list[tuple[int, Comparison]] = []
    if control not in by_variant:
        warnings.append(
            AnalysisWarning("NO_CONTROL", f"Nobody was exposed to the control {control!r}.")
        )
    elif len(ordered) == 1:
        warnings.append(AnalysisWarning("ONE_VARIANT", "Only the control variant was seen."))
    for i, label in enumerate(labels):
        for variant in ordered:
            stat = running.get((variant, i))
            mean = stat.mean if stat is not None else float("nan")
            if variant == control or control not in by_variant:
                rows.append(
                    ExperimentRow(label, variant, variant == control, persons[variant], mean)
                )
                continue
            comparison = _compare(spec, running[(control, i)], running[(variant, i)])
            comparisons.append((len(rows), comparison))
            rows.append(_row(label, variant, persons[variant], mean, comparison))
    rows = _corrected(spec, rows, comparisons, warnings)
    overall = []
    for i, label in enumerate(labels):
        pooled = [running[(v, i)] for v in ordered]
        total = pooled[0]
        for stat in pooled[1:]:
            total = total + stat
        overall.append({"metric": label, "persons": total.n, "mean": total.mean})
    check = _srm(spec, persons, warnings)
    timeline = _timeline(spec, labels, control, ordered, timeline_stats)
    return _result(spec, control, ordered, rows, overall, check, excluded, timeline, warnings)


def _row(label: str, variant: str, persons: int, mean: float, c: Comparison) -> ExperimentRow:
    return ExperimentRow(
        metric=label,
        variant=variant,
        is_control=False,
        persons=persons,
        mean=mean,
        lift=c.lift,
        lift_low=c.lift_interval[0],
        lift_high=c.lift_interval[1],
        difference=c.difference,
        difference_low=c.difference_interval[0],
        difference_high=c.difference_interval[1],
        chance_to_win=c.chance_to_win,
        risk=c.risk,
        p_value=c.p_value,
        significant=c.significant,
        degenerate=c.degenerate,
    )


def _corrected(
    spec: ExperimentSpec,
    rows: list[ExperimentRow],
    comparisons: list[tuple[int, Comparison]],
    warnings: list[AnalysisWarning],
) -> list[ExperimentRow]:
    """Rows with adjusted p-values; significance becomes adjusted p < alpha (not bayesian)."""
    degenerate = sorted({c.degenerate for _, c in comparisons if c.degenerate})
    if degenerate:
        warnings.append(
            AnalysisWarning(
                "DEGENERATE",
                "Some comparisons have no numbers: " + ", ".join(degenerate) + ".",
            )
        )
    if spec.method.name == "bayesian" or not comparisons:
        return rows
    adjusted = adjust_p_values([c.p_value for _, c in comparisons], spec.correction)
    out = list(rows)
    for (index, _), p in zip(comparisons, adjusted, strict=True):
        row = out[index]
        out[index] = ExperimentRow(
            **{**row.__dict__, "adjusted_p_value": p, "significant": bool(p < spec.alpha)}
        )
    return out


def _srm(spec: ExperimentSpec, persons: Mapping[str, int], warnings: list[AnalysisWarning]) -> Any:
    planned = list(spec.weights) if spec.weights else list(persons)
    unplanned = sorted(set(persons) - set(planned))
    if unplanned:
        warnings.append(
            AnalysisWarning(
                "UNPLANNED_VARIANT",
                f"Variants without a weight are left out of the SRM check: {unplanned}.",
            )
        )
    if len(planned) < 2:
        return None
    weights = [spec.weights[v] for v in planned] if spec.weights else None
    check = srm([persons.get(v, 0) for v in planned], weights, threshold=spec.srm_threshold)
    if check.mismatch:
        warnings.append(
            AnalysisWarning(
                "SAMPLE_RATIO_MISMATCH",
                f"Persons per variant {check.observed} differ from the planned split "
                f"(p = {check.p_value:.2g}): assignment or exposure logging may be broken; "
                "do not trust the comparisons.",
            )
        )
    return check


def _timeline(
    spec: ExperimentSpec,
    labels: Sequence[str],
    control: str,
    ordered: Sequence[str],
    snapshots: Sequence[tuple[Any, Mapping[tuple[str, int], Statistic]]],
) -> list[LiftPoint]:
    points = []
    for period, stats in snapshots:
        for i, label in enumerate(labels):
            if (control, i) not in stats:
                continue
            for variant in ordered:
                if variant == control or (variant, i) not in stats:
                    continue
                c = _compare(spec, stats[(control, i)], stats[(variant, i)])
                points.append(
                    LiftPoint(
                        period,
                        label,
                        variant,
                        stats[(variant, i)].n,
                        c.lift,
                        c.lift_interval[0],
                        c.lift_interval[1],
                    )
                )
    return points


def _result(
    spec: ExperimentSpec,
    control: str | None,
    variants: Sequence[str],
    rows: Sequence[ExperimentRow],
    overall: Sequence[dict[str, Any]],
    check: Any,
    excluded: int,
    timeline: Sequence[LiftPoint],
    warnings: Sequence[AnalysisWarning],
) -> ExperimentResult:
    return ExperimentResult(
        experiment_id=spec.experiment_id,
        method=spec.method.name,
        alpha=spec.alpha,
        correction=spec.correction,
        control=control,
        variants=tuple(variants),
        rows=tuple(rows),
        overall=tuple(overall),
        srm=check,
        excluded_persons=excluded,
        timeline=tuple(timeline),
        warnings=tuple(warnings),
    )
