"""kill -9 under load loses no acknowledged event and stores none twice.

A real uvicorn server runs in a subprocess; client threads post batches with unique messageIds
and remember which requests were answered 200. The server is killed with SIGKILL mid-load,
started again (its journal is replayed), and stopped cleanly (its drain flushes). Then every
acknowledged messageId must be in the workspace exactly once.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time

from journeylens.api.launch import start_server
from journeylens.workspace import Workspace

CLIENTS = 4
BATCH = 50


def post_batches(port: int, key: str, worker: int, acked: list[str], stop: threading.Event):
    n = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        ids = [f"w{worker}-{n}-{i}" for i in range(BATCH)]
        n += 1
        batch = [
            {"type": "track", "event": "Crash Tested", "anonymousId": f"a{worker}", "messageId": m}
            for m in ids
        ]
        try:
            conn.request(
                "POST",
                "/v1/batch",
                body=json.dumps({"batch": batch, "writeKey": key}),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return  # the server is gone: this batch was never acknowledged
        if response.status == 200:
            acked.extend(ids)


def test_every_acknowledged_event_survives_a_kill_9_exactly_once(tmp_path):
    with Workspace.open(tmp_path) as ws:
        key, _ = ws.create_key("write", "crash test")
    server = start_server(tmp_path)
    port = server.port
    acked: list[list[str]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=post_batches, args=(port, key, w, acked[w], stop))
        for w in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    time.sleep(3)  # long enough for the drain to have stored some batches and not others
    server.kill()  # SIGKILL
    stop.set()
    for t in threads:
        t.join()
    sent = [m for ids in acked for m in ids]
    assert len(sent) > 10 * BATCH, "too little load to test anything"
    with Workspace.open(tmp_path) as ws:
        before_replay = ws.info()["events"]
    # Some acknowledged events were only in the journal when the server died.
    assert before_replay < len(sent)

    server = start_server(tmp_path, port)  # replays the journal
    # A clean stop drains everything durable; uvicorn re-raises the signal once it is done.
    assert server.stop(timeout=60) in (0, -signal.SIGTERM)

    with Workspace.open(tmp_path) as ws:
        events = ws.backend.table("events")
        stored = events.message_id.to_pyarrow().to_pylist()
    assert len(stored) == len(set(stored)), "an event was stored twice"
    missing = set(sent) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events were lost"
