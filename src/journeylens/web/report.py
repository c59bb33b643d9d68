"""The integrated report: the main analyses of a workspace in one self-contained HTML file.

Each section is a dashboard page's default view, computed by the page itself (``Page.view``,
through the same cache), so the report and the dashboard never disagree. The file carries
everything it needs inline (plotly.js from the installed plotly package, the styles, the chart
data) and loads nothing from the network, so it opens offline and can be mailed. It is
rendered with autoescaping: event names, properties and traits show as text.

``print_pdf`` prints such a file to PDF with a headless Chromium, when one is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import journeylens
from journeylens.errors import JourneyLensError, ValidationError
from journeylens.web import analysis_pages, people_pages  # noqa: F401  (they add their pages)
from journeylens.web.cache import ResultCache
from journeylens.web.pages import PAGES, Page
from journeylens.web.scope import Filters, Scope
from journeylens.web.templating import ENVIRONMENT, STATIC
from journeylens.web.views import View
from journeylens.workspace import Workspace

__all__ = [
    "REPORT_PAGES",
    "ReportSection",
    "build_report",
    "check_writable",
    "pdf_engine",
    "print_pdf",
]

#: The pages whose default view makes a section, in this order (those that exist).
REPORT_PAGES: Final = (
    "",
    "funnels",
    "journey-map",
    "stages",
    "retention",
    "attribution",
    "segments",
    "rfm",
    "heatmap",
    "predictions",
)
#: Rows of each table printed in the report (the dashboard's CSV downloads have them all).
REPORT_ROWS: Final = 25
_PDF_SECONDS: Final = 180


@dataclass(frozen=True)
class ReportSection:
    """One section: the ``page`` and its default ``view``, or the ``error`` it raised."""

    page: Page
    view: View | None
    error: str | None = None


def build_report(
    workspace: Workspace,
    *,
    filters: Filters | None = None,
    cache: ResultCache | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The report of ``workspace`` through ``filters`` as one HTML document.

    ``cache`` is a server's page cache (sections already computed there are reused); the
    caller holds the workspace lock when it shares the workspace. A section whose analysis
    fails shows the error instead of its charts; stored predictions get a section only when
    some exist.

    Returns:
        The HTML text: a header (workspace, period, filters, data version, generation time,
        events and persons), then per section its page's title, summary, KPI tiles, warnings,
        notes, charts (drawn by the inlined plotly.js) and the first ``REPORT_ROWS`` rows of
        each of its tables. An unknown segment or channel in ``filters`` raises
        ``UnknownNameError`` before anything is computed.
    """
    filters = filters or Filters()
    scope = Scope(workspace, cache or ResultCache(), filters)
    version = scope.version()  # checks the segment filter names a saved segment
    sections = [_section(PAGES[slug], scope) for slug in _slugs(workspace)]
    first, last = _span(scope)
    template = ENVIRONMENT.get_template("report.html")
    return template.render(
        sections=sections,
        workspace=str(workspace.folder) if workspace.folder is not None else "(in memory)",
        filters=filters,
        period=(filters.date_from or first, filters.date_to or last),
        data_version=version[0],
        generated_at=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        counts=_counts(scope),
        version=journeylens.__version__,
        rows=REPORT_ROWS,
        plotly_js=_inline_script(STATIC["plotly.min.js"]),
        app_js=_inline_script(STATIC["app.js"]),
        app_css=STATIC["app.css"].read_text(),
    )


def pdf_engine() -> str:
    """The program that prints PDFs: ``chromium`` on the PATH (Debian's ``chromium`` package).

    Returns:
        Its path. Raises ``JourneyLensError`` saying how to get one when there is none.
    """
    program = shutil.which("chromium")
    if program is None:
        raise JourneyLensError(
            "No PDF engine found: printing the report needs Chromium (the 'chromium' program)",
            fix="Install it (Debian/Ubuntu: sudo apt-get install chromium), or open the HTML "
            "report in a browser and print it to PDF from there",
        )
    return program


def print_pdf(html: Path, pdf: Path, *, browser: str | None = None) -> Path:
    """Print the HTML file ``html`` to ``pdf`` with a headless Chromium.

    ``browser`` is the program to run (default: :func:`pdf_engine`).

    Returns:
        ``pdf``. Raises ``JourneyLensError`` saying how to get one when no browser is found or
        printing fails.
    """
    program = browser or pdf_engine()
    with tempfile.TemporaryDirectory(prefix="jl-pdf-") as profile:
        command = [
            program,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=20000",  # let plotly draw every chart before printing
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf.resolve()}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=_PDF_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise JourneyLensError(
                f"Chromium could not print the report ({type(exc).__name__})",
                received=program,
                fix="Check that chromium starts: chromium --headless --version",
            ) from exc
    if done.returncode != 0 or not pdf.exists():
        raise JourneyLensError(
            "Chromium could not print the report",
            received=done.stderr.decode(errors="replace")[-500:],
            fix="Check that chromium starts: chromium --headless --version",
        )
    return pdf


def check_writable(path: Path) -> None:
    """Refuse an output path that cannot be written, before the report is computed.

    Raises:
        ValidationError: the folder is missing or not writable, or the path is a folder.
    """
    folder = path.parent if str(path.parent) else Path(".")
    problem = None
    if path.is_dir():
        problem = "is a folder"
    elif not folder.is_dir():
        problem = "is in a folder that does not exist"
    else:
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".jl-report-"):
                pass
        except OSError:
            problem = "is in a folder that cannot be written"
    if problem is not None:
        raise ValidationError(
            f"The report's output path {problem}",
            received=str(path),
            fix="Pass --out with a file name in a writable folder, e.g. --out report.html",
        )


def _slugs(workspace: Workspace) -> list[str]:
    slugs = [slug for slug in REPORT_PAGES if slug in PAGES]
    if "predictions" in slugs and int(workspace.predictions().count().execute()) == 0:
        slugs.remove("predictions")
    return slugs


def _section(page: Page, scope: Scope) -> ReportSection:
    try:
        return ReportSection(page, page.view(scope, page.defaults()))
    except JourneyLensError as exc:
        return ReportSection(page, None, str(exc))


def _span(scope: Scope) -> tuple[date | None, date | None]:
    """The first and last UTC day with events in the filters' scope."""
    events = scope.events()
    row = events.aggregate(first=events.timestamp.min(), last=events.timestamp.max())
    first, last = row.to_pyarrow().to_pylist()[0].values()
    return (
        None if first is None else first.astimezone(UTC).date(),
        None if last is None else last.astimezone(UTC).date(),
    )


def _counts(scope: Scope) -> dict[str, int]:
    events = scope.events()
    row = events.aggregate(events=events.count(), persons=events.person_id.nunique())
    return {k: int(v or 0) for k, v in row.to_pyarrow().to_pylist()[0].items()}


def _inline_script(path: Path) -> str:
    """A script file's text, safe inside ``<script>``: it must not close the block early."""
    text = path.read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")
