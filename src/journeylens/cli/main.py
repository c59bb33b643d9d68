"""``journeylens`` command line: demo, import, resolve, info, analyze, train, predict, serve,
keys.

Every command prints a rich summary, or with ``--json`` one JSON document on stdout for scripts.
Exit codes: 0 success, 1 a journeylens error (message on stderr), 2 bad usage (typer's own).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from journeylens.cli.feedback import feedback_app
from journeylens.cli.journeys import journeys_app
from journeylens.cli.report import report
from journeylens.cli.summary import (
    render_analyses,
    render_ingest,
    render_predictions,
    render_result,
    render_training,
    render_workspace,
    workspace_summary,
)
from journeylens.cli.surveys import surveys_app
from journeylens.errors import JourneyLensError, ValidationError

__all__ = ["app"]

app = typer.Typer(
    name="journeylens",
    help="Customer journey analytics: collect, unify, analyse and act on every channel.",
    no_args_is_help=True,
    add_completion=False,
)
_out = Console()
_err = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (created if missing).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]
PortOpt = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]
AsOfOpt = Annotated[
    datetime | None,
    typer.Option("--as-of", help="Cut-off (UTC): only events before it count. Default: all."),
]


@contextmanager
def _errors() -> Iterator[None]:
    """Turn journeylens errors into a one-line message and exit code 1."""
    try:
        yield
    except JourneyLensError as exc:
        _err.print(f"[bold red]error[/] [dim]{exc.code}[/] {exc}")
        raise typer.Exit(1) from exc


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """A rich progress bar per stage; silent when printing JSON."""
    if not enabled:
        yield lambda stage, advance, total: None
        return
    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=False,
    ) as bar:

        def advance(stage: str, step: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], advance=step, total=total)

        yield advance


def _emit(data: dict[str, Any], as_json: bool, render: Callable[[Console, dict], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        render(_out, data)


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("jl-demo"),
    customers: Annotated[int, typer.Option(min=10, help="Simulated customers.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Simulated days.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = 0,
    serve_after: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Then serve the dashboard on 127.0.0.1:8000."),
    ] = True,
    port: PortOpt = 8000,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a multi-channel business, ingest it, resolve identities, enrich, summarise,
    then serve the dashboard (unless --no-serve)."""
    from journeylens.simulate import simulate
    from journeylens.workspace import Workspace

    with _errors(), _progress(not as_json) as progress:
        progress("simulate", 0, 1)
        sim = simulate(customers=customers, days=days, seed=seed)
        progress("simulate", 1, 1)
        ws = Workspace.open(workspace)
        report = ws.ingest(sim.events, source_name="demo", progress=progress)
        ws.resolve_identities(progress=progress)
        progress("enrich", 0, 1)
        ws.events()
        progress("enrich", 1, 1)
        summary = workspace_summary(ws) | {"ingest": report.to_dict(), "workspace": str(workspace)}
        key = _demo_key(ws) if serve_after else None
        ws.close()
    _emit(summary, as_json, render_workspace)
    if key is not None:
        _err.print(
            f"Dashboard: http://127.0.0.1:{port}/?key={key} (Ctrl-C stops it)", soft_wrap=True
        )
        with _errors():
            _serve(workspace, "127.0.0.1", port)


def _demo_key(ws: Any) -> str:
    """A fresh admin key for the demo's dashboard; earlier demo keys are revoked (their text
    was only ever printed, so a new run could not show it again)."""
    for old in ws.list_keys():
        if old.name == "demo" and old.active:
            ws.revoke_key(old.key_id)
    text, _ = ws.create_key("admin", "demo")
    return text


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("jl-data"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: PortOpt = 8000,
    warm: Annotated[
        bool,
        typer.Option(
            "--warm/--no-warm", help="Compute the dashboard's pages in the background at start."
        ),
    ] = True,
    journeys: Annotated[
        bool,
        typer.Option("--journeys/--no-journeys", help="Run published journeys in the background."),
    ] = True,
) -> None:
    """Serve the REST API (/api, docs at /docs), the collector (/v1) and the dashboard."""
    with _errors():
        _serve(workspace, host, port, warm=warm, journeys=journeys)


def _serve(
    workspace: Path, host: str, port: int, *, warm: bool = True, journeys: bool = True
) -> None:
    from journeylens.api.launch import serve

    serve(workspace, host, port, warm=warm, journeys=journeys)


app.command()(report)

