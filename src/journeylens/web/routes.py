"""The dashboard's routes: one HTML page per entry of ``PAGES``, its tables as CSV, the customer
profile, the segment builder, the integrated report (``/report``, ``journeylens.web.report``),
sign-in, and the static files (plotly.js from the installed plotly package: no CDN, no node
build).

Every route runs the workspace work under ``app.state.lock`` and keeps computed pages in the
app's ``web_cache`` (see ``journeylens.web.cache``), made by :func:`lifespan`, which also starts
the page warmer (``journeylens.web.warm``) when the app was made with ``warm=True``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from journeylens.api.errors import ForbiddenError
from journeylens.api.keys import KEY_COOKIE
from journeylens.errors import JourneyLensError, UnknownNameError
from journeylens.schema import CHANNELS
from journeylens.web import (  # noqa: F401  (they add their pages)
    analysis_pages,
    driver_pages,
    experiment_pages,
    journey_pages,
    people_pages,
    voice_pages,
)
from journeylens.web.access import Visitor, key_from, remember_key, visitor
from journeylens.web.cache import ResultCache
from journeylens.web.pages import PAGES, Page
from journeylens.web.profile import journal, profile
from journeylens.web.report import build_report
from journeylens.web.scope import Filters, Scope
from journeylens.web.templating import ENVIRONMENT, STATIC
from journeylens.web.views import View, csv_text
from journeylens.web.warm import Warmer

__all__ = ["lifespan", "router"]

_CACHE_ENTRIES = 256

templates = Jinja2Templates(env=ENVIRONMENT)

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


# ------------------------------------------------------------------------------ plumbing


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Give the app its page cache (``app.state.web_cache``) and, when ``app.state.warm`` is
    set (``create_app(warm=True)``), start the page warmer (``app.state.warmer``, else None);
    ``create_app`` enters this after the workspace is open. ``app.state.warm_every`` (seconds,
    default 30) spaces the warmer's passes."""
    state = app.state
    state.web_cache = ResultCache(_CACHE_ENTRIES)
    state.warmer = None
    if getattr(state, "warm", False):
        every = getattr(state, "warm_every", 30.0)
        state.warmer = Warmer(state.workspace, state.lock, state.web_cache, every=every)
        state.warmer.start()
    try:
        yield
    finally:
        if state.warmer is not None:
            await run_in_threadpool(state.warmer.stop)


def _cache(request: Request) -> ResultCache:
    return request.app.state.web_cache


def _gate(request: Request) -> Visitor | Response:
    """The visitor if their key may read; else the sign-in page (401/403), or a redirect that
    moves a ``?key=`` into the cookie."""
    key, source = key_from(request)
    who = visitor(request, key, source)
    if not who.can_read:
        status = 401 if who.role is None else 403
        problem = None if key is None else _refusal(who)
        return _login(request, problem, status)
    if source == "query" and key is not None:
        response = RedirectResponse(str(request.url.remove_query_params("key")), 303)
        remember_key(response, key, secure=request.url.scheme == "https")
        return response
    return who


def _refusal(who: Visitor) -> str:
    if who.role is None:
        return "That key is not valid: unknown, malformed or revoked."
    return f"A {who.role} key cannot open the dashboard; use a read or admin key."


def _login(request: Request, problem: str | None, status: int) -> HTMLResponse:
    back = request.url.remove_query_params("key")
    target = back.path + (f"?{back.query}" if back.query else "")
    if request.method != "GET":
        target = "/"
    return templates.TemplateResponse(
        request, "login.html", {"problem": problem, "next": target}, status_code=status
    )


def _context(
    request: Request, who: Visitor, filters: Filters | None, **extra: Any
) -> dict[str, Any]:
    return {
        "pages": list(PAGES.values()),
        "who": who,
        "filters": filters or Filters(),
        "channels": CHANNELS,
        "path": request.url.path,
        "filter_query": urlencode((filters or Filters()).query()),
        **extra,
    }


def _failure(
    request: Request, who: Visitor, exc: JourneyLensError, filters: Filters | None, **extra: Any
) -> HTMLResponse:
    context = _context(request, who, filters, error=exc, **extra)
    return templates.TemplateResponse(request, "error.html", context, status_code=exc.status)


def _view(request: Request, page: Page, filters: Filters, params: dict) -> tuple[View, dict]:
    """The page's view from the cache or computed, and what the form needs (event names,
    saved segments)."""
    state = request.app.state
    with state.lock:
        scope = Scope(state.workspace, _cache(request), filters)
        view = page.view(scope, params)
        extra = {
            "event_names": scope.event_names(),
            "segments": [s["name"] for s in state.workspace.segments()],
        }
    return view, extra


# --------------------------------------------------------------------------------- pages


def _computed(
    request: Request, page: Page, *, table: str | None = None
) -> Response | tuple[Visitor, Filters, dict, View, dict]:
    """Check the key, read the filters and parameters, compute the page (and check that it has
    ``table``): ``(visitor, filters, params, view, extra)``, or the response to send instead."""
    who = _gate(request)
    if isinstance(who, Response):
        return who
    filters = None
    try:
        filters = Filters.parse(request.query_params)
        params = page.read(request.query_params)
        view, extra = _view(request, page, filters, params)
        if table is not None and view.table(table) is None:
            raise UnknownNameError("table", table, [t.name for t in view.tables])
    except JourneyLensError as exc:
        return _failure(request, who, exc, filters, page=page)
    return who, filters, params, view, extra


