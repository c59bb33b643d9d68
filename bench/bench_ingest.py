"""Ingest throughput: rows/s for Parquet, CSV, JSON lines files, Arrow tables and Segment message
lists, plus resolve and enrich time, on simulated data; peak RSS of the whole run.

    python bench/bench_ingest.py            # ~1M events
    python bench/bench_ingest.py --customers 200000   # ~10M events

Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import journeylens as jl

RESULTS = Path(__file__).parent / "results"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: int, fn, results: list[dict]) -> object:
    started = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - started
    results.append(
        {
            "step": label,
            "rows": rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds) if seconds else None,
            "peak_rss_mb": round(peak_rss_mb()),
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--messages",
        type=int,
        default=200_000,
        help="how many rows to ingest as a list of Segment messages",
    )
    args = parser.parse_args()

    results: list[dict] = []
    sim = timed(
        "simulate", 0, lambda: jl.simulate(customers=args.customers, days=args.days), results
    )
    events = sim.events
    n = events.num_rows
    results[-1]["rows"] = n
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pq.write_table(events, folder / "events.parquet")
        pacsv.write_csv(events, folder / "events.csv")
        sample = events.slice(0, min(n, args.messages))
        messages = sim.to_messages(limit=sample.num_rows)
        with (folder / "events.jsonl").open("w") as fh:
            for m in messages:
                fh.write(json.dumps(m) + "\n")

        for label, source, rows in [
            ("ingest parquet file", folder / "events.parquet", n),
            ("ingest csv file", folder / "events.csv", n),
            ("ingest arrow table", events, n),
            ("ingest jsonl file", folder / "events.jsonl", len(messages)),
            ("ingest message list", messages, len(messages)),
        ]:
            ws = jl.Workspace.open(folder / label.replace(" ", "_"))
            report = timed(label, rows, lambda ws=ws, source=source: ws.ingest(source), results)
            assert report.accepted == rows, (label, report.accepted, report.rejected_by_code)
            if label == "ingest parquet file":
                again = timed(
                    "re-ingest parquet (all duplicates)",
                    rows,
                    lambda ws=ws: ws.ingest(folder / "events.parquet"),
                    results,
                )
                assert again.accepted == 0
                timed("resolve identities", n, ws.resolve_identities, results)
                timed("enrich (events())", n, ws.enrich, results)
            ws.close()

    print(f"{'step':<38}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    for r in results:
        rate = f"{r['rows_per_s']:,}" if r["rows_per_s"] else "-"
        print(
            f"{r['step']:<38}{r['rows']:>12,}{r['seconds']:>10.2f}{rate:>12}{r['peak_rss_mb']:>10,}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {"customers": args.customers, "days": args.days, "events": n, "results": results}
    (RESULTS / "ingest.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
