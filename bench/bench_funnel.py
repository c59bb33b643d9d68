"""``jl.funnel`` beside a hand-written DuckDB query of the same funnel, on simulated events.

    python bench/bench_funnel.py                        # 20,000 customers, ~1M events
    python bench/bench_funnel.py --customers 200000 --raw   # ~10M events, Parquet loaded as is
    python bench/bench_funnel.py --database bench/data/analytics-200000/workspace/journeylens.duckdb
                                                        # an existing enriched table (~10M events)

The funnel: Product Viewed → Product Added → Checkout Started → Order Completed, ordered,
7-day window, "Order Refunded" excluded over the whole funnel. The simulated events are
written to ``bench/data/funnel-<customers>/events.parquet`` and ingested, resolved and
enriched once into a workspace there (kept between runs). Each measurement runs in its own
child process with DuckDB at 2 threads, so its peak RSS is its own. The hand-written SQL is
the deepest chain per person in the window (ClickHouse windowFunnel: each step's slot keeps
the latest start that reached it, one window pass per step) with PostHog's exclusion rule;
its step counts must equal ``jl.funnel``'s. The reference for speed is the lead's
``windowFunnel`` query of ``bench/bench_analytics.py`` (ASOF joins chaining the earliest next
step from each step-1 event, no exclusion, so its counts differ a little); the ratio
journeylens / windowFunnel is the issue's target. ``--database`` reads an existing database's
``events_enriched`` table instead of building one. Prints a table and writes
``bench/results/funnel.json`` (one entry per data size).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "funnel.json"
DATA = HERE / "data"

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
EXCLUDED = "Order Refunded"
WINDOW_SECONDS = 7 * 86_400
#: ``sql``: PostHog's semantics by hand; ``windowfunnel``: the lead's ASOF-join reference.
ENGINES = ("windowfunnel", "sql", "journeylens")


def prepare(customers: int, *, raw: bool) -> Path:
    """The bench database (built once): a workspace, or with ``raw`` the Parquet loaded as is
    with ``person_id`` = user id, else anonymous id (no identity resolution or enrichment; a
    cheap way to get 10M+ rows on a shared machine)."""
    import journeylens as jl
    from journeylens.simulate import write_parquet

    folder = DATA / f"funnel-{customers}"
    parquet = folder / "events.parquet"
    if not parquet.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_parquet(parquet, customers, 90, seed=0)
    if raw:
        import duckdb

        database = folder / "raw.duckdb"
        if not database.exists():
            with duckdb.connect(str(database)) as con:
                con.execute(
                    "CREATE TABLE events_enriched AS SELECT *, "
                    "coalesce(user_id, anonymous_id) AS person_id "
                    f"FROM read_parquet('{parquet}')"
                )
        return database
    database = folder / "workspace" / "journeylens.duckdb"
    if not database.exists():
        ws = jl.Workspace.open(folder / "workspace")
        ws.ingest(parquet)
        ws.resolve_identities()
        ws.events()
        ws.close()
    return database


def sql_funnel(table: str) -> str:
    """The same funnel by hand: (event, step) pairs in time order (an event's exclusion first,
    its steps from the highest down); per step, the slot's latest start before each row (a
    running max); an attempt moves on within the window unless an exclusion came after it
    entered its slot; a person is dropped when the furthest attempt was caught by an exclusion
    inside its window (or only an excluded attempt got that far)."""
    n = len(STEPS)
    matches = ", ".join(f"event = '{s}' AS m{k}" for k, s in enumerate(STEPS, start=1))
    names = ", ".join(f"'{s}'" for s in [*STEPS, EXCLUDED])
    codes = ", ".join(
        [f"CASE WHEN event = '{EXCLUDED}' THEN 0 END"]
        + [f"CASE WHEN m{k} THEN {k} END" for k in range(1, n + 1)]
    )
    w = "PARTITION BY person_id ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    win = f"INTERVAL {WINDOW_SECONDS} SECOND"
    parts = [
        f"e AS (SELECT person_id, timestamp, message_id, event, {matches} FROM {table} "
        f"WHERE person_id IS NOT NULL AND type IN ('track', 'page', 'screen') "
        f"AND event IN ({names}))",
        f"p AS (SELECT person_id, timestamp, message_id, unnest([{codes}]) AS p FROM e)",
        "o AS (SELECT person_id, timestamp, p, row_number() OVER (PARTITION BY person_id "
        f"ORDER BY timestamp, message_id, CASE WHEN p = 0 THEN 0 ELSE {n + 1} - p END) AS pos "
        "FROM p WHERE p IS NOT NULL)",
        "l1 AS (SELECT *, CASE WHEN p = 1 THEN {'s': timestamp, 'np': -pos} END AS st1, "
        "NULL::TIMESTAMPTZ AS sx1 FROM o)",
    ]
    for k in range(2, n + 2):
        j = k - 1  # the slot this pass reads; the last pass only records slot n
        step = (
            f"CASE WHEN p = {k} AND timestamp <= pv.s + {win} AND coalesce(lx < -pv.np, true) "
            f"THEN {{'s': pv.s, 'np': -pos}} END AS st{k}, "
            f"CASE WHEN p = {k} AND timestamp <= pv.s + {win} AND lx > -pv.np "
            f"THEN pv.s END AS sx{k}, "
            if k <= n
            else ""
        )
        parts.append(
            f"l{k} AS (SELECT * EXCLUDE (pv, lx), {step}"
            f"p = {j} AND st{j} IS NOT NULL AND coalesce(st{j}.s <> pv.s, true) AS e{j}, "
            f"p = {j} AND sx{j} IS NOT NULL AND coalesce(sx{j} <> pv.s, true) AS x{j}, "
            f"-pv.np AS pe{j}, pv.s AS xs{j}, lx AS xl{j} "
            f"FROM (SELECT *, max(st{j}) OVER ({w}) AS pv, "
            f"max(CASE WHEN p = 0 THEN pos END) OVER ({w}) AS lx FROM l{k - 1}))"
        )
    entry = " OR ".join(f"coalesce(e{k}, false)" for k in range(1, n + 1))
    shadow = " OR ".join(f"coalesce(x{k}, false)" for k in range(2, n + 1))
    marks = ", ".join(
        f"coalesce(p = 0 AND timestamp <= xs{i} + {win} AND coalesce(xl{i} < pe{i}, true) "
        f"AND coalesce(xs{i + 1} <> xs{i}, true), false) AS mk{i}"
        for i in range(1, n)
    )
    parts.append(f"g AS (SELECT *, {entry} AS entry, {shadow} AS shadow, {marks} FROM l{n + 1})")
    nxt = ", ".join(
        f"min(CASE WHEN mk{i} THEN timestamp END) OVER (PARTITION BY person_id ORDER BY pos "
        f"ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS nm{i}, "
        f"max(CASE WHEN mk{i} THEN pos END) OVER ({w}) AS lm{i}"
        for i in range(1, n)
    )
    parts.append(f"h AS (SELECT *, {nxt} FROM g)")
    hold = " ".join(
        f"WHEN p = {k} THEN (pe{k} IS NULL OR coalesce(lm{k} > pe{k}, false)) "
        f"AND (nm{k} IS NULL OR nm{k} > st{k}.s + {win})"
        for k in range(1, n)
    )
    hold += f" WHEN p = {n} THEN pe{n} IS NULL"
    parts.append(
        "u AS (SELECT person_id, max(p) FILTER (WHERE entry) AS dc, "
        "max(p) FILTER (WHERE shadow) AS dx, "
        f"max(p) FILTER (WHERE entry AND (CASE {hold} END)) AS dh FROM h GROUP BY 1)"
    )
    counts = ", ".join(f"count(*) FILTER (WHERE dc >= {k}) AS step_{k}" for k in range(1, n + 1))
    return (
        f"WITH {', '.join(parts)} SELECT {counts} FROM u "
        "WHERE dc IS NOT NULL AND coalesce(dx <= dc, true) AND dh = dc"
    )


def child(engine: str, database: str) -> dict[str, Any]:
    """One measurement in this fresh process: its answer, time and peak memory."""
    import duckdb
    import ibis

    from bench_analytics import sql_funnel as window_funnel_sql
    from journeylens.analysis.funnel import FunnelSpec, funnel

    con = duckdb.connect(database, read_only=True)
    con.execute("SET threads = 2")
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if engine == "sql":
        answer = [int(v) for v in con.execute(sql_funnel("events_enriched")).fetchone()]
    elif engine == "windowfunnel":
        answer = [int(v) for v in con.execute(window_funnel_sql("events_enriched")).fetchone()]
    else:
        events = ibis.duckdb.from_connection(con).table("events_enriched")
        # A workspace keeps these as JSON text; Workspace.events() reads them as JSON.
        events = events.mutate(
            **{c: events[c].cast("json") for c in ("properties", "context", "traits")}
        )
        spec = FunnelSpec(
            steps=STEPS,
            window=f"{WINDOW_SECONDS}s",
            exclusions=[{"event": EXCLUDED, "from_step": 0, "to_step": len(STEPS) - 1}],
        )
        result = funnel(events, spec)
        answer = [s.count for s in result.steps]
        extra = {"median_seconds": [s.median_time_to_convert_seconds for s in result.steps]}
    seconds = time.perf_counter() - started
    return {
        "answer": answer,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **extra,
    }


def measure(engine: str, database: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--database", str(database)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs per engine; best is kept")
    parser.add_argument("--raw", action="store_true", help="load the Parquet as is (see prepare)")
    parser.add_argument("--child", choices=list(ENGINES))
    parser.add_argument(
        "--database", help="an existing database with an events_enriched table (no build)"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.database)))
        return

    database = Path(args.database) if args.database else prepare(args.customers, raw=args.raw)
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM events_enriched").fetchone()[0]
    # Interleaved, so a noisy neighbour slows every engine alike.
    runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in ENGINES}
    for _ in range(args.repeat):
        for engine in ENGINES:
            runs[engine].append(measure(engine, database))
    best = {engine: min(r, key=lambda m: m["seconds"]) for engine, r in runs.items()}
    if best["sql"]["answer"] != best["journeylens"]["answer"]:
        raise SystemExit(f"answers differ: {best}")
    ratio = best["journeylens"]["seconds"] / best["windowfunnel"]["seconds"]
    ratio_sql = best["journeylens"]["seconds"] / best["sql"]["seconds"]
    print(f"{rows:,} events; funnel counts {best['sql']['answer']}")
    print(f"{'engine':<14}{'seconds':>10}{'peak RSS MB':>14}  counts")
    for engine, m in best.items():
        print(f"{engine:<14}{m['seconds']:>10.2f}{m['peak_rss_mb']:>14}  {m['answer']}")
    print(f"ratio journeylens / windowfunnel: {ratio:.2f}; journeylens / sql: {ratio_sql:.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "events": rows,
        "customers": None if args.database else args.customers,
        "data": args.database
        or ("raw parquet (person_id = user_id or anonymous_id)" if args.raw else "workspace"),
        "steps": STEPS,
        "excluded": EXCLUDED,
        "window_seconds": WINDOW_SECONDS,
        "answer": best["sql"]["answer"],
        "runs": runs,
        "best": best,
        "ratio": round(ratio, 3),
        "ratio_to_posthog_sql": round(ratio_sql, 3),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "command": " ".join(["python", "bench/bench_funnel.py", *sys.argv[1:]]),
    }
    # One entry per data size, so a 1M and a 10M run sit side by side.
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous = previous if "runs" not in previous else {}
    key = f"{args.customers}{'-raw' if args.raw else ''}"
    previous[f"{rows}-events" if args.database else key] = report
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
