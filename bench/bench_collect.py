"""The collector under sustained load: events/s, request latency, and loss.

    python bench/bench_collect.py                          # 4 clients x 2 connections, 20 s
    python bench/bench_collect.py --clients 2 --seconds 10 --batch 200

A real uvicorn server (one process, as ``journeylens serve`` runs it) serves a fresh on-disk
workspace on loopback. Client processes, each with keep-alive connections in threads, post
``/v1/batch`` requests of ``--batch`` realistic track events (about 600 bytes each, unique
messageIds, analytics-python's shape and HTTP Basic auth) as fast as the server answers. Latency
is from sending a request to reading its 200, i.e. until the batch is durable in the journal.
Afterwards the server is stopped cleanly (its drain stores the rest) and the workspace is
counted: loss = acknowledged events not stored. The clients share the machine with the server,
so the figure is a floor for the server alone.

Prints a table and writes bench/results/collect.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import tempfile
import threading
import time
from base64 import b64encode
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
EVENT = (
    '{"type":"track","event":"Product Viewed","messageId":"%s","anonymousId":"anon-%d",'
    '"userId":null,"timestamp":"2024-05-01T12:00:00.000000+00:00","integrations":{},'
    '"properties":{"product_id":"sku-12345","category":"Shoes","price":59.9,"currency":"EUR",'
    '"name":"Trail Runner 2","position":3,"url":"https://shop.example/p/sku-12345"},'
    '"context":{"library":{"name":"analytics-python","version":"2.3.2"},"ip":"203.0.113.7",'
    '"page":{"path":"/p/sku-12345","referrer":"https://www.google.com/","title":"Trail Runner"},'
    '"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",'
    '"campaign":{"name":"spring","source":"google","medium":"cpc"},"locale":"en-GB"}}'
)


def client(port: int, key: str, worker: int, threads: int, batch: int, seconds: float, out):
    """One client process: ``threads`` keep-alive connections posting batches until time is up.
    Puts (acked message ids count, latencies, errors) on ``out``."""
    auth = "Basic " + b64encode(f"{key}:".encode()).decode()
    deadline = time.monotonic() + seconds
    results: list[tuple[list[str], list[float], int]] = []

    def run(thread: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        acked: list[str] = []
        latencies: list[float] = []
        errors = 0
        n = 0
        while time.monotonic() < deadline:
            prefix = f"{worker}-{thread}-{n}-"
            n += 1
            events = ",".join(EVENT % (prefix + str(i), i % 500) for i in range(batch))
            body = f'{{"batch":[{events}],"sentAt":"2024-05-01T12:00:01.000000+00:00"}}'
            started = time.perf_counter()
            conn.request(
                "POST",
                "/v1/batch",
                body=body.encode(),
                headers={"Content-Type": "application/json", "Authorization": auth},
            )
            response = conn.getresponse()
            response.read()
            latency = time.perf_counter() - started
            if response.status == 200:
                acked.append(prefix)
                latencies.append(latency)
            else:
                errors += 1
                if response.status == 429:
                    time.sleep(float(response.getheader("Retry-After", "1")))
        results.append((acked, latencies, errors))

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(
        (
            [p for acked, _, _ in results for p in acked],
            [x for _, lat, _ in results for x in lat],
            sum(e for _, _, e in results),
        )
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=2, help="connections per client")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    from journeylens.api.launch import start_server
    from journeylens.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "workspace"
        with Workspace.open(folder) as ws:
            key, _ = ws.create_key("write", "bench")
        server = start_server(folder)
        port = server.port
        out: mp.Queue = mp.Queue()
        procs = [
            mp.Process(
                target=client,
                args=(port, key, w, args.threads, args.batch, args.seconds, out),
            )
            for w in range(args.clients)
        ]
        started = time.perf_counter()
        for p in procs:
            p.start()
        parts = [out.get() for _ in procs]
        elapsed = time.perf_counter() - started
        for p in procs:
            p.join()
        stop_started = time.perf_counter()
        server.stop()  # the drain stores what is still in the journal
        drain_tail = time.perf_counter() - stop_started
        prefixes = [p for acked, _, _ in parts for p in acked]
        latencies = [x for _, lat, _ in parts for x in lat]
        errors = sum(e for _, _, e in parts)
        acked = len(prefixes) * args.batch
        with Workspace.open(folder) as ws:
            events = ws.backend.table("events")
            stored_ids = events.message_id.to_pyarrow().to_pylist()
            journal_bytes = sum(f.stat().st_size for f in (folder / "journal").glob("*"))
        kept = set(stored_ids)
        lost = sum(f"{p}{i}" not in kept for p in prefixes for i in range(args.batch))
    figures = {
        "clients": args.clients,
        "connections": args.clients * args.threads,
        "events_per_request": args.batch,
        "seconds": round(elapsed, 2),
        "requests_ok": len(prefixes),
        "requests_refused": errors,
        "events_acknowledged": acked,
        "events_per_second": round(acked / elapsed),
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "events_stored": len(stored_ids),
        "stored_twice": len(stored_ids) - len(set(stored_ids)),
        "lost": lost,
        "drain_tail_seconds": round(drain_tail, 2),
        "journal_bytes_left": journal_bytes,
        "cpus": os.cpu_count(),
    }
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "collect.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
