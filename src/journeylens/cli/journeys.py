"""``journeylens journeys``: validate, dry-run, publish, run, status, pause and templates.

journeylens journeys templates --show cart_abandonment > cart.yaml   # a starting point
journeylens journeys validate cart.yaml
journeylens journeys publish template:welcome_series -w jl-data        # a template as it is
journeylens journeys dry-run cart.yaml --since 2024-01-01 -w jl-data
journeylens journeys publish cart.yaml -w jl-data
journeylens journeys run --once -w jl-data            # one tick; without --once, a loop
journeylens journeys status cart-abandonment -w jl-data
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["journeys_app"]

journeys_app = typer.Typer(
    help="Automated journeys: validate, dry-run, publish, run, status.", no_args_is_help=True
)

FileArg = Annotated[
    Path,
    typer.Argument(
        help="A journey definition (YAML or JSON), or a shipped one: template:cart_abandonment."
    ),
]
WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (must exist).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]


@journeys_app.command("validate")
def validate(file: FileArg, as_json: JsonOpt = False) -> None:
    """Check a journey definition; print its id, version and nodes, or what is wrong."""
    from journeylens.activate.templates import read_journey
    from journeylens.cli.main import _emit, _errors

    with _errors():
        journey = read_journey(file)
    data = {
        "valid": True,
        "journey_id": journey.id,
        "name": journey.name,
        "version": journey.content_hash,
        "entry": journey.entry.kind,
        "nodes": {k: n.kind for k, n in journey.nodes.items()},
        "holdout_share": journey.holdout_share,
    }
    _emit(data, as_json, _render_valid)


@journeys_app.command("dry-run")
def dry_run(
    file: FileArg,
    workspace: WorkspaceOpt = Path("jl-data"),
    since: Annotated[
        datetime | None, typer.Option(help="Replay events from this time (UTC). Default: all.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Replay events before this time (UTC).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay the workspace's history through a journey without sending anything."""
    from journeylens.activate.dry_run import dry_run as replay
    from journeylens.activate.templates import read_journey
    from journeylens.cli.main import _emit, _errors, _open_existing

    with _errors():
        journey = read_journey(file)
        with _open_existing(workspace) as ws:
            data = replay(ws, journey, since=_utc(since), until=_utc(until))
    _emit(data, as_json, _render_mapping)


@journeys_app.command("publish")
def publish(file: FileArg, workspace: WorkspaceOpt = Path("jl-data"), as_json: JsonOpt = False):
    """Publish a journey as the live version of its id (running instances keep theirs)."""
    from journeylens.activate.publish import publish_journey
    from journeylens.activate.templates import read_journey
    from journeylens.cli.main import _emit, _errors, _open_existing

    with _errors():
        journey = read_journey(file)
        with _open_existing(workspace) as ws:
            data = publish_journey(ws, journey)
    _emit(data, as_json, _render_mapping)


