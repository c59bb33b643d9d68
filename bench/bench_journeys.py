"""The journey runner: sustained events/s with three live journeys, and trigger-to-send latency.

    python bench/bench_journeys.py                      # 20,000 persons
    python bench/bench_journeys.py --persons 100000     # larger

Three templates are live (cart abandonment, browse abandonment, welcome series; holdout 10%).
Simulated shop traffic for ``--persons`` people over ``--days`` days (an identify each, sign-ups,
product views, cart adds, orders: about four events per person) is ingested tick by tick into an
on-disk workspace, each tick's slice received at the tick's instant, and the runner runs once per
tick with the recording channel. Measured per tick, on the wall clock:

- ``ingest``: ``ws.ingest`` of the tick's slice;
- ``runner``: ``run_once`` itself (read the events after its cursor with their persons from the
  identity map, resolving identities again only when a new person shows up or a minute passed,
  advance, one commit, dispatch). The runner never rebuilds the enriched events table.

Then latency: batches of new sign-ups are ingested and the runner ticks at once (as the serve
loop does on its next tick); trigger-to-send is the time from the start of the ingest to the
moment the recording channel accepts the welcome e-mail. The serve loop adds up to its interval
(1 s) of waiting before the tick, not included. Prints a table, writes bench/results/journeys.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

RESULTS = Path(__file__).parent / "results"
T0 = datetime(2026, 3, 2, 0, tzinfo=UTC)
ZONES = np.array(["Europe/London", "America/New_York", "Asia/Seoul"])


def traffic(persons: int, days: float, seed: int) -> pa.Table:
    """Canonical event rows, sorted by timestamp."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"u{i}" for i in range(persons)])
    span = days * 86_400

    def rows(who: np.ndarray, kind: str, event: str | None, at: np.ndarray, tag: str) -> dict:
        return {
            "type": np.full(len(who), kind),
            "event": np.full(len(who), event, dtype=object),
            "user_id": ids[who],
            "message_id": np.char.add(ids[who], f"-{tag}-") + np.arange(len(who)).astype(str),
            "offset": at,
        }

    everyone = np.arange(persons)
    parts = [rows(everyone, "identify", None, np.zeros(persons), "id")]
    signed = everyone[rng.random(persons) < 0.2]
    parts.append(rows(signed, "track", "Signed Up", rng.uniform(0, span, len(signed)), "su"))
    viewers = np.repeat(everyone, 2)
    viewed = rng.uniform(0, span, len(viewers))
    parts.append(rows(viewers, "track", "Product Viewed", viewed, "pv"))
    adders = everyone[rng.random(persons) < 0.5]
    added = rng.uniform(0, span, len(adders))
    parts.append(rows(adders, "track", "Product Added", added, "pa"))
    buy = rng.random(len(adders)) < 0.4
    later = added[buy] + rng.uniform(600, 2 * 86_400, buy.sum())
    parts.append(rows(adders[buy], "track", "Order Completed", later, "oc"))
    columns = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(columns["offset"], kind="stable")
    stamps = [T0 + timedelta(seconds=float(s)) for s in columns["offset"][order]]
    traits = [
        json.dumps({"email": f"{u}@example.com", "timezone": str(ZONES[i % 3])})
        if kind == "identify"
        else None
        for i, (u, kind) in enumerate(
            zip(columns["user_id"][order], columns["type"][order], strict=True)
        )
    ]
    return pa.table(
        {
            "type": columns["type"][order],
            "event": pa.array(columns["event"][order].tolist(), pa.string()),
            "user_id": columns["user_id"][order],
            "message_id": columns["message_id"][order],
            "timestamp": pa.array(stamps, pa.timestamp("us", "UTC")),
            "traits": pa.array(traits, pa.string()),
        }
    )