keys_app = typer.Typer(help="Manage API keys: write (collect), read, admin.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(journeys_app, name="journeys")
app.add_typer(surveys_app, name="surveys")
app.add_typer(feedback_app, name="feedback")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", "-r", help="write, read or admin.")],
    name: Annotated[str, typer.Option("--name", "-n", help="What the key is for.")] = "",
    workspace: WorkspaceOpt = Path("jl-data"),
    as_json: JsonOpt = False,
) -> None:
    """Make an API key; its text is printed this once (only a hash is stored)."""
    from journeylens.workspace import Workspace

    with _errors():
        ws = Workspace.open(workspace)
        try:
            text, key = ws.create_key(role, name)
        finally:
            ws.close()
    data = key.to_dict() | {"key": text}
    _emit(
        data,
        as_json,
        lambda c, d: c.print(f"{d['role']} key {d['key_id']}: {d['key']}", soft_wrap=True),
    )


@keys_app.command("list")
def keys_list(workspace: WorkspaceOpt = Path("jl-data"), as_json: JsonOpt = False) -> None:
    """List API keys (ids, names, roles, when made and revoked; never their text)."""
    with _errors():
        ws = _open_existing(workspace)
        try:
            keys = [k.to_dict() for k in ws.list_keys()]
        finally:
            ws.close()
    _emit({"keys": keys}, as_json, _render_keys)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `journeylens keys list`).")],
    workspace: WorkspaceOpt = Path("jl-data"),
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    with _errors():
        ws = _open_existing(workspace)
        try:
            key = ws.revoke_key(key_id)
        finally:
            ws.close()
    _emit(key.to_dict(), as_json, lambda c, d: c.print(f"revoked {d['role']} key {d['key_id']}"))


