"""Kill -9 the runner at random points while it processes cart traffic; after restarts every due
message has been delivered exactly once.

The expected messages come from the pure engine alone: an in-process replay of the same traffic
in time order (events at their timestamps, timers at their due times), with no store, no
cursor and no crash. The runner, killed several times and restarted, must deliver exactly
those: the recording channel's log (written and fsync-ed before each acknowledgement) holds
each expected key once as a delivery, and nothing else.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import journeylens as jl
from journeylens.activate.channels import read_recording
from journeylens.activate.context import person_context, read_people
from journeylens.activate.engine import advance
from journeylens.activate.publish import publish_journey
from journeylens.activate.runner import relevant_events
from journeylens.activate.state import EventInput, SentRecord, TimerInput
from journeylens.activate.templates import load_template

from .cart_traffic import cart_traffic

START = datetime(2026, 3, 2, 6, tzinfo=UTC)
DRIVER = Path(__file__).with_name("crash_driver.py")


def expected_sends(ws, journey, messages, end):
    """The message actions the pure engine decides over the traffic, due by ``end``:
    ``{idempotency_key: (person_id, node_id)}``."""
    names = relevant_events([journey])
    events = ws.events()
    ids = {m["messageId"] for m in messages if m.get("event") in names}
    rows = (
        events.filter(events.message_id.isin(sorted(ids)))
        .select("message_id", "event", "timestamp", "person_id")
        .to_pyarrow()
        .to_pylist()
    )
    facts = read_people(ws, {r["person_id"] for r in rows})
    queue = [(r["timestamp"], 1, r["message_id"], r) for r in rows]
    heapq.heapify(queue)
    live, summaries, sends, due = {}, {}, {}, {}

    def step(pid, state, inp, at):
        ctx = person_context(
            facts[pid],
            at,
            recent_sends=sends.get(pid, []),
            instances=list(summaries.get(pid, {}).values()),
        )
        new, actions = advance(state, inp, journey, at, ctx)
        if new is None or new is state:
            return
        summaries.setdefault(pid, {})[new.instance_id] = new.summary(0)
        live[new.instance_id] = new
        if new.timer is not None and new.timer.due_at <= end:
            timer = TimerInput(timer_id=new.timer.id, due_at=new.timer.due_at)
            heapq.heappush(queue, (new.timer.due_at, 0, new.instance_id, timer))
        for action in actions:
            sends.setdefault(pid, []).append(
                SentRecord(channel=action.channel, sent_at=action.not_before)
            )
            if action.not_before <= end:
                due[action.idempotency_key] = (pid, action.node_id)

    while queue:
        at, rank, key, item = heapq.heappop(queue)
        if rank == 0:
            state = live[key]
            step(state.person_id, state, item, max(at, state.updated_at))
            continue
        pid = item["person_id"]
        inp = EventInput(message_id=item["message_id"], event=item["event"], timestamp=at)
        for state in [s for s in live.values() if s.person_id == pid and s.live]:
            step(pid, state, inp, max(at, state.updated_at))
        step(pid, None, inp, at)
    return due


def test_a_runner_killed_at_random_points_delivers_every_due_message_exactly_once(tmp_path):
    journey = load_template("cart_abandonment")
    messages = cart_traffic(120, days=3, start=START, seed=11)
    ticks = [START + timedelta(hours=15 * k) for k in range(1, 9)]  # five days
    folder, recording = tmp_path / "ws", tmp_path / "sent.jsonl"
    with jl.Workspace.open(folder, clock=lambda: START) as ws:
        publish_journey(ws, journey, START)
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "workspace": str(folder),
                "recording": str(recording),
                "progress": str(tmp_path / "progress"),
                "ticks": [t.isoformat() for t in ticks],
                "messages": messages,
            }
        )
    )
    rng = random.Random(5)
    kills = 0
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(plan)],
            stdout=subprocess.PIPE,
            env=env,
        )
        # Start-up time varies with the machine's load; the kill point is drawn from when the
        # runner is ready to work, so it lands mid-run on a fast machine as on a slow one.
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(rng.uniform(0.05, 0.8))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    finished = subprocess.run(
        [sys.executable, str(DRIVER), str(plan)], env=env, capture_output=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]

    log = list(read_recording(recording))
    delivered = [r["idempotency_key"] for r in log if not r["duplicate"]]
    retried = [r["idempotency_key"] for r in log if r["duplicate"]]
    with jl.Workspace.open(folder, clock=lambda: ticks[-1]) as ws:
        expected = expected_sends(ws, journey, messages, ticks[-1])
    print(
        f"kills={kills} expected={len(expected)} delivered={len(delivered)} "
        f"unacknowledged retries={len(retried)}"
    )
    assert kills >= 3  # the runner really was killed mid-run, several times
    assert len(expected) > 50
    assert len(delivered) == len(set(delivered))  # nobody got a message twice
    assert set(delivered) == set(expected)  # and nobody missed one
    # A retry only ever repeats a send whose acknowledgement a kill cut off.
    assert len(retried) <= kills
    assert set(retried) <= set(delivered)