class InstantProvider:
    """A provider that accepts every message at once, noting when (wall clock): the runner's
    own cost, without a network or a file's fsync per message."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.recipients: dict[str, str | None] = {}

    def send(self, message):
        from journeylens.activate.channels import Delivery

        self.accepted.setdefault(message.idempotency_key, time.perf_counter())
        self.recipients[message.idempotency_key] = message.recipient
        return Delivery("sent", provider_message_id=message.idempotency_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--ticks", type=int, default=12)
    parser.add_argument("--latency-batches", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--ack-batch",
        type=int,
        default=1,
        help="Send outcomes stored per commit (1: each at once, the default).",
    )
    args = parser.parse_args()

    import journeylens as jl
    from journeylens.activate.dispatch import recording_channels
    from journeylens.activate.publish import journey_store, publish_journey
    from journeylens.activate.runner import run_once
    from journeylens.activate.templates import load_template

    rows = traffic(args.persons, args.days, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="jl-bench-journeys-"))
    clock = {"now": T0}
    ws = jl.Workspace.open(folder / "ws", clock=lambda: clock["now"])
    for name in ("cart_abandonment", "browse_abandonment", "welcome_series"):
        publish_journey(ws, load_template(name), T0 - timedelta(minutes=1))
    recorder = InstantProvider()
    channels = {k: recorder for k in recording_channels(ws, folder / "unused.jsonl")}

    stamps = rows.column("timestamp").to_numpy()
    step = timedelta(days=args.days + 3) / args.ticks
    ticks, totals = [], {"events": 0, "timers": 0, "actions": 0, "sent": 0}
    previous = np.datetime64(T0.replace(tzinfo=None), "us")
    for k in range(1, args.ticks + 1):
        now = T0 + step * k
        edge = np.datetime64(now.replace(tzinfo=None), "us")
        chosen = np.flatnonzero((stamps >= previous) & (stamps < edge))
        clock["now"] = now
        started = time.perf_counter()
        if len(chosen):
            ws.ingest(rows.take(chosen), source_name="bench")
        ingested = time.perf_counter()
        report = run_once(
            ws, now, channels=channels, batch_events=10_000_000, ack_batch=args.ack_batch
        )
        done = time.perf_counter()
        ticks.append(
            {
                "tick": k,
                "ingested": len(chosen),
                "events": report.events,
                "timers": report.timers,
                "actions": report.actions,
                "sent": report.dispatch.sent,
                "ingest_s": ingested - started,
                "runner_s": done - ingested,
            }
        )
        for key in totals:
            totals[key] += ticks[-1][key]
        previous = edge
        print(ticks[-1], flush=True)

    # Latency: new sign-ups, ingested then ticked at once.
    latencies = []
    # Midday UTC, outside the templates' quiet hours, so the welcome e-mail goes out at once.
    clock["now"] = (clock["now"] + timedelta(days=1)).replace(hour=12, minute=0)
    # Send what is still due first, so the new sign-ups' e-mails do not queue behind it.
    run_once(ws, clock["now"], channels=channels, dispatch_limit=10_000_000, ack_batch=100)
    for b in range(args.latency_batches):
        now = clock["now"] + timedelta(seconds=1)
        clock["now"] = now
        batch = [
            {
                "type": "identify",
                "userId": f"new{b}-{i}",
                "messageId": f"new{b}-{i}-id",
                "timestamp": now.isoformat(),
                "traits": {"email": f"n{b}{i}@example.com"},
            }
            for i in range(10)
        ] + [
            {
                "type": "track",
                "userId": f"new{b}-{i}",
                "event": "Signed Up",
                "messageId": f"new{b}-{i}-su",
                "timestamp": now.isoformat(),
            }
            for i in range(10)
        ]
        started = time.perf_counter()
        ws.ingest(batch, source_name="bench-latency")
        before = set(recorder.accepted)
        run_once(ws, now, channels=channels, ack_batch=args.ack_batch)
        # Only the welcome e-mails of this batch's sign-ups: the trigger-to-send of a trigger.
        wanted = {f"n{b}{i}@example.com" for i in range(10)}
        sent = [
            recorder.accepted[k] - started
            for k in set(recorder.accepted) - before
            if recorder.recipients[k] in wanted
        ]
        latencies += sent
    counts = journey_store(ws).counts()
    ws.close()
    shutil.rmtree(folder, ignore_errors=True)

    runner_s = sum(t["runner_s"] for t in ticks)
    ingest_s = sum(t["ingest_s"] for t in ticks)
    lat = np.array(latencies) * 1000
    result = {
        "persons": args.persons,
        "days": args.days,
        "ticks": args.ticks,
        "events_ingested": rows.num_rows,
        "journeys": 3,
        "ack_batch": args.ack_batch,
        **totals,
        "runner_seconds": runner_s,
        "ingest_seconds": ingest_s,
        "runner_events_per_s": totals["events"] / runner_s if runner_s else None,
        "runner_inputs_per_s": (totals["events"] + totals["timers"]) / runner_s
        if runner_s
        else None,
        "end_to_end_events_per_s": rows.num_rows / (runner_s + ingest_s),
        "sends_per_s_dispatch": totals["sent"] / runner_s if runner_s else None,
        "latency_messages": len(latencies),
        "latency_p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
        "latency_p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
        "store": counts,
        "per_tick": ticks,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "journeys.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing[f"{args.persons}/ack{args.ack_batch}"] = result
    out.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    print()
    print(
        f"{'persons':>10} {'events':>10} {'inputs/s':>10} {'runner ev/s':>12} "
        f"{'e2e ev/s':>10} {'sends':>8} {'p50 ms':>8} {'p99 ms':>8}"
    )
    print(
        f"{args.persons:>10,} {rows.num_rows:>10,} {result['runner_inputs_per_s']:>10,.0f} "
        f"{result['runner_events_per_s']:>12,.0f} {result['end_to_end_events_per_s']:>10,.0f} "
        f"{totals['sent']:>8,} {result['latency_p50_ms']:>8.0f} {result['latency_p99_ms']:>8.0f}"
    )


if __name__ == "__main__":
    main()
