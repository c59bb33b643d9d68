"""``Workspace``: an embedded DuckDB file (or any Ibis backend) holding one business's journeys.

The workspace is the imperative shell around the pure layers (it sits above them, and below the
interfaces): it reads sources and writes the
append-only ``events`` table (``ingest``), runs identity resolution and stores its outputs
(``resolve_identities``), and serves the enriched events every analysis reads (``events``).
Derived tables are rebuilt when the data under them changed, so ``events()`` is always current.
Saved segments keep a segment's definition (a rule, or RFM segment names) under a name; their
members are recomputed from ``events()`` on every read (``save_segment``, ``segments``,
``segment_members``, ``delete_segment``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from journeylens.analysis.base import Spec
from journeylens.analysis.registry import validate_spec
from journeylens.analysis.rfm import RFMSegmentSpec, rfm_members
from journeylens.analysis.segments import SegmentResult, SegmentSpec, segment
from journeylens.collect.report import IngestReport, Rejection, rejection_message
from journeylens.collect.sources import Source, describe_source, iter_chunks, total_rows
from journeylens.collect.staging import Stager
from journeylens.enrich import enrich
from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity import (
    attach_person,
    build_persons,
    extract_identifiers,
    normalise_identifiers,
    resolve,
)
from journeylens.keyring import ApiKey, find_key, new_key
from journeylens.privacy import (
    erase_person,
    suppressed_hashes,
    suppressed_mask,
    without_suppressed,
)
from journeylens.profiles import (
    person_identifiers,
    person_profile,
    person_records,
    person_timeline,
    unknown_person,
)
from journeylens.schema import (
    ID_MAP_SCHEMA,
    MERGE_LOG_SCHEMA,
    PERSONS_SCHEMA,
    PREDICTIONS_SCHEMA,
    QUARANTINE_SCHEMA,
)
from journeylens.settings import Settings
from journeylens.store import EDGE_OVERRIDES_SCHEMA, TABLES, Catalog, connect_duckdb

__all__ = ["Progress", "Workspace"]

#: Called as ``progress(stage, advance, total)``: ``advance`` rows more are done in ``stage``.
Progress = Callable[[str, int, int | None], None]

_MAX_REPORTED_REJECTIONS = 1000
_ENRICHED = "events_enriched"


def _no_progress(stage: str, advance: int, total: int | None) -> None:
    return None


class Workspace:
    """One business's journeys on one backend. Open it with ``Workspace.open``."""

    def __init__(
        self,
        con: BaseBackend,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        folder: Path | None = None,
    ):
        self._con = con
        self._folder = folder
        self._catalog = Catalog(con)
        self._settings = settings
        self._clock = clock

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        backend: BaseBackend | None = None,
        settings: Settings | Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Workspace:
        """Create or open a workspace.

        ``path`` is a folder (created if missing) holding ``journeylens.duckdb``; ``None`` with no
        backend opens an in-memory workspace. ``backend`` runs the same code on any connected
        Ibis backend instead (PySpark, …). ``settings`` replaces the stored settings.

        Returns:
            The workspace, its tables migrated to the current schema version.

        >>> ws = Workspace.open()
        >>> ws.info()["events"]
        0
        """
        if path is not None and backend is not None:
            raise ValidationError(
                "Pass either a path or a backend, not both",
                received={"path": str(path), "backend": type(backend).__name__},
            )
        con = backend if backend is not None else connect_duckdb(path)
        catalog = Catalog(con)
        catalog.migrate()
        if settings is None:
            stored = catalog.get("settings")
            resolved = Settings.model_validate_json(stored) if stored else Settings()
        else:
            resolved = settings if isinstance(settings, Settings) else _settings(settings)
        catalog.set("settings", resolved.model_dump_json())
        catalog.configure(resolved.store)
        folder = None if path is None else Path(path)
        if folder is not None and folder.suffix in (".duckdb", ".db"):
            folder = folder.parent
        return cls(con, resolved, clock=clock or (lambda: datetime.now(UTC)), folder=folder)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def backend(self) -> BaseBackend:
        return self._con

    @property
    def folder(self) -> Path | None:
        """The folder of an on-disk workspace (trained models live in its ``models/``); None
        for an in-memory workspace or one on another backend."""
        return self._folder

    def close(self) -> None:
        self._con.disconnect()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ ingest

    def ingest(
        self,
        source: Source,
        *,
        mapping: Mapping[str, str] | None = None,
        source_name: str | None = None,
        file_format: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Validate and store events from a file, a table, or a list of Segment messages.

        Rows whose ``message_id`` is already stored are skipped, so ingesting the same batch
        twice changes nothing. Invalid rows go to the ``quarantine`` table with their raw payload
        and the reason; the valid rows of the same batch are kept. Rows that carry an identifier
        of an erased person are dropped and not kept anywhere (counted as rejected, code
        ``SUPPRESSED``).

        Returns:
            An ``IngestReport``: rows read, accepted, duplicates, rejected (with row, field,
            code, message), seconds.
        """
        progress = progress or _no_progress
        started = time.perf_counter()
        batch_id = uuid.uuid4().hex[:16]
        name = source_name or describe_source(source)
        stager = Stager(
            self._settings.ingest,
            source_name=name,
            received_at=self._clock(),
            mapping=dict(mapping) if mapping else None,
        )
        accepted = duplicates = rejected_count = 0
        rejections: list[Rejection] = []
        by_code: dict[str, int] = {}
        total = total_rows(source)
        suppressed = suppressed_hashes(self._catalog)
        try:
            for chunk in iter_chunks(
                source, chunk_rows=self._settings.ingest.chunk_rows, file_format=file_format
            ):
                staged = stager.stage(chunk)
                rows = without_suppressed(
                    self._catalog, staged.accepted, self._settings.identity, suppressed
                )
                if rows.num_rows < staged.accepted.num_rows:
                    dropped = staged.accepted.num_rows - rows.num_rows
                    rejected_count += dropped
                    by_code["SUPPRESSED"] = by_code.get("SUPPRESSED", 0) + dropped
                added = self._catalog.append_events(rows)
                accepted += added
                duplicates += staged.repeats + rows.num_rows - added
                rejected_count += staged.rejected.num_rows
                self._quarantine(staged.rejected, batch_id, name, rejections, by_code)
                progress("ingest", chunk.data.num_rows, total)
        finally:
            stager.close()
            # Chunks already stored stay stored if a later one fails (a file cut short): mark
            # the data changed so derived tables are rebuilt over them.
            if accepted:
                self._catalog.set("data_version", str(self._catalog.get_int("data_version") + 1))
        return IngestReport(
            batch_id=batch_id,
            source=name,
            rows=accepted + duplicates + rejected_count,
            accepted=accepted,
            duplicates=duplicates,
            rejected_count=rejected_count,
            rejected_by_code=by_code,
            rejected=rejections,
            seconds=time.perf_counter() - started,
        )

    def _quarantine(
        self,
        rejected: pa.Table,
        batch_id: str,
        source: str,
        report: list[Rejection],
        by_code: dict[str, int],
    ) -> None:
        if rejected.num_rows == 0:
            return
        rows = rejected.to_pylist()
        messages = [rejection_message(r["code"], r["field"], r["value"]) for r in rows]
        for r, message in zip(rows, messages, strict=True):
            by_code[r["code"]] = by_code.get(r["code"], 0) + 1
            if len(report) < _MAX_REPORTED_REJECTIONS:
                report.append(
                    Rejection(row=r["row"], field=r["field"], code=r["code"], message=message)
                )
        raws = [r["raw"] if r["raw"] is not None else "" for r in rows]
        keys = [
            hashlib.sha1(f"{source}\x1f{r['row']}\x1f{raw}".encode()).hexdigest()
            for r, raw in zip(rows, raws, strict=True)
        ]
        table = pa.table(
            {
                "row_key": keys,
                "batch_id": [batch_id] * len(rows),
                "row": rejected.column("row"),
                "field": rejected.column("field"),
                "code": rejected.column("code"),
                "message": messages,
                "raw": raws,
                "source": [source] * len(rows),
                "received_at": pa.array([self._clock()] * len(rows), pa.timestamp("us", "UTC")),
            }
        )
        self._catalog.append("quarantine", table, QUARANTINE_SCHEMA, key="row_key")

    # ------------------------------------------------------------------ identity

    def resolve_identities(self, *, progress: Progress | None = None) -> dict[str, Any]:
        """Build the identity graph from every stored message and store ``id_map``,
        ``merge_log`` and ``persons``.

        Returns:
            Statistics of the resolution: identifiers, persons, merges, refusals by reason,
            blocked values by reason, seconds.
        """
        progress = progress or _no_progress
        started = time.perf_counter()
        settings = self._settings.identity
        events = self._catalog.table("events")
        # The raw identifiers are passed straight on, not kept: at ten million events they are
        # gigabytes that the resolver does not need.
        normalised = normalise_identifiers(
            extract_identifiers(events, settings).to_pyarrow(), settings
        )
        progress("identify", 2, 4)
        blocked, table = normalised.blocked, normalised.table
        del normalised
        suppressed = suppressed_hashes(self._catalog)
        if suppressed:  # an erased person's identifiers, still named by others' messages
            table = table.filter(pc.invert(suppressed_mask(table, suppressed)))
        overrides = self._catalog.table("edge_overrides").edge_id.to_pyarrow().to_pylist()
        result = resolve(table, settings, invalid_edges=set(overrides))
        del table
        progress("identify", 1, 4)
        self._catalog.replace("id_map", result.id_map, ID_MAP_SCHEMA)
        self._catalog.replace("merge_log", result.merge_log, MERGE_LOG_SCHEMA)
        id_map = self._catalog.table("id_map")
        persons = build_persons(attach_person(events, id_map, settings), id_map)
        self._catalog.replace("persons", persons, PERSONS_SCHEMA)
        progress("identify", 1, 4)
        self._catalog.set("identity_version", str(self._catalog.get_int("data_version")))
        self._catalog.set("identity_overrides", str(len(overrides)))
        stats = dataclasses.asdict(result.stats) | {
            "merges": result.stats.merged_edges,
            "refusals": result.stats.refusals,
            "blocked": blocked,
        }
        stats["seconds"] = time.perf_counter() - started
        self._catalog.set("identity_stats", json.dumps(stats, default=str))
        return stats

    def invalidate_edges(self, edge_ids: Collection[str], *, reason: str = "") -> int:
        """Mark identity edges (``merge_log.edge_id``) as wrong and re-resolve: the persons they
        joined are split again. Returns how many edges were newly invalidated."""
        log = self._catalog.table("merge_log")
        known = set(log.filter(log.edge_id.isin(list(edge_ids))).edge_id.to_pyarrow().to_pylist())
        unknown = [e for e in edge_ids if e not in known]
        if unknown:
            raise UnknownNameError("edge id", unknown[0], sorted(known)[:20])
        current = set(self._catalog.table("edge_overrides").edge_id.to_pyarrow().to_pylist())
        new = sorted(set(edge_ids) - current)
        if new:
            now = self._clock()
            rows = pa.table(
                {
                    "edge_id": new,
                    "reason": [reason] * len(new),
                    "created_at": pa.array([now] * len(new), pa.timestamp("us", "UTC")),
                }
            )
            self._catalog.append("edge_overrides", rows, EDGE_OVERRIDES_SCHEMA)
            self.resolve_identities()
        return len(new)

    # ------------------------------------------------------------------ reading

    def events(self) -> ibis.Table:
        """Every stored message with ``person_id``, ``channel``, ``session_id`` and ``stage``.

        Identities are resolved and enrichment rebuilt first if events arrived since.

        Returns:
            An Ibis table: the canonical columns (``schema.EVENTS_SCHEMA``) plus ``person_id``,
            ``utm_source``, ``utm_medium``, ``utm_campaign``, ``default_channel_group``,
            ``touch_channel``, ``channel``, ``session_id`` and ``stage``.
        """
        if self._identities_stale():
            self.resolve_identities()
        if self._catalog.get("enriched_version") != self._derived_key():
            self.enrich()
        return self._catalog.table(_ENRICHED)

    def enrich(self) -> int:
        """Rebuild ``events_enriched`` from events, the identity map and the enrich settings.
        Returns the number of rows."""
        events = self._catalog.table("events")
        id_map = self._catalog.table("id_map")
        with_person = attach_person(events, id_map, self._settings.identity)
        enriched = enrich(with_person, self._settings.enrich)
        # Stored as text for fast appends; served as JSON so ``ev.properties["sku"]`` works.
        enriched = enriched.mutate(
            **{c: enriched[c].cast("json") for c in ("properties", "context", "traits")}
        )
        self._con.create_table(_ENRICHED, enriched, overwrite=True)
        self._catalog.set("enriched_version", self._derived_key())
        return int(self._catalog.table(_ENRICHED).count().execute())

    def data_version(self) -> str:
        """A text that changes whenever what ``events()`` returns may change (new or erased
        events, identity overrides, settings): the key of cached analysis results."""
        return self._derived_key()

    def _identities_stale(self) -> bool:
        """Events arrived since identities were last resolved."""
        return self._catalog.get("identity_version") != str(self._catalog.get_int("data_version"))

    def _derived_key(self) -> str:
        return (
            f"{self._catalog.get_int('data_version')}:{self._catalog.get('identity_overrides')}:"
            f"{hashlib.sha1(self._settings.model_dump_json().encode()).hexdigest()[:12]}"
        )

    def table(self, name: str) -> ibis.Table:
        """A stored table: events, quarantine, id_map, merge_log, persons or edge_overrides."""
        if name not in TABLES:
            raise UnknownNameError("table", name, TABLES)
        return self._catalog.table(name)

    def persons(self) -> ibis.Table:
        """One row per person (``schema.PERSONS_SCHEMA``); identities are resolved first if
        events arrived since."""
        if self._identities_stale():
            self.resolve_identities()
        return self._catalog.table("persons")

    # ------------------------------------------------------------------ saved segments

    def save_segment(
        self,
        name: str,
        spec: Spec | Mapping[str, Any] | str,
        *,
        analysis: SegmentAnalysis = "segment",
    ) -> Spec:
        """Save a segment under ``name`` (a segment of that name is replaced).

        ``analysis`` says what kind of segment ``spec`` describes: ``"segment"``, a rule
        segment (``SegmentSpec``), or ``"rfm"``, the customers in some RFM segments
        (``RFMSegmentSpec``). ``spec`` is the spec, its JSON values or JSON text; it is validated
        now. With no ``as_of`` the segment rolls: "the last 7 days" are those before the latest
        event at each read.

        Returns:
            The validated spec.

        >>> ws = Workspace.open()
        >>> rule = {"kind": "event", "event": "Order Completed", "within": "30d"}
        >>> ws.save_segment("recent buyers", {"rule": rule}).rule.within.days
        30
        >>> ws.save_segment("at risk", {"segments": ["At Risk"]}, analysis="rfm").segments
        ('At Risk',)
        >>> [s["name"] for s in ws.segments()]
        ['at risk', 'recent buyers']
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError(
                "A segment name must be non-empty text of at most 200 characters",
                received=name,
                fix="Name the segment, e.g. 'cart abandoners'",
            )
        if analysis not in _SEGMENT_KINDS:
            raise UnknownNameError("segment analysis", analysis, _SEGMENT_KINDS)
        parsed = validate_spec(_SEGMENT_KINDS[analysis][0], spec, label=analysis)
        self._catalog.save_segment(name, analysis, parsed.model_dump_json(), self._clock())
        return parsed

    def segments(self) -> list[dict[str, Any]]:
        """The saved segments, sorted by name.

        Returns:
            One dict per segment: ``name``, ``analysis`` (``"segment"`` or ``"rfm"``), ``spec``
            (its JSON values) and ``saved_at`` (UTC datetime).
        """
        return [
            row | {"spec": json.loads(row["spec"]), "saved_at": _utc(row["saved_at"])}
            for row in self._catalog.saved_segments()
        ]

    def segment_members(self, name: str) -> SegmentResult:
        """Recompute the members of the segment saved as ``name`` from ``events()``.

        Returns:
            The ``SegmentResult``: ``person_ids``, ``count``, ``persons``, ``share``, ``as_of``.
        """
        saved = {row["name"]: row for row in self._catalog.saved_segments()}
        if name not in saved:
            raise UnknownNameError("segment", name, saved)
        spec_class, members = _SEGMENT_KINDS[saved[name]["analysis"]]
        return members(self.events(), spec_class.model_validate_json(saved[name]["spec"]))

    def delete_segment(self, name: str) -> None:
        """Forget the segment saved as ``name``."""
        known = {row["name"] for row in self._catalog.saved_segments()}
        if name not in known:
            raise UnknownNameError("segment", name, known)
        self._catalog.delete_segment(name)

    # ------------------------------------------------------------------ predictions

    def save_predictions(self, model: str, rows: pa.Table) -> int:
        """Make ``rows`` the stored predictions of ``model``, replacing its earlier ones.

        ``rows`` has the columns of ``schema.PREDICTIONS_SCHEMA`` and ``model`` in every row
        (``journeylens.predict`` builds them); other models' predictions are kept.

        Returns:
            The number of rows stored for ``model``.
        """
        missing = [c for c in PREDICTIONS_SCHEMA.names if c not in rows.column_names]
        if missing:
            raise ValidationError(
                "Prediction rows lack columns " + ", ".join(missing),
                received=rows.column_names,
                allowed=", ".join(PREDICTIONS_SCHEMA.names),
                fix="Build the rows with journeylens.predict.prediction_rows",
            )
        others = sorted(set(rows.column("model").to_pylist()) - {model})
        if others:
            raise ValidationError(
                f"Prediction rows for {model!r} also name other models",
                received=others,
                fix="Save each model's rows separately",
            )
        rows = rows.select(PREDICTIONS_SCHEMA.names).cast(PREDICTIONS_SCHEMA.to_pyarrow())
        self._catalog.replace_predictions(model, rows)
        return rows.num_rows

    def predictions(self, model: str | None = None) -> ibis.Table:
        """The stored predictions (``schema.PREDICTIONS_SCHEMA``), of one model or of all."""
        table = self._catalog.table("predictions")
        return table if model is None else table.filter(table.model == model)

    def quarantine(self) -> ibis.Table:
        """Every rejected row with its reason and raw payload (``schema.QUARANTINE_SCHEMA``)."""
        return self._catalog.table("quarantine")

    # ------------------------------------------------------------------ persons

    def person(
        self, person_id: str, *, members: Callable[[str], SegmentResult] | None = None
    ) -> dict[str, Any]:
        """The customer-360 profile of one person. ``members`` gives a saved segment's members
        (default ``segment_members``; a server passes its cached version).

        Returns:
            The fields of ``profiles.person_profile`` (traits, identifiers, scores with
            reasons, first/last seen, counts) and ``segments``: the names of the saved segments
            the person is a member of now.
        """
        profile = person_profile(
            self.persons(), self._catalog.table("id_map"), self.predictions(), person_id
        )
        members = members or self.segment_members
        names = [s["name"] for s in self.segments()]
        return profile | {"segments": [n for n in names if person_id in members(n).person_ids]}

    def person_timeline(
        self, person_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """A page of one person's events on every channel, newest first (see
        ``profiles.person_timeline`` for the fields and the cursor)."""
        events = self.events()
        if not person_identifiers(self._catalog.table("id_map"), person_id):
            raise unknown_person(person_id)
        return person_timeline(events, person_id, cursor=cursor, limit=limit)

    def export_person(self, person_id: str) -> dict[str, Any]:
        """Everything the workspace holds about one person (a GDPR access request).

        Returns:
            ``person`` (as ``person``) and the fields of ``profiles.person_records``:
            ``events``, ``merge_log``, ``quarantine``; and ``exported_at``.
        """
        profile = self.person(person_id)
        records = person_records(
            self.events(),
            self._catalog.table("merge_log"),
            self.quarantine(),
            person_id,
            [i["id_value"] for i in profile["identifiers"]],
        )
        return {"person": profile, **records, "exported_at": self._clock()}

    def erase_person(self, person_id: str) -> dict[str, Any]:
        """Erase one person everywhere and keep them erased (a GDPR erasure request).

        ``privacy.erase_person`` suppresses their identifiers and deletes their events,
        predictions and quarantined rows; identities and enrichment are then rebuilt, so traits,
        identities and segment memberships go with them. Later or replayed messages that carry
        one of their identifiers are dropped at ingest.

        Returns:
            ``person_id``; ``events``, ``predictions``, ``quarantine``: rows deleted;
            ``identifiers``: identifiers suppressed.
        """
        counts = erase_person(
            self._catalog, self.events(), self.quarantine(), person_id, now=self._clock()
        )
        self._catalog.set("data_version", str(self._catalog.get_int("data_version") + 1))
        self.resolve_identities()
        self.events()  # rebuilt now: the erased rows must not linger in events_enriched
        self._catalog.checkpoint()
        return counts

    # ------------------------------------------------------------------ API keys

    def create_key(self, role: str, name: str = "") -> tuple[str, ApiKey]:
        """Make an API key of ``role`` (write, read or admin) named ``name``.

        Returns:
            ``(text, key)``: the key's text (shown this once: only its hash is stored) and the
            stored ``ApiKey``.
        """
        text, row = new_key(role, name, self._clock())
        self._catalog.add_api_key(row)
        return text, ApiKey.from_row(row)

    def list_keys(self) -> list[ApiKey]:
        """Every API key, active and revoked, oldest first."""
        return [ApiKey.from_row(r) for r in self.key_rows()]

    def revoke_key(self, key_id: str) -> ApiKey:
        """Revoke the key ``key_id`` (again: keeps the first time). Returns the ``ApiKey``."""
        row = self._catalog.revoke_api_key(key_id, self._clock())
        if row is None:
            raise UnknownNameError("API key id", key_id, [r["key_id"] for r in self.key_rows()])
        return ApiKey.from_row(row)

    def key_rows(self) -> list[dict[str, Any]]:
        """The stored key rows, oldest first (``schema.API_KEYS_SCHEMA``: salts and hashes,
        never secrets), for a server that checks keys in memory."""
        return self._catalog.api_key_rows()

    def check_key(self, text: str) -> ApiKey | None:
        """The active key whose text is ``text``, or None (unknown, malformed or revoked)."""
        return find_key(self.key_rows(), text)

    def info(self) -> dict[str, Any]:
        """Counts of what the workspace holds, and the last identity statistics."""
        names = [*TABLES, "predictions"]
        counts = {name: int(self._catalog.table(name).count().execute()) for name in names}
        stats = self._catalog.get("identity_stats")
        return counts | {
            "schema_version": self._catalog.get_int("schema_version"),
            "identity": json.loads(stats) if stats else None,
            "stale": self._identities_stale(),
        }


#: What a saved segment can be: analysis name -> (spec class, members function).
SegmentAnalysis = Literal["segment", "rfm"]
_SEGMENT_KINDS: dict[str, tuple[type[Spec], Callable[[ibis.Table, Any], SegmentResult]]] = {
    "segment": (SegmentSpec, segment),
    "rfm": (RFMSegmentSpec, rfm_members),
}


def _utc(moment: datetime | None) -> datetime | None:
    """Spark hands timestamps back without a zone; they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _settings(values: Mapping[str, Any]) -> Settings:
    from pydantic import ValidationError as PydanticError

    try:
        return Settings.model_validate(dict(values))
    except PydanticError as exc:
        first = exc.errors()[0]
        raise ValidationError(
            f"Invalid setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
            received=first.get("input"),
            fix="See journeylens.settings for the allowed settings",
        ) from exc
