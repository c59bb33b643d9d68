"""extract_identifiers, attach_person and build_persons on an in-memory DuckDB, end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import ibis
import pyarrow as pa
import pytest

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity import (
    attach_person,
    build_persons,
    extract_identifiers,
    normalise_identifiers,
    resolve,
)
from journeylens.schema import EVENTS_ARROW_SCHEMA, EVENTS_SCHEMA, ID_MAP_SCHEMA, PERSONS_SCHEMA
from journeylens.settings import IdentifierType, IdentitySettings

DEFAULT = IdentitySettings()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(
    message_id,
    minute,
    type="track",
    anonymous_id=None,
    user_id=None,
    previous_id=None,
    traits=None,
    context=None,
):
    return {
        "message_id": message_id,
        "type": type,
        "event": "Viewed" if type == "track" else None,
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "previous_id": previous_id,
        "group_id": None,
        "timestamp": T0 + timedelta(minutes=minute),
        "received_at": T0 + timedelta(minutes=minute),
        "source": "test",
        "properties": "{}",
        "context": json.dumps(context or {}),
        "traits": json.dumps(traits) if traits is not None else None,
        "revenue": None,
        "currency": None,
    }


EVENTS = [
    event("m1", 0, anonymous_id="a1"),
    event(
        "m2",
        1,
        "identify",
        anonymous_id="a1",
        user_id=" u1 ",
        traits={"email": "Ann@Example.com", "plan": "free", "name": "Ann"},
    ),
    event("m3", 2, anonymous_id="a2", context={"traits": {"email": "ann@example.com "}}),
    event("m4", 3, "identify", anonymous_id="a2", user_id="u1", traits={"plan": "pro"}),
    event("m5", 4, anonymous_id="a1", user_id="null"),  # blocked user id: falls back to a1
    event("m6", 5, anonymous_id="undefined"),  # nothing usable: a person of its own
    event("m7", 6, anonymous_id="a9", user_id="u2", context={"traits": {"phone": 2125550100}}),
    event("m8", 7, "alias", user_id="u3", previous_id="u2"),  # renames a user id
    event("m9", 8, "alias", user_id="u4", previous_id="a7"),  # ties an anonymous id
]


@pytest.fixture
def con():
    return ibis.duckdb.connect()


@pytest.fixture
def events(con):
    con.create_table("events", schema=EVENTS_SCHEMA)
    con.insert("events", pa.Table.from_pylist(EVENTS, schema=EVENTS_ARROW_SCHEMA))
    return con.table("events")


def _resolved(con, events, settings=DEFAULT):
    raw = extract_identifiers(events, settings).to_pyarrow()
    res = resolve(normalise_identifiers(raw, settings).table, settings)
    id_map = con.create_table("id_map", res.id_map, overwrite=True)
    return res, id_map


def test_extract_reads_columns_and_json_paths_in_path_order(events):
    rows = extract_identifiers(events, DEFAULT).to_pyarrow().to_pylist()
    found = {(r["message_id"], r["id_type"], r["raw_value"], r["path_rank"]) for r in rows}
    assert ("m2", "email", "Ann@Example.com", 0) in found
    assert ("m3", "email", "ann@example.com ", 1) in found
    assert ("m7", "phone", "2125550100", 1) in found  # a JSON number, read as its digits
    assert ("m2", "user_id", " u1 ", 0) in found


def test_extract_types_previous_id_by_whether_it_is_a_known_user_id(events):
    rows = extract_identifiers(events, DEFAULT).to_pyarrow().to_pylist()
    alias = {
        (r["id_type"], r["raw_value"], r["edge_kind"])
        for r in rows
        if r["message_id"] in ("m8", "m9")
    }
    assert alias == {
        ("user_id", "u2", "alias"),
        ("user_id", "u3", "alias"),
        ("anonymous_id", "a7", "alias"),
        ("user_id", "u4", "alias"),
    }


def test_extract_reads_json_columns_stored_as_plain_strings(con):
    plain = con.create_table("plain", pa.Table.from_pylist(EVENTS, schema=EVENTS_ARROW_SCHEMA))
    rows = extract_identifiers(plain, DEFAULT).to_pyarrow().to_pylist()
    assert {r["raw_value"] for r in rows if r["id_type"] == "email"} == {
        "Ann@Example.com",
        "ann@example.com ",
    }


def test_extract_collapses_alike_messages_into_their_first_with_a_weight(con):
    rows = [
        event("m3", 2, anonymous_id="a1"),
        event("m1", 5, anonymous_id="a1"),
        event("m2", 2, anonymous_id="a1"),  # ties with m3 on time: the smaller id names the group
        event("m4", 0, anonymous_id="a1", user_id="u1"),
    ]
    table = con.create_table("alike", pa.Table.from_pylist(rows, schema=EVENTS_ARROW_SCHEMA))
    got = {
        (r["message_id"], r["id_type"], r["raw_value"], r["weight"])
        for r in extract_identifiers(table, DEFAULT).to_pyarrow().to_pylist()
    }
    assert got == {
        ("m2", "anonymous_id", "a1", 3),
        ("m4", "anonymous_id", "a1", 1),
        ("m4", "user_id", "u1", 1),
    }
    per_message = extract_identifiers(table, DEFAULT, collapse=False).to_pyarrow()
    assert per_message.num_rows == 5
    assert set(per_message.column("weight").to_pylist()) == {1}


def test_collapsed_and_per_message_identifiers_resolve_alike(con):
    repeated = [
        {**e, "message_id": f"{e['message_id']}r{k}", "timestamp": e["timestamp"] + shift}
        for k, shift in enumerate((timedelta(0), timedelta(minutes=-30), timedelta(hours=1)))
        for e in EVENTS
    ]
    table = con.create_table(
        "repeated", pa.Table.from_pylist(EVENTS + repeated, schema=EVENTS_ARROW_SCHEMA)
    )
    results = []
    for collapse in (True, False):
        raw = extract_identifiers(table, DEFAULT, collapse=collapse).to_pyarrow()
        normal = normalise_identifiers(raw, DEFAULT)
        res = resolve(normal.table, DEFAULT)
        results.append(
            (
                normal.blocked,
                res.stats,
                res.id_map.sort_by([("id_type", "ascending"), ("id_value", "ascending")]),
                res.merge_log.sort_by("edge_id"),
            )
        )
    assert results[0] == results[1]


def test_an_identifier_path_into_an_unknown_column_is_a_clear_error(events):
    bad = IdentitySettings(
        types=(
            *DEFAULT.types[:-1],
            IdentifierType(name="device_id", paths=("contxt.device.id",), priority=5),
        )
    )
    with pytest.raises(UnknownNameError, match="Did you mean 'context'"):
        extract_identifiers(events, bad)


def test_an_identifier_path_that_is_not_a_value_is_a_clear_error(events):
    bad = IdentitySettings(
        types=(
            *DEFAULT.types[:-1],
            IdentifierType(name="device_id", paths=("context",), priority=5),
        )
    )
    with pytest.raises(ValidationError, match="does not lead to a value"):
        extract_identifiers(events, bad)


def test_attach_person_uses_the_user_id_then_the_anonymous_id_then_a_fallback(con, events):
    _, id_map = _resolved(con, events)
    ev = attach_person(events, id_map, DEFAULT).to_pyarrow().to_pylist()
    person = {r["message_id"]: r["person_id"] for r in ev}
    # a1 and a2 are one person through u1 and the email they share.
    assert len({person[m] for m in ("m1", "m2", "m3", "m4", "m5")}) == 1
    assert person["m6"] == "m_m6"
    assert person["m7"] == person["m8"]  # the alias joined u2 and u3
    assert person["m9"] != person["m7"]
    assert len(ev) == len(EVENTS)


def test_build_persons_keeps_the_newest_trait_and_counts(con, events):
    res, id_map = _resolved(con, events)
    ev = attach_person(events, id_map, DEFAULT)
    persons = build_persons(ev, id_map)
    assert persons.column_names == list(PERSONS_SCHEMA.names)
    rows = {r["person_id"]: r for r in persons.to_pylist()}
    ann = rows[ev.filter(ev.message_id == "m1").person_id.to_pyarrow()[0].as_py()]
    assert ann["user_id"] == "u1"
    traits = json.loads(ann["traits"]) if isinstance(ann["traits"], str) else ann["traits"]
    assert traits == {"email": "ann@example.com ", "plan": "pro", "name": "Ann"}
    assert (ann["first_seen"], ann["last_seen"]) == (T0, T0 + timedelta(minutes=4))
    assert ann["message_count"] == 5
    assert ann["identifier_count"] == 4  # u1, a1, a2, one email
    lonely = rows["m_m6"]
    assert (lonely["identifier_count"], lonely["user_id"], lonely["message_count"]) == (0, None, 1)
    assert len(rows) == res.stats.persons + 1  # every resolved person, and m6's own


def test_a_repeated_trait_document_counts_at_its_newest_occurrence(con):
    free, pro = {"traits": {"plan": "free"}}, {"traits": {"plan": "pro"}}
    rows = [
        event("m1", 0, anonymous_id="a1", context=free),
        event("m2", 1, anonymous_id="a1", context=pro),
        event("m3", 2, anonymous_id="a1", context=free),
    ]
    table = con.create_table("repeats", pa.Table.from_pylist(rows, schema=EVENTS_ARROW_SCHEMA))
    _, id_map = _resolved(con, table)
    persons = build_persons(attach_person(table, id_map, DEFAULT), id_map).to_pylist()
    assert [json.loads(p["traits"]) for p in persons] == [{"plan": "free"}]


def test_attach_person_rejects_a_normaliser_sql_cannot_apply(events):
    phoney = IdentitySettings(
        types=tuple(
            t.model_copy(update={"normaliser": "phone_e164"}) if t.name == "anonymous_id" else t
            for t in DEFAULT.types
        )
    )
    with pytest.raises(ValidationError, match="cannot be applied in SQL"):
        attach_person(events, ibis.table(ID_MAP_SCHEMA, name="id_map"), phoney)


def test_attach_person_without_the_id_map_columns_is_a_clear_error(events):
    with pytest.raises(ValidationError, match="missing columns"):
        attach_person(events, ibis.table({"id_value": "string"}, name="m"), DEFAULT)


@pytest.mark.parametrize("json_as", ["json", "string"])
def test_extract_and_attach_compile_for_pyspark(json_as):
    ibis.pyspark  # noqa: B018 - importing the backend registers its compile options
    # On PySpark the JSON columns may arrive as plain strings.
    schema = {k: (json_as if v.is_json() else v) for k, v in EVENTS_SCHEMA.items()}
    events = ibis.table(schema, name="events")
    for expr in (
        extract_identifiers(events, DEFAULT),
        attach_person(events, ibis.table(ID_MAP_SCHEMA, name="id_map"), DEFAULT),
    ):
        assert "SELECT" in ibis.to_sql(expr, dialect="pyspark")
