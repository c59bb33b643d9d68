"""Experiment assignment: deterministic, weighted, sticky, and recorded as an exposure event.

A unit (a person's user id, or a device's anonymous id before login) is hashed with the
experiment's salt: the first 53 bits of sha256(``salt`` + ":" + ``unit_id``) divided by 2⁵³ give
a number uniform in [0, 1), which falls into one variant's share of the cumulative weights. The
same unit always gets the same variant — across sessions, servers and restarts — with no state
to store; changing the salt reshuffles everyone (use it to re-run an experiment cleanly).

Stickiness across login: hash the id the unit keeps. With ``unit="device"`` the anonymous id is
hashed even after login, so a device keeps its arm; with ``unit="person"`` the user id is hashed
when known and the anonymous id before, so a person keeps one arm on every device from login on
(the analysis leaves out persons who saw two arms).

Multivariate designs cross several factors. ``design="full"`` runs every combination of levels.
``design="fractional"`` runs a 2^(k−p) fraction of k two-level factors: the factors named on the
left of a generator (``"C=AB"``) are not free; with levels coded −1 (first level) and +1
(second), the generated factor's level is the product of the named factors' codes, so C is
aliased with the AB interaction (resolution III for 2^(3−1) with C=AB). Every run is equally
likely and each run is a variant named ``"A=a1,B=b0,…"``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from journeylens.errors import ValidationError

__all__ = [
    "Assignment",
    "ExperimentDesign",
    "Factor",
    "VariantWeight",
    "assign",
    "exposure_message",
    "unit_hash",
]

#: The Segment track event that records an exposure (what ``jl.experiment`` reads by default).
EXPOSURE_EVENT = "Experiment Viewed"
_FRACTION_BITS = 53  # a double holds 53 bits exactly: the quotient is < 1 and evenly spaced


class VariantWeight(BaseModel):
    """One arm and its planned share (weights need not sum to 1; they are normalised)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)


class Factor(BaseModel):
    """One factor of a multivariate design: a short ``name`` and its ``levels``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    levels: tuple[str, ...] = Field(min_length=2)


class ExperimentDesign(BaseModel):
    """An experiment to assign: ``variants`` (A/B/n) or ``factors`` (multivariate).

    >>> d = ExperimentDesign(experiment_id="hero", variants=[{"name": "control"},
    ...     {"name": "big", "weight": 3}])
    >>> d.arms()
    (('control', 0.25), ('big', 0.75))
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str = Field(min_length=1, max_length=200)
    salt: str | None = Field(None, description="Hash salt; defaults to the experiment id")
    unit: Literal["device", "person"] = "device"
    variants: tuple[VariantWeight, ...] = ()
    factors: tuple[Factor, ...] = ()
    design: Literal["full", "fractional"] = "full"
    generators: tuple[str, ...] = Field(
        (), description='Fractional designs: e.g. "C=AB" (C is the product of A and B)'
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if bool(self.variants) == bool(self.factors):
            raise ValueError("give either variants (A/B/n) or factors (multivariate), not both")
        if self.variants:
            names = [v.name for v in self.variants]
            if len(names) < 2 or len(set(names)) != len(names):
                raise ValueError("variants need at least two distinct names")
            if self.design != "full" or self.generators:
                raise ValueError("design and generators apply to factors only")
        else:
            self.runs()  # validates the factors and generators
        return self

    def arms(self) -> tuple[tuple[str, float], ...]:
        """The variants with their normalised shares.

        Returns:
            ``((name, share), …)`` in order; shares sum to 1. Multivariate runs are named
            ``"A=a1,B=b0"`` and share equally.
        """
        if self.variants:
            total = math.fsum(v.weight for v in self.variants)
            return tuple((v.name, v.weight / total) for v in self.variants)
        runs = self.runs()
        return tuple((_run_name(run), 1 / len(runs)) for run in runs)

    def runs(self) -> list[dict[str, str]]:
        """The factor-level combinations that are run, each ``{factor: level}``."""
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names) or {"experiment_id", "variant"} & set(names):
            raise ValueError("factor names must differ, and not be experiment_id or variant")
        if self.design == "full":
            if self.generators:
                raise ValueError("generators apply to fractional designs only")
            levels = [f.levels for f in self.factors]
            return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*levels)]
        return _fractional_runs(self.factors, self.generators)


def _run_name(run: dict[str, str]) -> str:
    return ",".join(f"{factor}={level}" for factor, level in run.items())


