"""The registry of analyses: built-ins and plugins enter it the same way, and the CLI, the API
and the dashboard read it, so a new analysis is one module and one ``register`` line.

Plugins are Python packages exposing an entry point in the ``journeylens.analyses`` group whose
object is an :class:`Analysis`; they are loaded the first time the registry is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

import ibis
import pydantic

from journeylens.analysis.base import Result, Spec
from journeylens.errors import SpecError, UnknownNameError, ValidationError

__all__ = [
    "Analysis",
    "analyses",
    "get_analysis",
    "parse_spec",
    "register",
    "run_analysis",
    "validate_spec",
]

_ENTRY_POINT_GROUP = "journeylens.analyses"

S = TypeVar("S", bound=Spec)


@dataclass(frozen=True)
class Analysis:
    """One registered analysis.

    Attributes:
        name: the name used by the CLI (``journeylens analyze <name>``), the API path and the
            dashboard; lower snake case.
        spec: the frozen spec class; its JSON schema documents the fields.
        run: the pure function ``run(events, spec) -> Result``.
        title: a short human title ("Funnel").
        summary: one sentence saying what question it answers.
        example: a small valid spec as JSON values, shown by ``--example`` and the API docs and
            run by the contract tests (on the simulator's data and on an empty table).
    """

    name: str
    spec: type[Spec]
    run: Callable[[ibis.Table, Any], Result]
    title: str
    summary: str
    example: Mapping[str, Any]


_REGISTRY: dict[str, Analysis] = {}
_plugins_loaded = False


def register(analysis: Analysis) -> Analysis:
    """Add an analysis; a second one under a taken name is refused. Returns ``analysis``."""
    if analysis.name in _REGISTRY and _REGISTRY[analysis.name] is not analysis:
        raise ValidationError(
            f"An analysis named {analysis.name!r} is already registered",
            received=analysis.name,
            fix="Give the new analysis a name of its own",
        )
    _REGISTRY[analysis.name] = analysis
    return analysis


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=_ENTRY_POINT_GROUP):
        register(point.load())


def analyses() -> tuple[Analysis, ...]:
    """Every registered analysis, built-ins first in the order they were registered."""
    _load_plugins()
    return tuple(_REGISTRY.values())


def get_analysis(name: str) -> Analysis:
    """The analysis registered under ``name``; an unknown name says which ones exist."""
    _load_plugins()
    if name not in _REGISTRY:
        raise UnknownNameError("analysis", name, _REGISTRY)
    return _REGISTRY[name]


def parse_spec(analysis: str, spec: Spec | Mapping[str, Any] | str) -> Spec:
    """Validate a spec for the analysis ``analysis`` given as an instance, a mapping (an API
    body) or JSON text (a file).

    Returns:
        The analysis's spec instance (see ``validate_spec`` for how problems are reported).
    """
    return validate_spec(get_analysis(analysis).spec, spec, label=analysis)


def validate_spec(cls: type[S], spec: Spec | Mapping[str, Any] | str, *, label: str) -> S:
    """Validate ``spec`` as a ``cls``; ``label`` names the analysis in error messages.

    Returns:
        The ``cls`` instance. Every problem is reported at once as a ``SpecError`` whose
        ``errors`` name the field path, the problem and the value received.
    """
    if isinstance(spec, cls):
        return spec
    if isinstance(spec, Spec):
        raise SpecError(label, [_problem((), f"expected a {cls.__name__}", type(spec).__name__)])
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise SpecError(label, [_problem((), f"not valid JSON ({exc})", spec)]) from exc
    if not isinstance(spec, Mapping):
        raise SpecError(label, [_problem((), "must be a JSON object", spec)])
    try:
        return cls.model_validate(dict(spec))
    except pydantic.ValidationError as exc:
        problems = [_problem(e["loc"], e["msg"], e.get("input")) for e in exc.errors()]
        raise SpecError(label, problems) from exc


def run_analysis(name: str, events: ibis.Table, spec: Spec | Mapping[str, Any] | str) -> Result:
    """Run the analysis ``name`` over ``events`` with a spec in any form ``parse_spec`` takes."""
    return get_analysis(name).run(events, parse_spec(name, spec))


def _problem(loc: tuple[Any, ...], message: str, received: Any) -> dict[str, Any]:
    text = repr(received)
    return {
        "field": ".".join(str(part) for part in loc),
        "problem": message.removeprefix("Value error, "),
        "received": text if len(text) <= 200 else text[:199] + "…",
    }
