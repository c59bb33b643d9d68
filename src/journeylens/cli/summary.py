"""What the CLI shows about a workspace: one dict (the ``--json`` output) and its rich rendering."""

from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from journeylens.analysis import Result
from journeylens.workspace import Workspace

#: Rows of a result table the terminal shows; --json has them all.
_SHOWN_ROWS = 40

__all__ = [
    "render_analyses",
    "render_ingest",
    "render_predictions",
    "render_result",
    "render_training",
    "render_workspace",
    "workspace_summary",
]


def workspace_summary(ws: Workspace) -> dict[str, Any]:
    """Counts a user wants after loading data.

    Returns:
        events, persons, identifiers (rows of id_map), quarantined rows, channels (events per
        channel), stages (events per stage), rejected (quarantined rows per code) and the last
        identity resolution's statistics.
    """
    events = ws.events()
    info = ws.info()
    channels = events.channel.value_counts().to_pyarrow().to_pylist()
    stages = events.stage.value_counts().to_pyarrow().to_pylist()
    quarantine = ws.quarantine()
    rejected = quarantine.code.value_counts().to_pyarrow().to_pylist()
    return {
        "events": info["events"],
        "persons": info["persons"],
        "identifiers": info["id_map"],
        "quarantined": info["quarantine"],
        "channels": _counts(channels, "channel"),
        "stages": _counts(stages, "stage"),
        "rejected": _counts(rejected, "code"),
        "identity": info["identity"],
    }


def _counts(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    pairs = [
        (str(r[key]) if r[key] is not None else "(none)", int(r[f"{key}_count"])) for r in rows
    ]
    return dict(sorted(pairs, key=lambda kv: -kv[1]))


def render_workspace(console: Console, s: dict[str, Any]) -> None:
    head = Table(title="journeylens workspace", show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right")
    head.add_row("workspace", str(s.get("workspace", "")))
    head.add_row("events", f"{s['events']:,}")
    head.add_row("persons", f"{s['persons']:,}")
    head.add_row("identifiers", f"{s['identifiers']:,}")
    identity = s.get("identity") or {}
    for key in ("merges", "refusals"):
        if key in identity:
            value = identity[key]
            head.add_row(f"identity {key}", _fmt(value))
    head.add_row("rejected rows", f"{s['quarantined']:,}")
    if "ingest" in s:
        ingest = s["ingest"]
        head.add_row("ingest rows/s", f"{ingest['rows_per_second']:,.0f}")
    console.print(head)
    console.print(_share_table("channel", s["channels"], s["events"]))
    console.print(_share_table("stage", s["stages"], s["events"]))
    if s["rejected"]:
        console.print(_share_table("rejection code", s["rejected"], s["quarantined"]))
    if s.get("workspace"):
        console.print(
            f"Open it again: [bold]journeylens info -w {s['workspace']}[/], or in Python "
            f"[bold]jl.Workspace.open({s['workspace']!r}).events()[/]"
        )


def render_ingest(console: Console, r: dict[str, Any]) -> None:
    table = Table(title=f"ingest of {r['source']}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key in ("rows", "accepted", "duplicates", "rejected_count"):
        table.add_row(key.replace("_count", ""), f"{r[key]:,}")
    table.add_row("seconds", f"{r['seconds']:.2f}")
    console.print(table)
    if r["rejected"]:
        detail = Table(title="rejected rows (first 20)", title_justify="left")
        for column in ("row", "field", "code", "message"):
            detail.add_column(column)
        for item in r["rejected"][:20]:
            detail.add_row(str(item["row"]), item["field"] or "", item["code"], item["message"])
        console.print(detail)


def _share_table(name: str, counts: dict[str, int], total: int) -> Table:
    table = Table(title=f"events by {name}", title_justify="left")
    table.add_column(name)
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    for key, count in counts.items():
        table.add_row(key, f"{count:,}", f"{count / total:.1%}" if total else "-")
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "" if math.isnan(value) else f"{value:,.4g}"
    return "" if value is None or value is pd.NaT else str(value)


def render_analyses(console: Console, data: dict[str, Any]) -> None:
    table = Table(title="analyses", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("what it answers")
    for name, about in data["analyses"].items():
        table.add_row(name, about["summary"])
    console.print(table)
    console.print(
        "Run one: [bold]journeylens analyze NAME --spec spec.json[/] "
        "(an example spec: [bold]journeylens analyze NAME --example[/])"
    )


def render_result(console: Console, result: Result) -> None:
    frame = result.to_frame()
    frame = frame.loc[:, [c for c in frame.columns if not frame[c].isna().all()] or frame.columns]
    table = Table(title_justify="left")
    for column in frame.columns:
        numeric = frame[column].dtype.kind in "iuf"
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold")
    for row in frame.head(_SHOWN_ROWS).itertuples(index=False):
        table.add_row(*(_fmt(value) for value in row))
    console.print(table)
    if len(frame) > _SHOWN_ROWS:
        console.print(f"[dim]{len(frame) - _SHOWN_ROWS:,} more rows; --json prints them all[/]")
    for warning in result.warnings:
        console.print(f"[yellow]warning[/] [dim]{warning.code}[/] {warning.message}")


def render_training(console: Console, data: dict[str, Any]) -> None:
    table = Table(title=f"models trained in {data['workspace']}", title_justify="left")
    for column in ("model", "version", "as of", "features", "metrics"):
        table.add_column(column, overflow="fold")
    for name, card in data["models"].items():
        metrics = {k: v for k, v in card["metrics"].items() if not isinstance(v, dict)}
        table.add_row(
            name, card["version"], card["as_of"], str(len(card["features"])), _fmt(metrics)
        )
    console.print(table)
    console.print("Score with them: [bold]journeylens predict -w WORKSPACE[/]")


def render_predictions(console: Console, data: dict[str, Any]) -> None:
    table = Table(title=f"predictions stored in {data['workspace']}", title_justify="left")
    for column in ("model", "version", "rows", "persons"):
        table.add_column(column, justify="right" if column in ("rows", "persons") else "left")
    for name, scored in data["models"].items():
        table.add_row(name, scored["version"], _fmt(scored["rows"]), _fmt(scored["persons"]))
    console.print(table)
    for name, hint in data.get("skipped", {}).items():
        console.print(f"[yellow]skipped[/] {name}: {hint}")
