"""Erasure: a person's data is deleted everywhere, and their identifiers stay suppressed."""

from __future__ import annotations

import pytest

import journeylens as jl
from journeylens.errors import NotFoundError


def message(mid: str, **fields) -> dict:
    return {
        "type": "track",
        "event": "View",
        "messageId": mid,
        "timestamp": "2024-01-01T00:00:00Z",
    } | fields


ANN = [
    message("a1", anonymousId="anon-ann", event="Home"),
    {
        "type": "identify",
        "messageId": "a2",
        "anonymousId": "anon-ann",
        "userId": "ann",
        "traits": {"email": "Ann@Example.com"},
        "timestamp": "2024-01-01T00:01:00Z",
    },
    message("a3", userId="ann", event="Order Completed", properties={"revenue": 20}),
]
BOB = [message("b1", userId="bob"), message("b2", anonymousId="anon-bob")]


def workspace() -> tuple[jl.Workspace, str]:
    ws = jl.Workspace.open()
    ws.ingest(ANN + BOB)
    ev = ws.events()
    [ann] = set(ev.filter(ev.user_id == "ann").person_id.to_pyarrow().to_pylist())
    return ws, ann


def test_erasure_deletes_the_persons_events_and_identities_and_keeps_the_others():
    ws, ann = workspace()
    erased = ws.erase_person(ann)
    counts = {k: erased[k] for k in ("person_id", "events", "predictions", "quarantine")}
    assert counts == {"person_id": ann, "events": 3, "predictions": 0, "quarantine": 0}
    assert erased["identifiers"] == 3  # anonymous id, user id, email
    assert erased["models"] == []  # an in-memory workspace has no model files
    assert erased["summary"][0].startswith("events: 3 rows deleted from the events table")
    assert sorted(ws.table("events").message_id.to_pyarrow().to_pylist()) == ["b1", "b2"]
    assert ann not in ws.persons().person_id.to_pyarrow().to_pylist()
    assert "ann" not in ws.table("id_map").id_value.to_pyarrow().to_pylist()
    assert ann not in ws.events().person_id.to_pyarrow().to_pylist()


def test_erasing_the_only_person_leaves_an_empty_workspace():
    ws = jl.Workspace.open()
    ws.ingest(ANN)
    [ann] = set(ws.events().person_id.to_pyarrow().to_pylist())
    assert ws.erase_person(ann)["events"] == 3
    assert ws.info()["events"] == 0
    assert ws.persons().count().to_pyarrow().as_py() == 0


def test_the_suppression_list_holds_hashes_not_the_identifiers():
    ws, ann = workspace()
    ws.erase_person(ann)
    rows = ws.backend.table("suppressed_identifiers").to_pyarrow().to_pylist()
    text = repr(rows)
    assert len(rows) == 3
    assert "ann" not in text.replace("anonymous_id", "")
    assert all(len(r["id_hash"]) == 64 for r in rows)


@pytest.mark.parametrize(
    "later",
    [
        message("n1", userId="ann"),
        message("n2", userId="  ann "),
        message("n3", anonymousId="anon-ann"),
        {
            "type": "identify",
            "messageId": "n4",
            "anonymousId": "new-device",
            "traits": {"email": "ANN@example.COM"},
            "timestamp": "2024-02-01T00:00:00Z",
        },
    ],
    ids=["user id", "user id with spaces", "anonymous id", "email in another case"],
)
def test_a_later_message_carrying_any_erased_identifier_is_not_stored(later):
    ws, ann = workspace()
    ws.erase_person(ann)
    report = ws.ingest([later])
    assert report.accepted == 0
    assert report.rejected_by_code == {"SUPPRESSED": 1}
    assert ws.quarantine().count().execute() == 0  # not kept anywhere


def test_a_replay_of_everything_brings_back_the_others_only():
    ws, ann = workspace()
    ws.erase_person(ann)
    report = ws.ingest(ANN + BOB + [message("b3", userId="bob")])
    assert report.accepted == 1
    assert report.duplicates == 2
    assert report.rejected_by_code == {"SUPPRESSED": 3}
    assert ws.info()["persons"] == 2  # bob's user id and bob's anonymous device


def test_erasure_deletes_the_persons_quarantined_rows():
    ws, ann = workspace()
    ws.ingest([{"type": "track", "userId": "ann", "messageId": "bad-1"}])  # no event name
    assert ws.quarantine().count().execute() == 1
    assert ws.erase_person(ann)["quarantine"] == 1
    assert ws.quarantine().count().execute() == 0


def test_erasing_someone_unknown_is_not_found_and_names_no_other_person():
    ws, _ = workspace()
    with pytest.raises(NotFoundError) as error:
        ws.erase_person("p_0000000000000000")
    assert "p_" not in (error.value.allowed or "")