def _page_route(page: Page):
    def show(request: Request) -> Response:
        shown = _computed(request, page)
        if isinstance(shown, Response):
            return shown
        who, filters, params, view, extra = shown
        query = urlencode(
            [*filters.query().items(), *_param_items(params)],
        )
        context = _context(
            request, who, filters, page=page, params=params, view=view, query=query, **extra
        )
        return templates.TemplateResponse(request, "page.html", context)

    show.__name__ = f"page_{page.slug or 'overview'}"
    return show


def _csv_route(page: Page):
    def download(request: Request, table: str) -> Response:
        shown = _computed(request, page, table=table)
        if isinstance(shown, Response):
            return shown
        found = shown[3].table(table)
        name = f"{page.slug or 'overview'}-{table}.csv"
        return Response(
            csv_text(found.frame),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    download.__name__ = f"csv_{page.slug or 'overview'}"
    return download


def _param_items(params: dict) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, value in params.items():
        values = value if isinstance(value, tuple) else (value,)
        items += [(name, v) for v in values]
    return items


for _page in PAGES.values():
    router.add_api_route(_page.path, _page_route(_page), methods=["GET"])
    router.add_api_route(
        f"/csv/{_page.slug or 'overview'}/{{table}}", _csv_route(_page), methods=["GET"]
    )


def _scoped(request: Request, work: Callable[[Scope], T]) -> Response | tuple[Visitor, Filters, T]:
    """Check the key, read the filters and run ``work`` on the filtered workspace under its
    lock: ``(visitor, filters, result)``, or the response to send instead (sign-in, or the
    error page for a journeylens error)."""
    who = _gate(request)
    if isinstance(who, Response):
        return who
    filters = None
    try:
        filters = Filters.parse(request.query_params)
        state = request.app.state
        with state.lock:
            result = work(Scope(state.workspace, _cache(request), filters))
    except JourneyLensError as exc:
        return _failure(request, who, exc, filters)
    return who, filters, result


# ---------------------------------------------------------------------------- customer 360


@router.get("/persons/{person_id}")
def person_page(request: Request, person_id: str, cursor: str | None = None) -> Response:
    """The 360° profile of one customer; ``cursor`` pages to older journal entries."""

    def work(scope: Scope) -> tuple[dict[str, Any], list[str]]:
        segments = [s["name"] for s in scope.workspace.segments()]
        return profile(scope, person_id, cursor or None), segments

    done = _scoped(request, work)
    if isinstance(done, Response):
        return done
    who, filters, (shown, segments) = done
    context = _context(request, who, filters, profile=shown, segments=segments)
    return templates.TemplateResponse(request, "person.html", context)


@router.get("/persons/{person_id}/timeline.csv")
def person_timeline_csv(request: Request, person_id: str) -> Response:
    """The customer's whole journal (inside the filters) as CSV."""
    done = _scoped(request, lambda scope: journal(scope, person_id))
    if isinstance(done, Response):
        return done
    return Response(
        csv_text(done[2]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="journal.csv"'},
    )


# ------------------------------------------------------------------------------ report


@router.get("/report")
def report(request: Request) -> Response:
    """The integrated report (``journeylens.web.report``) inside the filters, as a download."""

    def work(scope: Scope) -> str:
        return build_report(scope.workspace, filters=scope.filters, cache=scope.cache)

    done = _scoped(request, work)
    if isinstance(done, Response):
        return done
    return HTMLResponse(
        done[2], headers={"Content-Disposition": 'attachment; filename="journeylens-report.html"'}
    )


# ---------------------------------------------------------------------------- segments


@router.post("/segments")
def save_segment(
    request: Request,
    name: Annotated[str, Form()],
    event: Annotated[str, Form()],
    operator: Annotated[str, Form()] = "gte",
    count: Annotated[str, Form()] = "1",
    within: Annotated[str, Form()] = "",
    did: Annotated[str, Form()] = "did",
) -> Response:
    """Save a rule segment from the builder form (admin keys only)."""
    who = _gate(request)
    if isinstance(who, Response):
        return who
    if not who.can_change:
        refusal = ForbiddenError(
            f"A {who.role} key cannot save segments",
            received=who.role,
            allowed="admin",
            fix="Sign in with an admin key to change segments",
        )
        return _failure(request, who, refusal, None, page=PAGES["segments"])
    rule: dict[str, Any] = {
        "kind": "event",
        "event": event,
        "operator": operator,
        "count": count,
        "did": did == "did",
    }
    if within.strip():
        rule["within"] = within.strip()
    try:
        with request.app.state.lock:
            request.app.state.workspace.save_segment(name, {"rule": rule})
    except JourneyLensError as exc:
        return _failure(request, who, exc, None, page=PAGES["segments"])
    return RedirectResponse("/segments?" + urlencode({"show": name}), 303)


# ----------------------------------------------------------------------- sign-in, static


@router.post("/login")
def login(
    request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    """Check the pasted key; a good one goes into the cookie and back to ``next``."""
    who = visitor(request, key.strip(), "form")
    if not who.can_read:
        return _login(request, _refusal(who), 401 if who.role is None else 403)
    # Only a path on this site: never an open redirect to another host.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, 303)
    remember_key(response, key.strip(), secure=request.url.scheme == "https")
    return response


@router.get("/logout")
def logout() -> Response:
    """Forget the key in this browser."""
    response = RedirectResponse("/", 303)
    response.delete_cookie(KEY_COOKIE, path="/")
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    """plotly.js (from the installed plotly package), the dashboard's script and styles."""
    if name not in STATIC:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC[name], headers={"Cache-Control": "public, max-age=86400"})
