"""``journeylens surveys``: save survey definitions, list them, import a survey tool's export.

journeylens surveys create nps.json -w jl-data
journeylens surveys list -w jl-data
journeylens surveys import export.csv --survey nps_2026 -w jl-data
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["surveys_app"]

surveys_app = typer.Typer(
    help="Surveys: save definitions, list them, import exports (NPS, CSAT, choice, text).",
    no_args_is_help=True,
)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (must exist).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]


@surveys_app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="A survey as JSON: id, name, questions.")],
    workspace: WorkspaceOpt = Path("jl-data"),
    as_json: JsonOpt = False,
) -> None:
    """Save a survey (one with the same id is replaced); print its questions."""
    from journeylens.cli.main import _emit, _errors, _open_existing, _read_spec

    with _errors():
        text = _read_spec(str(file))
        with _open_existing(workspace) as ws:
            survey = ws.save_survey(text)
    _emit(survey.model_dump(mode="json"), as_json, _render_survey)


@surveys_app.command("list")
def list_surveys(workspace: WorkspaceOpt = Path("jl-data"), as_json: JsonOpt = False) -> None:
    """The saved surveys and their questions."""
    from journeylens.cli.main import _emit, _errors, _open_existing

    with _errors(), _open_existing(workspace) as ws:
        data = {"surveys": [s.model_dump(mode="json") for s in ws.surveys()]}
    _emit(data, as_json, _render_list)


@surveys_app.command("import")
def import_export(
    file: Annotated[Path, typer.Argument(help="The export: CSV or JSON lines.")],
    survey: Annotated[str, typer.Option("--survey", "-s", help="The saved survey's id.")],
    workspace: WorkspaceOpt = Path("jl-data"),
    user_id: Annotated[str, typer.Option(help="Column of the user id ('' for none).")] = "user_id",
    email: Annotated[str, typer.Option(help="Column of the email ('' for none).")] = "email",
    submitted_at: Annotated[str, typer.Option(help="Column of the time.")] = "submitted_at",
    response_id: Annotated[str, typer.Option(help="Column of the response id.")] = "",
    question: Annotated[
        list[str] | None,
        typer.Option("--question", "-q", help="QUESTION_ID=COLUMN, for a renamed column."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every row of the export against the survey, ingest the good ones as
    ``survey_answered`` events and list the rejected ones with their reasons."""
    from journeylens.cli.main import _emit, _errors, _open_existing, _parse_mapping

    with _errors():
        mapping = {
            "user_id": user_id or None,
            "email": email or None,
            "submitted_at": submitted_at,
            "response_id": response_id or None,
            "questions": _parse_mapping(question or []),
        }
        with _open_existing(workspace) as ws:
            export, report = ws.import_survey(file, survey, mapping)
    data = {
        "survey_id": survey,
        "rows": export.rows,
        "accepted_rows": export.accepted_rows,
        "rejected_rows": export.rejected_rows,
        "events": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [r.to_dict() for r in export.rejected],
    }
    _emit(data, as_json, _render_import)
    if export.rejected_rows:
        raise typer.Exit(2)


def _render_survey(out: Console, data: dict[str, Any]) -> None:
    out.print(f"[bold]{data['id']}[/] {data['name']}")
    table = Table("question", "type", "text", "options")
    for q in data["questions"]:
        table.add_row(q["id"], q["type"], q["text"], ", ".join(q["options"]))
    out.print(table)


def _render_list(out: Console, data: dict[str, Any]) -> None:
    if not data["surveys"]:
        out.print("No surveys saved yet: journeylens surveys create FILE.json")
    for survey in data["surveys"]:
        _render_survey(out, survey)


def _render_import(out: Console, data: dict[str, Any]) -> None:
    out.print(
        f"{data['rows']} rows: {data['accepted_rows']} kept ({data['events']} answer events, "
        f"{data['duplicates']} already stored), {data['rejected_rows']} rejected"
    )
    if data["rejected"]:
        table = Table("row", "column", "code", "reason")
        for r in data["rejected"]:
            table.add_row(str(r["row"]), r["field"] or "", r["code"], r["message"])
        out.print(table)
