"""The collector's journal: durable appends, reading back in order, draining, replay."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.collect.journal import Drain, Journal, Position


def texts(*ids: str) -> list[bytes]:
    return [json.dumps({"messageId": i, "event": "e\nx"}).encode() for i in ids]


def ids_of(read: list[str]) -> list[str]:
    return [json.loads(t)["messageId"] for t in read]


def test_an_append_completes_once_its_frame_is_on_disk_and_reads_back_in_order(tmp_path):
    journal = Journal(tmp_path)
    first = journal.append(texts("a", "b")).result(timeout=5)
    second = journal.append(texts("c")).result(timeout=5)
    assert second.offset > first.offset
    read, end = journal.read(journal.drained, 100)
    assert ids_of(read) == ["a", "b", "c"]
    assert end == second
    journal.close()


def test_concurrent_appends_share_syncs_and_lose_nothing(tmp_path):
    journal = Journal(tmp_path)

    def send(worker: int) -> None:
        for n in range(50):
            journal.append(texts(f"{worker}-{n}")).result(timeout=5)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read, _ = journal.read(journal.drained, 10_000)
    assert sorted(ids_of(read)) == sorted(f"{w}-{n}" for w in range(8) for n in range(50))
    journal.close()


def test_reading_stops_near_max_messages_and_continues_from_where_it_stopped(tmp_path):
    journal = Journal(tmp_path)
    for n in range(5):
        journal.append(texts(f"m{n}")).result(timeout=5)
    first, middle = journal.read(journal.drained, 2)
    rest, _ = journal.read(middle, 100)
    assert ids_of(first) == ["m0", "m1"]
    assert ids_of(rest) == ["m2", "m3", "m4"]
    journal.close()


def test_segments_rotate_and_drained_ones_are_deleted(tmp_path):
    journal = Journal(tmp_path, segment_bytes=200)
    for n in range(10):
        journal.append(texts(f"m{n}")).result(timeout=5)
    assert len(list(tmp_path.glob("*.jlj"))) >= 3
    read, end = journal.read(journal.drained, 1000)
    assert ids_of(read) == [f"m{n}" for n in range(10)]
    journal.mark_drained(end)
    assert journal.backlog_bytes == 0
    assert len(list(tmp_path.glob("*.jlj"))) == 1  # the active segment stays
    journal.close()


def test_a_reopened_journal_replays_only_what_was_not_drained(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("old")).result(timeout=5)
    _, end = journal.read(journal.drained, 100)
    journal.mark_drained(end)
    journal.append(texts("new1", "new2")).result(timeout=5)
    journal.close()

    reopened = Journal(tmp_path)
    read, _ = reopened.read(reopened.drained, 100)
    assert ids_of(read) == ["new1", "new2"]
    reopened.close()


def test_a_torn_tail_is_skipped_and_the_whole_frames_before_it_survive(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("kept")).result(timeout=5)
    journal.close()
    segment = sorted(tmp_path.glob("*.jlj"))[-1]
    whole = segment.read_bytes()
    # A crash in the middle of writing the next frame: its header and half its payload.
    segment.write_bytes(whole + whole[: len(whole) // 2 + 5])

    reopened = Journal(tmp_path)
    read, end = reopened.read(reopened.drained, 100)
    assert ids_of(read) == ["kept"]
    reopened.mark_drained(end)
    reopened.append(texts("after")).result(timeout=5)
    read, _ = reopened.read(reopened.drained, 100)
    assert ids_of(read) == ["after"]
    reopened.close()


def test_a_corrupted_frame_ends_its_segment_instead_of_being_read(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("good")).result(timeout=5)
    journal.append(texts("flipped")).result(timeout=5)
    journal.close()
    segment = sorted(tmp_path.glob("*.jlj"))[-1]
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # one bit rot in the last frame's payload
    segment.write_bytes(bytes(data))

    reopened = Journal(tmp_path)
    read, _ = reopened.read(reopened.drained, 100)
    assert ids_of(read) == ["good"]
    reopened.close()


def test_a_garbled_drained_mark_replays_everything(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("a")).result(timeout=5)
    _, end = journal.read(journal.drained, 100)
    journal.mark_drained(end)
    journal.close()
    (tmp_path / "drained").write_text("garbage")
    reopened = Journal(tmp_path)
    assert reopened.drained == Position(0, 0)
    reopened.close()


def test_the_journal_is_overloaded_past_its_backlog_limit(tmp_path):
    journal = Journal(tmp_path, max_backlog_bytes=100)
    assert not journal.overloaded
    journal.append(texts(*[f"m{n}" for n in range(10)])).result(timeout=5)
    assert journal.overloaded
    _, end = journal.read(journal.drained, 1000)
    journal.mark_drained(end)
    assert not journal.overloaded
    journal.close()


def test_appending_to_a_closed_journal_is_refused(tmp_path):
    journal = Journal(tmp_path)
    journal.close()
    with pytest.raises(RuntimeError, match="closed"):
        journal.append(texts("late"))


def test_the_drain_ingests_every_message_once_and_in_order(tmp_path):
    journal = Journal(tmp_path, segment_bytes=300)
    got: list[str] = []
    drain = Drain(journal, lambda batch: got.extend(ids_of(batch)), linger_seconds=0.01)
    drain.start()
    for n in range(30):
        journal.append(texts(f"m{n}")).result(timeout=5)
    journal.close()
    drain.stop()
    assert got == [f"m{n}" for n in range(30)]
    assert drain.status().backlog_bytes == 0
    assert drain.status().messages == 30


def test_a_failing_ingest_keeps_the_messages_for_the_next_try(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("a", "b")).result(timeout=5)
    calls: list[list[str]] = []

    def flaky(batch: list[str]) -> None:
        calls.append(ids_of(batch))
        if len(calls) == 1:
            raise OSError("disk full")

    drain = Drain(journal, flaky)
    assert drain.drain_once() is False
    assert drain.status().failures == 1
    assert "disk full" in (drain.status().last_error or "")
    assert drain.drain_once() is True
    assert calls == [["a", "b"], ["a", "b"]]
    journal.close()


def test_a_restarted_drain_replays_what_the_last_run_left(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("a")).result(timeout=5)
    journal.close()  # the process died before the drain ran

    reopened = Journal(tmp_path)
    got: list[str] = []
    drain = Drain(reopened, lambda batch: got.extend(ids_of(batch)))
    drain.start()
    reopened.close()
    drain.stop()
    assert got == ["a"]


@settings(max_examples=25, deadline=None)
@given(
    frames=st.lists(st.lists(st.text(max_size=20), min_size=1, max_size=5), max_size=12),
    segment_bytes=st.integers(min_value=50, max_value=2000),
    step=st.integers(min_value=1, max_value=7),
)
def test_reading_in_any_steps_across_segments_returns_every_message_once(
    tmp_path_factory, frames, segment_bytes, step
):
    folder: Path = tmp_path_factory.mktemp("journal")
    journal = Journal(folder, segment_bytes=segment_bytes)
    for frame in frames:
        journal.append([json.dumps(v).encode() for v in frame]).result(timeout=5)
    got: list[str] = []
    while True:
        read, end = journal.read(journal.drained, step)
        if end == journal.drained:
            break
        got.extend(json.loads(t) for t in read)
        journal.mark_drained(end)
    assert got == [v for frame in frames for v in frame]
    journal.close()


def test_a_reopened_journal_deletes_the_segments_it_had_drained(tmp_path):
    journal = Journal(tmp_path)
    journal.append(texts("a")).result(timeout=5)
    _, end = journal.read(journal.drained, 100)
    journal.mark_drained(end)
    journal.close()
    reopened = Journal(tmp_path)
    assert [p.name for p in tmp_path.glob("*.jlj")] == ["000000000002.jlj"]
    assert reopened.backlog_bytes == 0
    reopened.close()
