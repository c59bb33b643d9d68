"""The dashboard: server-rendered pages over the workspace, with plotly.js charts.

``router`` is included by ``journeylens.api.app.create_app``, which also enters ``lifespan``
(it makes the page cache); the routes use ``app.state.workspace``, ``app.state.lock`` and
``app.state.keys`` (see ``journeylens.api.state``). Pages are listed in
``journeylens.web.pages.PAGES``; ``journeylens.web.access`` says how a browser holds its key.
"""

from journeylens.web.routes import lifespan, router

__all__ = ["lifespan", "router"]
