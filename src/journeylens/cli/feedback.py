"""``journeylens feedback``: score every feedback text of a workspace ahead of time.

journeylens feedback score -w jl-data              # every text, with a progress bar
journeylens feedback score -w jl-data --since 30d  # the texts of the last 30 days of data

Scoring embeds each text once with the bundled e5 model (tens of texts per second on two cores)
and keeps the vector in the workspace's embedding cache (``<workspace>/cache/``), so the
sentiment, topic and emotion analyses and the Voice of customer page that run afterwards read
vectors instead of computing them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# The workspace and --json options read as in the other workspace commands.
from journeylens.cli.surveys import JsonOpt, WorkspaceOpt

__all__ = ["feedback_app"]

feedback_app = typer.Typer(
    help="Feedback: score the sentiment of every text (and warm the embedding cache).",
    no_args_is_help=True,
)

SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only texts said in this long before the latest event, e.g. 30d. Default: all.",
    ),
]

_LABELS = ("negative", "neutral", "positive")


@feedback_app.command("score")
def score(
    workspace: WorkspaceOpt = Path("jl-data"),
    since: SinceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score the sentiment of every feedback text, showing progress, and print the counts by
    language and label. The vectors stay in the workspace's cache for later analyses."""
    from journeylens.analysis.segments import as_of_or_latest
    from journeylens.cli.main import _emit, _errors, _open_existing, _progress
    from journeylens.durations import parse_duration
    from journeylens.feedback.embed import cache_dir
    from journeylens.feedback.scored import feedback_in_window
    from journeylens.feedback.sentiment import score_texts
    from journeylens.feedback.source import FeedbackSource

    with _errors():
        window = None if since is None else parse_duration(since, field="--since")
        with _open_existing(workspace) as ws:
            events = ws.events()
            latest = as_of_or_latest(events, None)
            after = None if window is None or latest is None else latest - window
            rows = feedback_in_window(events, FeedbackSource(), after=after, until=None)
            texts = list(rows.select("text").execute()["text"])
            with _progress(not as_json) as progress:
                done = [0]

                def advance(finished: int, total: int) -> None:
                    # score_texts reports how many are done; the bar wants the step since.
                    progress("embed + score", finished - done[0], total)
                    done[0] = finished

                scores = score_texts(texts, progress=advance)
            cache = str(cache_dir())
    # Feedback without text (blank) is not a text here, so every text gets a label.
    counts = Counter(zip(map(str, scores.language), map(str, scores.label), strict=True))
    data = {
        "workspace": str(workspace),
        "since": since,
        "texts": len(texts),
        "counts": [
            {"language": lang, "label": label, "texts": n}
            for (lang, label), n in sorted(counts.items())
        ],
        "cache": cache,
    }
    _emit(data, as_json, _render_scores)


def _render_scores(out: Console, data: dict[str, Any]) -> None:
    if not data["texts"]:
        out.print(f"No feedback text in {data['workspace']}" + _since(data))
        return
    out.print(
        f"{data['texts']} feedback text{'' if data['texts'] == 1 else 's'} scored{_since(data)} "
        f"(embeddings cached in {data['cache']})"
    )
    languages = sorted({r["language"] for r in data["counts"]})
    cell = {(r["language"], r["label"]): r["texts"] for r in data["counts"]}
    table = Table("language", *_LABELS, "total")
    for lang in languages:
        row = [cell.get((lang, label), 0) for label in _LABELS]
        table.add_row(lang, *map(str, row), str(sum(row)))
    totals = [sum(cell.get((lang, label), 0) for lang in languages) for label in _LABELS]
    table.add_row("all", *map(str, totals), str(data["texts"]), style="bold")
    out.print(table)


def _since(data: dict[str, Any]) -> str:
    return f" in the last {data['since']} of data" if data["since"] else ""
