"""Ingest, resolve and enrich: throughput and peak memory, each step in a fresh process.

    python bench/bench_ingest.py                      # 20,000 customers, ~1M events
    python bench/bench_ingest.py --customers 200000   # ~10M events (peak-memory check)

The simulated events are streamed to Parquet first (bounded memory), then every step runs in its
own child process so its peak RSS is its own:
- ingest of the Parquet, CSV and JSON lines files into an on-disk workspace, and of the Parquet
  file into an in-memory workspace (the cost of validation without the disk write);
- the same Parquet file again (every row a duplicate);
- a bare DuckDB ``INSERT`` of the same rows into a new database file: the floor any ingest into
  an on-disk DuckDB workspace pays, for the ratio;
- a list of Segment message dicts;
- resolve_identities and the enrichment (events()).
Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def child(step: str, folder: Path, messages: int) -> dict:
    """Run one step in this (fresh) process; return its figures."""
    import duckdb
    import pyarrow.parquet as pq

    import journeylens as jl

    parquet = folder / "events.parquet"
    on_disk = folder / "workspace"
    started = time.perf_counter()
    if step == "duckdb floor":
        rows = pq.ParquetFile(parquet).metadata.num_rows
        con = duckdb.connect(str(folder / "floor.duckdb"))
        con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{parquet}') LIMIT 0")
        for batch in pq.ParquetFile(parquet).iter_batches(batch_size=250_000):
            con.register("batch", batch)
            con.execute("INSERT INTO events SELECT * FROM batch")
            con.unregister("batch")
        con.execute("CHECKPOINT")
        con.close()
    elif step.startswith("ingest"):
        kind = step.split()[1]
        source = {
            "parquet": parquet,
            "csv": folder / "events.csv",
            "jsonl": folder / "events.jsonl",
        }
        if kind == "messages":
            sample = [json.loads(line) for line in (folder / "events.jsonl").open()][:messages]
            started = time.perf_counter()
            ws = jl.Workspace.open(folder / "messages")
            report = ws.ingest(sample)
        elif kind == "memory":
            ws = jl.Workspace.open()
            report = ws.ingest(parquet)
        elif kind == "again":
            ws = jl.Workspace.open(on_disk)
            report = ws.ingest(parquet)
            assert report.accepted == 0, report
        else:
            ws = jl.Workspace.open(on_disk if kind == "parquet" else folder / kind)
            report = ws.ingest(source[kind])
        rows = report.rows
        assert report.rejected_count == 0, report.rejected_by_code
        ws.close()
    elif step == "resolve identities":
        ws = jl.Workspace.open(on_disk)
        rows = ws.info()["events"]
        started = time.perf_counter()
        ws.resolve_identities()
        ws.close()
    elif step == "enrich":
        ws = jl.Workspace.open(on_disk)
        started = time.perf_counter()
        rows = ws.enrich()
        ws.close()
    else:
        raise SystemExit(f"unknown step {step!r}")
    seconds = time.perf_counter() - started
    return {
        "step": step,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


STEPS = [
    "ingest parquet",
    "ingest again",
    "duckdb floor",
    "ingest memory",
    "ingest csv",
    "ingest jsonl",
    "ingest messages",
    "resolve identities",
    "enrich",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--messages",
        type=int,
        default=100_000,
        help="rows ingested as a list of Segment message dicts",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.folder), args.messages)))
        return

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import journeylens as jl
    from journeylens.simulate import write_parquet

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = write_parquet(folder / "events.parquet", args.customers, args.days)
        reader = pq.ParquetFile(folder / "events.parquet")
        with pacsv.CSVWriter(folder / "events.csv", reader.schema_arrow) as csv:
            for batch in reader.iter_batches(batch_size=250_000):
                csv.write_batch(batch)
        # JSON lines of Segment messages (camelCase) from a small simulation of its own.
        small = jl.simulate(customers=max(200, args.messages // 40), days=args.days, seed=1)
        with (folder / "events.jsonl").open("w") as fh:
            for message in small.to_messages(limit=args.messages):
                fh.write(json.dumps(message) + "\n")
        results = []
        for step in STEPS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    step,
                    "--folder",
                    str(folder),
                    "--messages",
                    str(args.messages),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    floor = next(r for r in results if r["step"] == "duckdb floor")
    print(f"events: {written.rows:,}  ({args.customers:,} customers, {args.days} days)")
    print(f"{'step':<22}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'vs floor':>10}{'peak MB':>10}")
    for r in results:
        ratio = r["seconds"] / floor["seconds"] * floor["rows"] / r["rows"]
        print(
            f"{r['step']:<22}{r['rows']:>12,}{r['seconds']:>10.2f}{r['rows_per_s']:>12,}"
            f"{ratio:>10.2f}{r['peak_rss_mb']:>10,}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "customers": args.customers,
        "days": args.days,
        "events": written.rows,
        "results": results,
    }
    (RESULTS / "ingest.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
