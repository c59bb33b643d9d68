"""The dashboard's Jinja2 templates and static files, shared by the pages and the report.

Autoescaping is on for every ``.html`` template: event names, properties and traits are
user-supplied and must show as text, never run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import jinja2
import plotly

from journeylens.web.views import cell_text, reasons_text

__all__ = ["ENVIRONMENT", "STATIC"]

_HERE = Path(__file__).parent

#: The files the dashboard serves under ``/static/`` (plotly.js from the installed plotly
#: package: no CDN, no node build) and the report inlines.
STATIC: Final = {
    "plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
    "app.js": _HERE / "static" / "app.js",
    "app.css": _HERE / "static" / "app.css",
}

ENVIRONMENT: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)
ENVIRONMENT.filters["cell"] = cell_text
ENVIRONMENT.filters["reasons"] = reasons_text
