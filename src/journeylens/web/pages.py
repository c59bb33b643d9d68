"""What a dashboard page is: its address, its parameters and how it computes its :class:`View`.

Each page module adds its pages with :func:`page`; the routes read :data:`PAGES`. A page's
``compute(scope, params)`` runs with the workspace lock held and its result is cached under
(page, parameters, filters, data version), so it must depend on nothing else (or the page says
``cached=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import QueryParams

from journeylens.analysis.base import Spec
from journeylens.analysis.registry import validate_spec
from journeylens.web.scope import Scope
from journeylens.web.views import View

__all__ = ["PAGES", "Page", "Param", "Params", "page", "spec_of"]

#: ``event``: one event name (with suggestions); ``events``: several, in order (funnel steps);
#: ``select``: one of ``options``; ``choice``: one of the values the computed page offers
#: (``View.choices``: saved segments, scored models); ``textarea``: text over several lines.
ParamKind = Literal["text", "event", "events", "select", "choice", "number", "textarea"]


@dataclass(frozen=True)
class Param:
    """One field of a page's form; ``default`` is used when the address does not give it."""

    name: str
    label: str
    default: str | tuple[str, ...] = ""
    kind: ParamKind = "text"
    options: tuple[str, ...] = ()
    hint: str = ""


#: A page's parameter values: text, or a tuple of texts for ``events`` fields.
Params = Mapping[str, str | tuple[str, ...]]


@dataclass(frozen=True)
class Page:
    """One dashboard page.

    Attributes:
        slug: its address (``/{slug}``; the overview is ``""``) and its name in cache keys.
        title: the menu and heading text.
        summary: one sentence under the heading.
        params: its form fields, besides the filters every page has.
        compute: ``compute(scope, params) -> View``.
        cached: whether its view is kept per data version. Pages that read what changes
            without new data (saved segments, stored predictions) are not: they are cheap
            reads, and the slow part, segment members, has its own cache entries.
    """

    slug: str
    title: str
    summary: str
    params: tuple[Param, ...]
    compute: Callable[[Scope, Params], View]
    cached: bool = True

    @property
    def path(self) -> str:
        return f"/{self.slug}"

    def defaults(self) -> dict[str, str | tuple[str, ...]]:
        """Every parameter at its default: the page as its menu link opens it."""
        return {param.name: param.default for param in self.params}

    def view(self, scope: Scope, params: Params) -> View:
        """The page's view for ``params`` through ``scope``'s filters, from ``scope.cache``
        when it was computed before over the same data (the caller holds the workspace lock).

        Returns:
            The :class:`View`; pages with ``cached=False`` are computed on every call.
        """
        if not self.cached:
            return self.compute(scope, params)
        key = ("page", self.slug, tuple(sorted(params.items())), scope.filters, scope.version())
        return scope.cache.get_or_compute(key, lambda: self.compute(scope, params))

    def read(self, query: QueryParams) -> dict[str, str | tuple[str, ...]]:
        """This page's parameter values from the address: defaults where absent; for
        ``events`` fields the non-empty values in order.

        Returns:
            ``{name: value}`` for every parameter.
        """
        values: dict[str, str | tuple[str, ...]] = {}
        for param in self.params:
            if param.kind == "events":
                given = tuple(v.strip() for v in query.getlist(param.name) if v.strip())
                values[param.name] = given if param.name in query else param.default
            else:
                raw = query.get(param.name)
                values[param.name] = raw.strip() if raw is not None else param.default
        return values


#: Every page, in menu order.
PAGES: dict[str, Page] = {}


def page(new: Page) -> Page:
    """Add a page to :data:`PAGES` (a module's pages are added when it is imported)."""
    PAGES[new.slug] = new
    return new


def spec_of(cls: type[Spec], values: Mapping[str, Any], *, label: str) -> Any:
    """Validate a page's spec; blanks are left out so the spec's defaults apply.

    Returns:
        The ``cls`` instance; a bad value raises ``SpecError`` naming the field.
    """
    given = {k: v for k, v in values.items() if v not in ("", None, ())}
    return validate_spec(cls, given, label=label)
