"""The collector's write-ahead journal: acknowledged messages survive a crash.

A request's messages are appended to the journal and the request is answered only once they are
on disk (``os.fdatasync``). A background ``Drain`` then moves them into the workspace in large
batches with the ingest it is given; ingest skips a ``message_id`` it already stored, so
re-draining messages after a crash stores nothing twice.

On disk, a folder of segment files ``<seq>.jlj`` (``seq`` counts up from 1, zero-padded) and a
``drained`` file. A segment is a run of frames, one per append::

    magic b"JLF1" | payload length (u32) | message count (u32) | CRC-32 of payload (u32) | payload

little-endian; the payload is the messages' JSON texts joined by ``\\n`` (JSON text has no raw
newline). ``drained`` holds ``<seq> <offset>``: everything before that position is in the
workspace. It is written after each ingest (write to a temporary file, then rename), without an
fsync: if it is lost, more is drained again, which ingest dedupes.

Group commit: one writer thread takes every append that queued up while it was busy, writes
them with one ``write`` and makes them durable with one ``fdatasync``, so the cost of a sync is
shared by all the requests waiting on it. The writer starts a new segment when the current one
passes ``segment_bytes``, and always on opening, so it never appends after a torn tail. A frame
that is cut short or fails its CRC ends its segment for the reader (only the tail of the last
segment written before a crash can be torn, and none of it was acknowledged).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["Drain", "DrainStatus", "Journal", "Position"]

_log = logging.getLogger("journeylens.collect")

_MAGIC = b"JLF1"
_HEADER = struct.Struct("<4sIII")
_SUFFIX = ".jlj"
_DRAINED = "drained"


class Position(NamedTuple):
    """A place in the journal: segment number and byte offset in it."""

    seq: int
    offset: int


class _Append(NamedTuple):
    frame: bytes
    done: Future[Position]


class Journal:
    """An append-only, fsync'ed journal of message texts in one folder.

    ``append`` is thread-safe and returns a future that completes once the messages are durable;
    ``read`` and ``mark_drained`` are for one reader (the ``Drain``).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        segment_bytes: int = 64 << 20,
        max_backlog_bytes: int = 512 << 20,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._max_backlog_bytes = max_backlog_bytes
        self._cond = threading.Condition()
        self._pending: list[_Append] = []
        self._closing = False
        self._drained = self._read_drained()
        # Segment number -> bytes known to hold whole frames (the durable end of the active one).
        self._sizes: dict[int, int] = {}
        for seq in self._segment_numbers():
            size = self._path(seq).stat().st_size
            if seq < self._drained.seq or (
                seq == self._drained.seq and size <= self._drained.offset
            ):
                # Wholly drained: the last run's active segment, or one whose clean-up a crash
                # cut short.
                self._path(seq).unlink()
            else:
                self._sizes[seq] = size
        self._active = max([*self._sizes, self._drained.seq, 0]) + 1
        self._sizes[self._active] = 0
        self._fd = self._create(self._active)
        self._writer = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ writing

    def append(self, messages: Sequence[bytes]) -> Future[Position]:
        """Queue the UTF-8 JSON texts of some messages as one frame.

        Returns:
            A future whose result is the journal position just after the frame, set once the
            frame is durable; it holds an ``OSError`` if the disk write failed (nothing of the
            frame counts as written then).
        """
        payload = b"\n".join(messages)
        header = _HEADER.pack(_MAGIC, len(payload), len(messages), zlib.crc32(payload))
        done: Future[Position] = Future()
        with self._cond:
            if self._closing:
                raise RuntimeError("the journal is closed")
            self._pending.append(_Append(header + payload, done))
            self._cond.notify_all()
        return done

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closing:
                    return
            self._write(batch)

    def _write(self, batch: list[_Append]) -> None:
        data = b"".join(item.frame for item in batch)
        start = self._sizes[self._active]
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fdatasync(self._fd)
        except OSError as exc:
            _log.error("journal write failed: %s", exc)
            self._rollback(start)
            for item in batch:
                item.done.set_exception(exc)
            return
        with self._cond:
            self._sizes[self._active] = start + len(data)
            end = Position(self._active, start + len(data))
            self._cond.notify_all()
        for item in batch:
            item.done.set_result(end)
        if end.offset >= self._segment_bytes:
            self._rotate()

    def _rollback(self, size: int) -> None:
        """Cut a partly written batch off, so later frames follow whole ones."""
        try:
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
        except OSError:
            # The segment cannot be repaired in place: leave it (its reader stops at the broken
            # frame) and go on in a new one.
            self._rotate()

    def _rotate(self) -> None:
        os.close(self._fd)
        with self._cond:
            self._active += 1
            self._sizes[self._active] = 0
        self._fd = self._create(self._active)

    def _create(self, seq: int) -> int:
        fd = os.open(self._path(seq), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        # The new file's directory entry must be durable too, or a crash could lose the file.
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return fd

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the active segment."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        os.close(self._fd)

    # ------------------------------------------------------------------ reading

    @property
    def drained(self) -> Position:
        """Everything before this position is in the workspace."""
        return self._drained

    @property
    def backlog_bytes(self) -> int:
        """Bytes written durably but not drained yet."""
        with self._cond:
            return sum(
                size - (self._drained.offset if seq == self._drained.seq else 0)
                for seq, size in self._sizes.items()
                if seq >= self._drained.seq
            )

    @property
    def overloaded(self) -> bool:
        """Whether the backlog passed ``max_backlog_bytes``: new appends should wait."""
        return self.backlog_bytes > self._max_backlog_bytes

    def wait(self, after: Position, timeout: float) -> bool:
        """Block until something durable lies after ``after`` (or ``timeout`` seconds pass).
        Returns whether it does."""
        with self._cond:
            return self._cond.wait_for(lambda: self._has_after(after), timeout)

    def _has_after(self, position: Position) -> bool:
        return any(
            size > (position.offset if seq == position.seq else 0)
            for seq, size in self._sizes.items()
            if seq >= position.seq
        )

    def read(self, start: Position, max_messages: int) -> tuple[list[str], Position]:
        """Read whole frames from ``start`` until about ``max_messages`` messages are read.

        Returns:
            ``(texts, end)``: the messages' JSON texts in the order they were appended, and the
            position after the last frame read (past a broken tail too, which is skipped).
        """
        texts: list[str] = []
        seq, offset = start
        while len(texts) < max_messages:
            with self._cond:
                later = sorted(s for s in self._sizes if s >= seq)
                if not later:
                    break
                if later[0] != seq:
                    seq, offset = later[0], 0
                limit = self._sizes[seq]
                sealed = seq != self._active
            offset, whole = self._read_frames(seq, offset, limit, texts, max_messages)
            if offset < limit and (whole or not sealed):
                break  # stopped at max_messages, or at the active segment's end
            if not sealed:
                break
            seq, offset = seq + 1, 0
        return texts, Position(seq, offset)

    def _read_frames(
        self, seq: int, offset: int, limit: int, texts: list[str], max_messages: int
    ) -> tuple[int, bool]:
        """Append the texts of the frames in ``[offset, limit)`` of a segment to ``texts``.
        Returns the offset after the last whole frame read, and False if a broken frame ended
        the segment."""
        if offset >= limit:
            return offset, True
        with open(self._path(seq), "rb") as fh:
            fh.seek(offset)
            data = fh.read(limit - offset)
        at = 0
        while at < len(data) and len(texts) < max_messages:
            if len(data) - at < _HEADER.size:
                return offset + at, False
            magic, length, count, crc = _HEADER.unpack_from(data, at)
            body = data[at + _HEADER.size : at + _HEADER.size + length]
            if magic != _MAGIC or len(body) != length or zlib.crc32(body) != crc:
                _log.warning("journal segment %s is broken at byte %d", seq, offset + at)
                return offset + at, False
            if count:
                texts.extend(body.decode("utf-8").split("\n"))
            at += _HEADER.size + length
        return offset + at, True

    def mark_drained(self, position: Position) -> None:
        """Record that everything before ``position`` is in the workspace, and delete the
        segments wholly before it."""
        tmp = self.folder / (_DRAINED + ".tmp")
        tmp.write_text(f"{position.seq} {position.offset}\n")
        os.replace(tmp, self.folder / _DRAINED)
        with self._cond:
            self._drained = position
            done = [seq for seq in self._sizes if seq < position.seq and seq != self._active]
            for seq in done:
                del self._sizes[seq]
        for seq in done:
            self._path(seq).unlink(missing_ok=True)

    def _read_drained(self) -> Position:
        try:
            seq, offset = (self.folder / _DRAINED).read_text().split()
            return Position(int(seq), int(offset))
        except (FileNotFoundError, ValueError):
            # No mark, or a mark garbled by a crash: drain everything again (ingest dedupes).
            return Position(0, 0)

    def _segment_numbers(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:012d}{_SUFFIX}"


@dataclass(frozen=True)
class DrainStatus:
    """What the drain has done since it started.

    Attributes:
        messages: messages handed to ingest (accepted, duplicates and rejected alike).
        batches: ingest calls that succeeded.
        backlog_bytes: journal bytes durable but not drained yet.
        failures: ingest calls that raised (each is retried).
        last_error: the text of the last ingest failure, or None.
    """

    messages: int
    batches: int
    backlog_bytes: int
    failures: int
    last_error: str | None


class Drain:
    """A background thread moving journal frames into the workspace, oldest first.

    ``ingest`` receives a list of message JSON texts and must store them idempotently (dedupe on
    ``message_id``); it is called from the drain's thread, so it takes whatever lock guards the
    workspace. Starting a drain replays whatever an earlier run left undrained.
    """

    def __init__(
        self,
        journal: Journal,
        ingest: Callable[[list[str]], object],
        *,
        max_batch_messages: int = 100_000,
        linger_seconds: float = 0.2,
        retry_seconds: float = 1.0,
    ) -> None:
        self._journal = journal
        self._ingest = ingest
        self._max_batch = max_batch_messages
        self._linger = linger_seconds
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._busy = threading.Lock()  # one batch at a time, from the thread or from flush
        self._thread: threading.Thread | None = None
        self._messages = self._batches = self._failures = 0
        self._last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="journal-drain", daemon=True)
        self._thread.start()

    def stop(self, *, flush: bool = True) -> None:
        """Stop the thread; with ``flush``, first drain everything durable (ingest failures
        still leave the rest in the journal for the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if flush:
            self.flush()

    def flush(self) -> None:
        """Drain everything durable now, in the caller's thread (stops early if ingest fails)."""
        while self.drain_once():
            pass

    def status(self) -> DrainStatus:
        return DrainStatus(
            messages=self._messages,
            batches=self._batches,
            backlog_bytes=self._journal.backlog_bytes,
            failures=self._failures,
            last_error=self._last_error,
        )

    def drain_once(self) -> bool:
        """Ingest the next batch of the journal.

        Returns:
            True if the journal position moved (messages ingested or a broken tail skipped),
            False if there was nothing to drain or ingest failed.
        """
        with self._busy:
            start = self._journal.drained
            texts, end = self._journal.read(start, self._max_batch)
            if end == start:
                return False
            if texts:
                try:
                    self._ingest(texts)
                except Exception as exc:  # any failure: keep the frames and retry them later
                    _log.exception("journal drain: ingest failed; retrying in %ss", self._retry)
                    self._failures += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    return False
                self._messages += len(texts)
                self._batches += 1
            self._journal.mark_drained(end)
            return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._journal.wait(self._journal.drained, timeout=0.5):
                continue
            # Let a small backlog grow for a moment: each ingest has a fixed cost, so fewer,
            # larger batches keep up with more traffic.
            self._stop.wait(self._linger)
            if not self.drain_once():
                self._stop.wait(self._retry)
