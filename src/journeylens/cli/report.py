"""``journeylens report``: the integrated report of a workspace as one offline HTML file, and
optionally a PDF of it (see ``journeylens.web.report``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["report"]

_err = Console(stderr=True)


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="Workspace folder (must exist).")
    ] = Path("jl-data"),
    date_from: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC).")
    ] = None,
    date_to: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC).")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    segment: Annotated[str | None, typer.Option(help="Only the members of this segment.")] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print it to PDF (next to --out; needs chromium).")
    ] = False,
) -> None:
    """Write the main analyses (overview, funnel, journey map, stages, retention, attribution,
    segments, RFM, heatmap, predictions) with charts and tables into one self-contained HTML
    file, viewable offline."""
    # The shared error handling lives in main, which imports this module to register it.
    from journeylens.cli.main import _errors, _open_existing
    from journeylens.web.report import build_report, check_writable, pdf_engine, print_pdf
    from journeylens.web.scope import Filters

    with _errors():
        check_writable(out)
        query = {
            "date_from": date_from.date().isoformat() if date_from else "",
            "date_to": date_to.date().isoformat() if date_to else "",
            "channel": channel or "",
            "segment": segment or "",
        }
        filters = Filters.parse(query)
        # A missing PDF engine is said before the minutes of computing the report.
        engine = pdf_engine() if pdf else None
        with _open_existing(workspace) as ws:
            html = build_report(ws, filters=filters)
        out.write_text(html, encoding="utf-8")
        _err.print(f"Report: {out} ({len(html) / 1e6:.1f} MB)")
        if pdf:
            done = print_pdf(out, out.with_suffix(".pdf"), browser=engine)
            _err.print(f"PDF: {done}")
