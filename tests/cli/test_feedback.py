"""``journeylens feedback score``: every text scored with progress, counts by language and label,
the workspace's embedding cache warmed, and clear errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import journeylens as jl
from journeylens.cli.main import app
from journeylens.feedback.embed import EmbeddingCache, cache_dir, normalise_text

runner = CliRunner()

SAID = [
    ("a", "2026-01-01T10:00:00Z", "The delivery was late and the box was broken, awful"),
    ("b", "2026-01-20T10:00:00Z", "Great app, checkout was quick and easy"),
    ("c", "2026-01-25T10:00:00Z", "배송이 너무 늦어요, 실망입니다"),
    ("d", "2026-01-30T10:00:00Z", "   "),
]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Four feedback texts (one blank) and a page view, in a folder workspace."""
    folder = tmp_path_factory.mktemp("feedback") / "ws"
    messages = [
        {
            "type": "track",
            "messageId": f"f-{person}",
            "userId": person,
            "event": "Feedback Submitted",
            "timestamp": at,
            "properties": {"text": text},
        }
        for person, at, text in SAID
    ]
    messages.append(
        {
            "type": "page",
            "messageId": "v-1",
            "userId": "a",
            "name": "Home",
            "timestamp": "2026-01-01T09:00:00Z",
        }
    )
    with jl.Workspace.open(folder) as ws:
        ws.ingest(messages)
    return folder


def test_every_text_is_scored_counted_by_language_and_label_and_its_vector_cached(workspace):
    folder = workspace
    done = run("feedback", "score", "-w", folder, "--json")
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    # The blank answer is feedback without a text: not counted.
    assert body["texts"] == 3
    counts = {(r["language"], r["label"]): r["texts"] for r in body["counts"]}
    assert counts == {("en", "negative"): 1, ("en", "positive"): 1, ("ko", "negative"): 1}
    # The vectors went to the workspace's own cache, where later analyses look.
    assert body["cache"] == str(folder / "cache") == str(cache_dir())
    cache = EmbeddingCache(folder / "cache" / "embeddings.sqlite3")
    assert cache.get([normalise_text(text) for _, _, text in SAID[:3]])[1] == [0, 1, 2]
    cache.close()


def test_the_table_and_a_progress_bar_are_shown_and_since_keeps_the_last_days(workspace):
    folder = workspace
    shown = run("feedback", "score", "-w", folder, "--since", "7d")
    assert shown.exit_code == 0, shown.output
    assert "1 feedback text scored in the last 7d of data" in shown.stdout
    assert "embed + score" in shown.stderr
    last_week = json.loads(run("feedback", "score", "-w", folder, "--since", "7d", "--json").stdout)
    assert last_week["counts"] == [{"language": "ko", "label": "negative", "texts": 1}]


def test_a_missing_workspace_or_a_bad_duration_is_a_clear_error(tmp_path, workspace):
    missing = run("feedback", "score", "-w", tmp_path / "nowhere")
    assert missing.exit_code == 1
    assert "No workspace" in missing.stderr
    assert not (tmp_path / "nowhere").exists()
    bad = run("feedback", "score", "-w", workspace, "--since", "soon")
    assert bad.exit_code == 1
    assert "--since" in bad.stderr


def test_a_workspace_without_feedback_says_so(tmp_path):
    with jl.Workspace.open(tmp_path / "empty"):
        pass
    done = run("feedback", "score", "-w", tmp_path / "empty")
    assert done.exit_code == 0, done.output
    assert "No feedback text" in done.stdout