@journeys_app.command("run")
def run(
    workspace: WorkspaceOpt = Path("jl-data"),
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between ticks.")] = 1.0,
    record: Annotated[
        Path | None,
        typer.Option(help="Record messages to this JSON-lines file instead of sending them."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the published journeys: read new events, fire due timers, send due messages."""
    from journeylens.activate.dispatch import recording_channels
    from journeylens.activate.runner import TickReport, run_loop, run_once
    from journeylens.cli.main import _emit, _errors, _open_existing

    with _errors(), _open_existing(workspace) as ws:
        channels = recording_channels(ws, record) if record is not None else None
        if once:
            report = run_once(ws, channels=channels)
            _emit(report.to_dict(), as_json, _render_mapping)
            return
        console = Console(stderr=True)

        def show(tick: TickReport) -> None:
            if tick.events or tick.timers or tick.dispatch.sent or tick.dispatch.failed:
                console.print(tick.to_dict())

        stop = threading.Event()
        try:
            run_loop(ws, stop, interval_seconds=interval, channels=channels, on_tick=show)
        except KeyboardInterrupt:
            stop.set()


@journeys_app.command("status")
def status(
    journey_id: Annotated[
        str | None, typer.Argument(help="A journey id; all when left out.")
    ] = None,
    workspace: WorkspaceOpt = Path("jl-data"),
    as_json: JsonOpt = False,
) -> None:
    """List published journeys, or one journey's counts per node and goal lift."""
    from journeylens.activate.publish import list_journeys
    from journeylens.activate.report import journey_report
    from journeylens.cli.main import _emit, _errors, _open_existing

    with _errors(), _open_existing(workspace) as ws:
        if journey_id is None:
            _emit({"journeys": list_journeys(ws)}, as_json, _render_list)
        else:
            _emit(journey_report(ws, journey_id).to_dict(), as_json, _render_report)


@journeys_app.command("pause")
def pause(
    journey_id: Annotated[str, typer.Argument(help="The journey to pause or resume.")],
    resume: Annotated[bool, typer.Option("--resume", help="Resume it instead.")] = False,
    workspace: WorkspaceOpt = Path("jl-data"),
    as_json: JsonOpt = False,
) -> None:
    """Pause a journey (no entries, timers or sends), or resume it with --resume."""
    from journeylens.activate.publish import pause_journey
    from journeylens.cli.main import _emit, _errors, _open_existing

    with _errors(), _open_existing(workspace) as ws:
        data = pause_journey(ws, journey_id, paused=not resume)
    _emit(data, as_json, _render_mapping)


@journeys_app.command("templates")
def templates(
    show: Annotated[
        str | None, typer.Option(help="Print this template's YAML (to copy and edit).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The journeys shipped with journeylens (copy one as a starting point)."""
    from journeylens.activate.templates import load_template, template_text
    from journeylens.activate.templates import templates as names
    from journeylens.cli.main import _emit, _errors

    if show is not None:
        with _errors():
            text = template_text(show)
        typer.echo(text, nl=False)
        return
    found = []
    for name in names():
        journey = load_template(name)
        found.append(
            {
                "template": name,
                "journey_id": journey.id,
                "name": journey.name,
                "entry": journey.entry.kind,
                "nodes": len(journey.nodes),
            }
        )
    _emit({"templates": found}, as_json, _render_templates)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ----------------------------------------------------------------------------- rendering
def _render_mapping(console: Console, data: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for key, value in data.items():
        table.add_row(f"[bold]{key}[/]", str(value))
    console.print(table)


def _render_valid(console: Console, data: dict[str, Any]) -> None:
    console.print(f"[green]valid[/] {data['journey_id']} version {data['version']}")
    _render_mapping(console, {k: v for k, v in data.items() if k not in ("valid", "nodes")})
    _rows(console, ["node", "kind"], list(data["nodes"].items()))


def _render_list(console: Console, data: dict[str, Any]) -> None:
    columns = ["journey_id", "name", "status", "version", "versions", "published_at"]
    _rows(console, columns, [[j[c] for c in columns] for j in data["journeys"]])


def _render_report(console: Console, data: dict[str, Any]) -> None:
    console.print(f"[bold]{data['name']}[/] ({data['journey_id']}, {data['status']})")
    columns = [
        "node_id",
        "kind",
        "entered",
        "waiting",
        "exited",
        "sent",
        "failed",
        "opens",
        "clicks",
    ]
    _rows(console, columns, [[n[c] for c in columns] for n in data["nodes"]])
    for name, group in data["groups"].items():
        console.print(f"{name}: {group['instances']} entered, {group['converted']} converted")
    lift = data["lift"]
    if lift and lift["lift"] is not None:
        low, high = lift["lift_interval"]
        console.print(
            f"goal lift vs holdout: {lift['lift']:+.1%} (95% CI {low:+.1%} to {high:+.1%})"
        )


def _render_templates(console: Console, data: dict[str, Any]) -> None:
    columns = ["template", "journey_id", "name", "entry", "nodes"]
    _rows(console, columns, [[t[c] for c in columns] for t in data["templates"]])


def _rows(console: Console, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)
