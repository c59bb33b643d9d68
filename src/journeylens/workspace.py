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
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from journeylens.analysis.base import Spec
from journeylens.analysis.registry import validate_spec
from journeylens.analysis.rfm import RFMSegmentSpec, rfm_members
from journeylens.analysis.segments import SegmentResult, SegmentSpec, segment
from journeylens.collect.report import IngestReport
from journeylens.collect.sources import Source
from journeylens.enrich import enrich
from journeylens.errors import UnknownNameError, ValidationError
from journeylens.feedback.embed import use_cache_dir
from journeylens.feedback.survey_import import (
    SurveyExport,
    SurveyExportMapping,
    survey_export_to_messages,
)
from journeylens.feedback.surveys import Survey, parse_survey
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
    erasure_summary,
    kept_models,
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
)
from journeylens.settings import Settings
from journeylens.store import TABLES, Catalog, connect_duckdb
from journeylens.store.edge_overrides import add_edge_overrides
from journeylens.store.ingest import ingest_source
from journeylens.store.predictions import store_predictions
from journeylens.store.saved_segments import (
    check_segment_name,
    forget_segment,
    saved_segment,
    saved_segment_list,
)
from journeylens.store.surveys import delete_survey, save_survey, saved_surveys

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Progress", "Workspace"]

#: Called as ``progress(stage, advance, total)``: ``advance`` rows more are done in ``stage``.
Progress = Callable[[str, int, int | None], None]

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
        if folder is not None:
            # Feedback embeddings are cached beside the data they came from.
            use_cache_dir(folder / "cache")
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
        suppressed = suppressed_hashes(self._catalog)
        identity = self._settings.identity
        return ingest_source(
            self._catalog,
            source,
            self._settings.ingest,
            keep=lambda rows: without_suppressed(self._catalog, rows, identity, suppressed),
            clock=self._clock,
            progress=progress or _no_progress,
            mapping=mapping,
            source_name=source_name,
            file_format=file_format,
        )

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
        new = add_edge_overrides(self._catalog, edge_ids, reason=reason, now=self._clock())
        if new:
            self.resolve_identities()
        return new

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

    def refresh_identities(self) -> bool:
        """Resolve identities only if events arrived since they were last resolved (not the
        enrichment ``events()`` also rebuilds). Returns whether they were resolved."""
        stale = self._identities_stale()
        if stale:
            self.resolve_identities()
        return stale

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
        check_segment_name(name)
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
        return saved_segment_list(self._catalog)

    def segment_members(self, name: str) -> SegmentResult:
        """Recompute the members of the segment saved as ``name`` from ``events()``.

        Returns:
            The ``SegmentResult``: ``person_ids``, ``count``, ``persons``, ``share``, ``as_of``.
        """
        saved = saved_segment(self._catalog, name)
        spec_class, members = _SEGMENT_KINDS[saved["analysis"]]
        return members(self.events(), spec_class.model_validate_json(saved["spec"]))

    def delete_segment(self, name: str) -> None:
        """Forget the segment saved as ``name``."""
        forget_segment(self._catalog, name)

    # ------------------------------------------------------------------ surveys

    def save_survey(self, survey: Survey | Mapping[str, Any] | str) -> Survey:
        """Save a survey definition (one with the same id is replaced); its answers are events.

        Returns:
            The validated ``Survey`` (``parse_survey`` says how problems are reported).

        >>> ws = Workspace.open()
        >>> q = {"id": "nps", "type": "nps", "text": "Recommend us?"}
        >>> ws.save_survey({"id": "s1", "name": "NPS", "questions": [q]}).id
        's1'
        >>> [s.id for s in ws.surveys()]
        ['s1']
        """
        parsed = parse_survey(survey)
        save_survey(self._catalog, parsed.id, parsed.name, parsed.model_dump_json(), self._clock())
        return parsed

    def surveys(self) -> list[Survey]:
        """The saved surveys, sorted by id."""
        return [Survey.model_validate_json(r["definition"]) for r in saved_surveys(self._catalog)]

    def survey(self, survey_id: str) -> Survey:
        """The survey saved as ``survey_id`` (``UnknownNameError`` naming the saved ones)."""
        saved = {s.id: s for s in self.surveys()}
        if survey_id not in saved:
            raise UnknownNameError("survey", survey_id, saved)
        return saved[survey_id]

    def delete_survey(self, survey_id: str) -> None:
        """Forget the survey saved as ``survey_id``; its answers stay in the events."""
        delete_survey(self._catalog, self.survey(survey_id).id)

    def import_survey(
        self,
        source: str | Path | pd.DataFrame,
        survey_id: str,
        mapping: SurveyExportMapping | Mapping[str, Any] | None = None,
    ) -> tuple[SurveyExport, IngestReport]:
        """Ingest a survey tool's export (CSV or JSON lines) of the saved survey ``survey_id``.

        Returns:
            ``(export, report)``: the rows read, kept and rejected with reasons (see
            ``survey_export_to_messages``), and the ingest of the kept answers.
        """
        export = survey_export_to_messages(source, self.survey(survey_id), mapping)
        return export, self.ingest(export.messages, source_name=f"survey:{survey_id}")

    # ------------------------------------------------------------------ predictions

    def save_predictions(self, model: str, rows: pa.Table) -> int:
        """Make ``rows`` the stored predictions of ``model``, replacing its earlier ones.

        ``rows`` has the columns of ``schema.PREDICTIONS_SCHEMA`` and ``model`` in every row
        (``journeylens.predict`` builds them); other models' predictions are kept.

        Returns:
            The number of rows stored for ``model``.
        """
        return store_predictions(self._catalog, model, rows)

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
            ``identifiers``: identifiers suppressed; ``models``: the trained model files kept
            and why (``privacy.kept_models``); ``summary``: what was erased where, as
            sentences (``privacy.erasure_summary``).
        """
        counts = erase_person(
            self._catalog, self.events(), self.quarantine(), person_id, now=self._clock()
        )
        self._catalog.set("data_version", str(self._catalog.get_int("data_version") + 1))
        self.resolve_identities()
        self.events()  # rebuilt now: the erased rows must not linger in events_enriched
        self._catalog.checkpoint()
        models = kept_models(self._folder)
        return counts | {"models": models, "summary": erasure_summary(counts, models)}

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