def _render_keys(console: Console, data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("key_id", "role", "name", "created_at", "revoked_at")
    for k in data["keys"]:
        table.add_row(k["key_id"], k["role"], k["name"], k["created_at"], k["revoked_at"] or "")
    console.print(table)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines file (gzip too).")],
    workspace: WorkspaceOpt = Path("jl-data"),
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            help="target=column, e.g. user_id=customer_id or context.campaign.source=utm_source.",
        ),
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, parquet or jsonl (default: from name).")
    ] = None,
    source_name: Annotated[str | None, typer.Option("--source", help="Source name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a file into the workspace; bad rows are quarantined with their reason."""
    from journeylens.workspace import Workspace

    with _errors():
        pairs = _parse_mapping(mapping or [])
        with _progress(not as_json) as progress:
            ws = Workspace.open(workspace)
            report = ws.ingest(
                path,
                mapping=pairs or None,
                file_format=file_format,
                source_name=source_name,
                progress=progress,
            )
            ws.close()
    _emit(report.to_dict(), as_json, render_ingest)


@app.command()
def resolve(workspace: WorkspaceOpt = Path("jl-data"), as_json: JsonOpt = False) -> None:
    """Resolve identities and rebuild the enriched events."""
    from journeylens.workspace import Workspace

    with _errors(), _progress(not as_json) as progress:
        ws = Workspace.open(workspace)
        ws.resolve_identities(progress=progress)
        ws.events()
        summary = workspace_summary(ws) | {"workspace": str(workspace)}
        ws.close()
    _emit(summary, as_json, render_workspace)


@app.command()
def info(workspace: WorkspaceOpt = Path("jl-data"), as_json: JsonOpt = False) -> None:
    """Show what the workspace holds: events, persons, channels, stages, merges, rejections."""
    with _errors():
        ws = _open_existing(workspace)
        summary = workspace_summary(ws) | {"workspace": str(workspace)}
        ws.close()
    _emit(summary, as_json, render_workspace)


@app.command()
def analyze(
    name: Annotated[
        str | None, typer.Argument(help="The analysis, e.g. funnel; leave out to list them.")
    ] = None,
    spec: Annotated[
        str | None,
        typer.Option("--spec", "-s", help="Spec as a JSON file, '-' for stdin, or JSON text."),
    ] = None,
    workspace: WorkspaceOpt = Path("jl-data"),
    example: Annotated[
        bool, typer.Option("--example", help="Print an example spec and exit.")
    ] = False,
    figure: Annotated[
        Path | None, typer.Option("--figure", help="Also write the figure as an HTML file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run an analysis over the workspace's events: `journeylens analyze funnel --spec f.json`."""
    from journeylens.analysis import analyses, get_analysis, parse_spec

    with _errors():
        if name is None:
            listing = {a.name: {"title": a.title, "summary": a.summary} for a in analyses()}
            _emit({"analyses": listing}, as_json, render_analyses)
            return
        found = get_analysis(name)
        if example:
            sys.stdout.write(json.dumps(dict(found.example), indent=2) + "\n")
            return
        if spec is None:
            raise ValidationError(
                f"The {name} analysis needs a spec",
                fix=f"Pass --spec FILE (see `journeylens analyze {name} --example`)",
            )
        parsed = parse_spec(name, _read_spec(spec))
        ws = _open_existing(workspace)
        try:
            result = found.run(ws.events(), parsed)
            if figure is not None:
                result.figure().write_html(figure, include_plotlyjs=True)
        finally:
            ws.close()
    _emit(result.to_dict() | {"analysis": name}, as_json, lambda c, _: render_result(c, result))


@app.command()
def train(
    models: Annotated[
        list[str] | None, typer.Argument(help="churn, conversion, clv (default: all three).")
    ] = None,
    workspace: WorkspaceOpt = Path("jl-data"),
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train predictive models on the workspace's events and save them in its models/ folder."""
    from journeylens.predict import PREDICTORS, get_predictor, train_model

    with _errors():
        names = models or [n for n, p in PREDICTORS.items() if p.train is not None]
        for name in names:
            get_predictor(name)  # an unknown name fails before any training
        ws = _open_existing(workspace)
        cards = {}
        try:
            with _progress(not as_json) as progress:
                events = ws.events()
                for name in names:
                    progress(f"train {name}", 0, 1)
                    card = train_model(name, events, ws.folder, as_of=_utc(as_of))
                    cards[name] = card.to_dict()
                    progress(f"train {name}", 1, 1)
        finally:
            ws.close()
    _emit({"workspace": str(workspace), "models": cards}, as_json, render_training)


@app.command()
def predict(
    models: Annotated[
        list[str] | None,
        typer.Argument(
            help="churn, conversion, clv, recommendations, send_time, channel (default: every "
            "model that is computed or trained)."
        ),
    ] = None,
    workspace: WorkspaceOpt = Path("jl-data"),
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every person and store the scores in the workspace's predictions table."""
    from journeylens.predict import PREDICTORS, get_predictor, model_path, score_model

    with _errors():
        for name in models or []:
            get_predictor(name)
        ws = _open_existing(workspace)
        scored, skipped = {}, {}
        try:
            names = models or list(PREDICTORS)
            with _progress(not as_json) as progress:
                events = ws.events()
                for name in names:
                    trained = PREDICTORS[name].train is not None
                    if not models and trained and not model_path(ws.folder, name).exists():
                        skipped[name] = f"not trained yet (journeylens train {name})"
                        continue
                    progress(f"score {name}", 0, 1)
                    rows, version = score_model(name, events, ws.folder, as_of=_utc(as_of))
                    ws.save_predictions(name, rows)
                    persons = len(set(rows.column("person_id").to_pylist()))
                    scored[name] = {"version": version, "rows": rows.num_rows, "persons": persons}
                    progress(f"score {name}", 1, 1)
        finally:
            ws.close()
    summary = {"workspace": str(workspace), "models": scored, "skipped": skipped}
    _emit(summary, as_json, render_predictions)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _read_spec(spec: str) -> str:
    from journeylens.errors import SourceError

    if spec == "-":
        return sys.stdin.read()
    if spec.lstrip().startswith("{"):
        return spec
    path = Path(spec)
    if not path.is_file():
        raise SourceError(
            f"No spec file at {spec!r}",
            fix="Pass the path of a JSON file, '-' to read stdin, or the JSON text itself",
        )
    return path.read_text()


def _open_existing(workspace: Path):
    from journeylens.errors import WorkspaceError
    from journeylens.workspace import Workspace

    if not workspace.exists():
        raise WorkspaceError(
            f"No workspace at {str(workspace)!r}",
            fix="Create one: `journeylens import FILE -w PATH` or `journeylens demo -w PATH`",
        )
    return Workspace.open(workspace)


def _parse_mapping(items: list[str]) -> dict[str, str]:
    from journeylens.errors import MappingError

    pairs: dict[str, str] = {}
    for item in items:
        target, sep, column = item.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise MappingError(
                "A --map option must look like target=column",
                received=item,
                fix="Write e.g. --map user_id=customer_id",
            )
        pairs[target.strip()] = column.strip()
    return pairs
