"""Turn anything ``Workspace.ingest`` accepts into a stream of bounded chunks.

A chunk is either ``json`` (one JSON text per row: Segment messages, JSON lines) or ``table``
(columns: CSV, Parquet, pandas, Arrow). Files are read lazily, ``chunk_rows`` rows at a time,
so memory stays bounded whatever the file size; gzip is detected from the file's magic bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeylens.errors import SourceError, UnsupportedFormatError

__all__ = ["Chunk", "Source", "describe_source", "iter_chunks", "total_rows"]

Source = str | Path | pd.DataFrame | pa.Table | pa.RecordBatch | Sequence[Mapping[str, Any]]

_FORMATS = ("csv", "parquet", "jsonl")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Chunk:
    """A bounded slice of a source. ``first_row`` is the 0-based source position of its row 0."""

    kind: Literal["json", "table"]
    data: pa.Table  # json: one string column "raw"; table: the source's own columns
    first_row: int
    #: CSV records that do not split into the header's columns: (0-based record, text).
    malformed: list[tuple[int, str]] = field(default_factory=list)


def describe_source(source: Source) -> str:
    """A short name for the source, stored with every row as ``source`` when none is given."""
    if isinstance(source, str | Path):
        return Path(source).name
    if isinstance(source, pd.DataFrame):
        return "dataframe"
    if isinstance(source, pa.Table | pa.RecordBatch):
        return "arrow"
    return "messages"


def iter_chunks(
    source: Source, *, chunk_rows: int, file_format: str | None = None
) -> Iterator[Chunk]:
    """Yield the source as chunks of at most ``chunk_rows`` rows.

    Raises:
        SourceError: the path does not exist or the object is not a supported source.
        UnsupportedFormatError: the file's format is not CSV, Parquet or JSON lines.
    """
    if isinstance(source, str | Path):
        yield from _iter_file(Path(source), chunk_rows, file_format)
    elif isinstance(source, pd.DataFrame):
        yield from _slices(pa.Table.from_pandas(source, preserve_index=False), chunk_rows)
    elif isinstance(source, pa.RecordBatch):
        yield from _slices(pa.Table.from_batches([source]), chunk_rows)
    elif isinstance(source, pa.Table):
        yield from _slices(source, chunk_rows)
    elif isinstance(source, Mapping) and "batch" in source:
        yield from _iter_messages(_expand_batch(source), chunk_rows)
    elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
        yield from _iter_messages(source, chunk_rows)
    else:
        raise SourceError(
            "Cannot ingest this kind of object",
            received=type(source).__name__,
            allowed="a file path (CSV, Parquet, JSON lines, optionally gzipped), a pandas "
            "DataFrame, a pyarrow Table, or a list of Segment messages (dicts)",
        )


def total_rows(source: Source) -> int | None:
    """Rows in the source when cheap to know (for a progress bar's total), else ``None``."""
    if isinstance(source, pd.DataFrame | pa.Table | pa.RecordBatch):
        return source.num_rows if not isinstance(source, pd.DataFrame) else len(source)
    if isinstance(source, str | Path) and _format_of(Path(source), None) == "parquet":
        return pq.ParquetFile(source).metadata.num_rows
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        return len(source)
    return None


# --------------------------------------------------------------------------- messages


def _expand_batch(envelope: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A Segment batch: envelope ``context``, ``integrations`` and ``sentAt`` apply to each item."""
    items = envelope.get("batch")
    if not isinstance(items, list):
        raise SourceError("A Segment batch's 'batch' must be a list of messages", received=items)
    shared = {k: envelope[k] for k in ("sentAt", "integrations") if k in envelope}
    context = envelope.get("context")
    out: list[Mapping[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            out.append(item)
            continue
        merged = {**shared, **item}
        if isinstance(context, Mapping):
            item_context = item.get("context")
            merged["context"] = (
                {**context, **item_context} if isinstance(item_context, Mapping) else context
            )
        out.append(merged)
    return out


def _iter_messages(messages: Sequence[Any], chunk_rows: int) -> Iterator[Chunk]:
    for start in range(0, len(messages), chunk_rows):
        texts = [_to_json_text(m) for m in messages[start : start + chunk_rows]]
        yield Chunk("json", pa.table({"raw": pa.array(texts, pa.string())}), start)


def _to_json_text(message: Any) -> str:
    """A message as JSON text; a string is taken as JSON already; anything else is kept as its
    repr so the row is quarantined as BAD_JSON with its payload intact."""
    if isinstance(message, str):
        return message
    if isinstance(message, bytes):
        return message.decode("utf-8", errors="replace")
    try:
        return json.dumps(message, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(message)


# --------------------------------------------------------------------------- files


def _format_of(path: Path, file_format: str | None) -> str:
    if file_format is not None:
        fmt = file_format.lower().lstrip(".")
        fmt = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}.get(fmt, fmt)
        if fmt not in _FORMATS:
            raise UnsupportedFormatError(
                "Unknown file format", received=file_format, allowed=", ".join(_FORMATS)
            )
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".gzip")]
    last = suffixes[-1] if suffixes else ""
    mapping = {
        ".csv": "csv",
        ".tsv": "csv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
    }
    if last not in mapping:
        raise UnsupportedFormatError(
            f"Cannot tell the format of {path.name!r} from its name",
            received=path.name,
            allowed="names ending .csv, .tsv, .parquet, .jsonl, .ndjson or .json (optionally .gz)",
            fix="Rename the file or pass file_format='csv' | 'parquet' | 'jsonl'",
        )
    return mapping[last]


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def _iter_file(path: Path, chunk_rows: int, file_format: str | None) -> Iterator[Chunk]:
    if not path.exists():
        raise SourceError(f"No such file: {str(path)!r}", fix="Check the path")
    if path.is_dir():
        raise SourceError(
            f"{str(path)!r} is a folder", fix="Pass one file; ingest a folder's files one by one"
        )
    fmt = _format_of(path, file_format)
    if fmt == "parquet":
        yield from _iter_parquet(path, chunk_rows)
    elif fmt == "csv":
        yield from _iter_csv(path, chunk_rows)
    else:
        yield from _iter_jsonl(path, chunk_rows)


def _iter_parquet(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path.name!r} is not a readable Parquet file: {exc}") from exc
    first = 0
    for batch in reader.iter_batches(batch_size=chunk_rows):
        yield Chunk("table", pa.Table.from_batches([batch]), first)
        first += batch.num_rows


def _iter_csv(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    # Every column is read as text: a streaming reader infers types from its first block and
    # would fail on a later block; the staging SQL casts per row and quarantines what fails.
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), None)
    if not header:
        return
    malformed: list[tuple[int, str]] = []

    def skip_malformed(row: pacsv.InvalidRow) -> str:
        # Kept and quarantined as BAD_ROW with the chunk being read, instead of failing the file.
        # ``number`` is the 1-based record number, the header being record 1.
        malformed.append((row.number - 2 if row.number is not None else -1, row.text))
        return "skip"

    stream = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)
    reader = pacsv.open_csv(
        stream,
        # One reading thread: only then does pyarrow tell a malformed record's number.
        read_options=pacsv.ReadOptions(block_size=1 << 24, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=skip_malformed
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True
        ),
    )
    first = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield Chunk("table", table.slice(0, chunk_rows), first, malformed[:])
            malformed.clear()
            first += chunk_rows
            rest = table.slice(chunk_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows or malformed:
        table = pa.Table.from_batches(pending, reader.schema)
        yield Chunk("table", table, first, malformed[:])


def _iter_jsonl(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    raw = path.open("rb")
    stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if _is_gzip(path) else raw
    with raw, io.TextIOWrapper(stream, encoding="utf-8", errors="replace") as text:
        first = 0
        lines: list[str] = []
        for line in text:
            lines.append(line.rstrip("\r\n"))
            if len(lines) == chunk_rows:
                yield _json_chunk(lines, first)
                first += len(lines)
                lines = []
        if lines:
            yield _json_chunk(lines, first)


def _json_chunk(lines: list[str], first: int) -> Chunk:
    return Chunk("json", pa.table({"raw": pa.array(lines, pa.string())}), first)


def _slices(table: pa.Table, chunk_rows: int) -> Iterator[Chunk]:
    if table.num_rows == 0:
        return
    for start in range(0, table.num_rows, chunk_rows):
        yield Chunk("table", table.slice(start, chunk_rows), start)