def _fractional_runs(factors: tuple[Factor, ...], generators: tuple[str, ...]) -> list[dict]:
    by_name = {f.name: f for f in factors}
    if any(len(f.levels) != 2 for f in factors):
        raise ValueError("a fractional factorial needs two levels per factor")
    if not generators:
        raise ValueError('a fractional design needs generators such as "C=AB"')
    rules: dict[str, list[str]] = {}
    for text in generators:
        left, _, right = text.replace(" ", "").partition("=")
        word = _factor_word(right, by_name)
        if left not in by_name or left in rules or not word or left in word:
            raise ValueError(
                f"generator {text!r} must read NEW=ABC… with distinct factor names, each "
                "generated factor once and not on its own right-hand side"
            )
        rules[left] = word
    base = [name for name in by_name if name not in rules]
    if any(w not in base for word in rules.values() for w in word):
        raise ValueError("a generator's right-hand side may name only free factors")
    runs = []
    for signs in itertools.product((-1, 1), repeat=len(base)):
        code = dict(zip(base, signs, strict=True))
        for left, word in rules.items():
            code[left] = math.prod(code[w] for w in word)
        runs.append({name: by_name[name].levels[(code[name] + 1) // 2] for name in by_name})
    return runs


def _factor_word(text: str, by_name: dict[str, Factor]) -> list[str]:
    """Split a generator's right-hand side into factor names (longest names first)."""
    names = sorted(by_name, key=len, reverse=True)
    word, rest = [], text
    while rest:
        name = next((n for n in names if rest.startswith(n)), None)
        if name is None:
            return []
        word.append(name)
        rest = rest[len(name) :]
    return word if len(set(word)) == len(word) else []


def unit_hash(salt: str, unit_id: str) -> float:
    """A number uniform in [0, 1) fixed by ``salt`` and ``unit_id``.

    Returns:
        The first 53 bits of sha256(``salt:unit_id``) ÷ 2⁵³.

    >>> unit_hash("exp", "user-1") == unit_hash("exp", "user-1")
    True
    """
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - _FRACTION_BITS)) / 2**_FRACTION_BITS


class Assignment(BaseModel):
    """A unit's arm: ``experiment_id``, ``unit_id`` (the id hashed), ``variant`` and, for
    multivariate designs, ``factors`` ({factor: level})."""

    model_config = ConfigDict(frozen=True)

    experiment_id: str
    unit_id: str
    variant: str
    factors: dict[str, str] = Field(default_factory=dict)


def assign(
    design: ExperimentDesign, *, user_id: str | None = None, anonymous_id: str | None = None
) -> Assignment:
    """The variant of a unit: ``anonymous_id`` for ``unit="device"`` designs, ``user_id`` (or
    ``anonymous_id`` before login) for ``unit="person"``.

    Returns:
        An :class:`Assignment`; the same ids always give the same variant.

    >>> d = ExperimentDesign(experiment_id="hero", variants=[{"name": "a"}, {"name": "b"}])
    >>> assign(d, anonymous_id="dev-1").variant == assign(d, anonymous_id="dev-1").variant
    True
    """
    unit = anonymous_id if design.unit == "device" else (user_id or anonymous_id)
    if not unit:
        needed = "anonymous_id" if design.unit == "device" else "user_id or anonymous_id"
        raise ValidationError(
            f"Assignment needs an id to hash: {needed}",
            received={"user_id": user_id, "anonymous_id": anonymous_id},
            fix=f"Send the {needed} of the unit being assigned",
        )
    point = unit_hash(design.salt or design.experiment_id, unit)
    arms = design.arms()
    chosen, edge = arms[-1][0], 0.0
    for name, share in arms:
        edge += share
        if point < edge:
            chosen = name
            break
    factors = {}
    if design.factors:
        factors = dict(part.split("=", 1) for part in chosen.split(","))
    return Assignment(
        experiment_id=design.experiment_id, unit_id=unit, variant=chosen, factors=factors
    )


def exposure_message(
    assignment: Assignment,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    timestamp: datetime,
) -> dict[str, Any]:
    """The Segment track message recording that a unit saw its variant, for ``ws.ingest``.

    Returns:
        ``{"type": "track", "event": "Experiment Viewed", "userId", "anonymousId",
        "timestamp" (ISO-8601 UTC), "messageId", "properties": {"experiment_id", "variant",
        plus one key per factor}}``. The message id is fixed by (experiment, unit, timestamp),
        so recording the same exposure twice stores it once.

    >>> a = Assignment(experiment_id="hero", unit_id="d1", variant="b")
    >>> m = exposure_message(a, anonymous_id="d1", timestamp=datetime(2024, 5, 1, tzinfo=UTC))
    >>> m["event"], m["properties"], m["timestamp"]
    ('Experiment Viewed', {'experiment_id': 'hero', 'variant': 'b'}, '2024-05-01T00:00:00+00:00')
    """
    if timestamp.tzinfo is None:
        raise ValidationError(
            "The exposure timestamp needs a time zone", received=timestamp.isoformat()
        )
    if not (user_id or anonymous_id):
        raise ValidationError("An exposure needs a userId or an anonymousId")
    when = timestamp.astimezone(UTC).isoformat()
    key = f"{assignment.experiment_id}\n{assignment.unit_id}\n{when}"
    message: dict[str, Any] = {
        "type": "track",
        "event": EXPOSURE_EVENT,
        "timestamp": when,
        "messageId": f"jl-exp-{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}",
        "properties": {
            "experiment_id": assignment.experiment_id,
            "variant": assignment.variant,
            **assignment.factors,
        },
    }
    if user_id:
        message["userId"] = user_id
    if anonymous_id:
        message["anonymousId"] = anonymous_id
    return message
