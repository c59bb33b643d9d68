"""Funnel, transitions, sessions and retention at scale, each beside hand-written DuckDB SQL.

    python bench/bench_analytics.py                       # 200,000 customers, ~10M events
    python bench/bench_analytics.py --scale 10            # also ~100M events (10 copies)
    python bench/bench_analytics.py --customers 20000     # ~1M events, a quick run
    python bench/bench_analytics.py --customers 100000 \\
        --retentioneering /path/to/venv/bin/python        # ~5M events beside Retentioneering 5

The simulated events are ingested, resolved and enriched once into a workspace under
``bench/data/analytics-<customers>/`` (kept between runs). ``--scale N`` adds a table of N copies
of the enriched events, each copy with its own persons, sessions and message ids, so the
analyses see N times the persons with the same journeys. Every measurement runs in its own
child process (its peak RSS is its own) with DuckDB limited to 2 GB and 2 threads, as a
workspace is; each journeylens answer is checked against the SQL answer of the same semantics.
With ``--retentioneering``, the same events are exported to Parquet and Retentioneering 5 (in
its own virtual environment) does the work both tools do: an ordered funnel without a window,
the transition matrix by count and by unique paths, the step matrix and a 30-minute session
split. Prints a table and writes ``bench/results/analytics.json``.
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
RESULTS = HERE / "results" / "analytics.json"
DATA = HERE / "data"

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
EXCLUDED = "Order Refunded"
WINDOW_SECONDS = 7 * 86_400
SESSION_SECONDS = 30 * 60
MEMORY_LIMIT = "2GB"
LAST_DAY = "2026-03-31"  # the simulation's 90 days start on 2026-01-01


# ----------------------------------------------------------------------------- data


def prepare(customers: int, scale: int) -> Path:
    """The bench database (built once): enriched events, plus ``events_x{scale}`` copies."""
    import journeylens as jl
    from journeylens.simulate import write_parquet

    folder = DATA / f"analytics-{customers}"
    database = folder / "workspace" / "journeylens.duckdb"
    if not database.exists():
        folder.mkdir(parents=True, exist_ok=True)
        parquet = folder / "events.parquet"
        if not parquet.exists():
            write_parquet(parquet, customers, 90, seed=0)
        ws = jl.Workspace.open(folder / "workspace")
        ws.ingest(parquet)
        ws.resolve_identities()
        ws.events()
        ws.close()
    if scale > 1:
        import duckdb

        con = duckdb.connect(str(database))
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        name = f"events_x{scale}"
        if not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0]:
            con.execute(
                f"""CREATE TABLE {name} AS
                SELECT * REPLACE (
                    message_id || '~' || k AS message_id,
                    person_id || '~' || k AS person_id,
                    session_id || '~' || k AS session_id)
                FROM events_enriched, range({scale}) AS copies(k)"""
            )
        con.close()
    return database


def subset(database: Path, persons_share: float) -> Path:
    """A copy of a share of the persons (all their events) in a file of its own, and its
    Parquet export (``person_id``, ``event``, ``timestamp``) for Retentioneering."""
    import duckdb

    folder = database.parent.parent / f"subset-{persons_share}"
    target = folder / "events.duckdb"
    if not target.exists():
        folder.mkdir(exist_ok=True)
        con = duckdb.connect(str(target))
        con.execute(f"ATTACH '{database}' AS src (READ_ONLY)")
        con.execute(
            f"""CREATE TABLE events_enriched AS SELECT * FROM src.events_enriched
            WHERE person_id IS NOT NULL AND hash(person_id) % 1000 < {int(persons_share * 1000)}"""
        )
        con.execute(
            f"""COPY (SELECT person_id, event, timestamp FROM events_enriched
                      WHERE type IN ('track', 'page', 'screen')
                      ORDER BY person_id, timestamp, message_id)
            TO '{folder / "paths.parquet"}' (FORMAT parquet)"""
        )
        con.close()
    return target


# ----------------------------------------------------------------------------- hand-written SQL

_EVENTS = (
    "(SELECT person_id, event, timestamp, message_id FROM {table} WHERE person_id IS NOT NULL)"
)


def sql_funnel(table: str) -> str:
    """Deepest ordered chain per person within the window (ClickHouse windowFunnel): from every
    step-1 event, the earliest next step at or after the previous one (ASOF joins)."""
    steps = ", ".join(f"'{s}'" for s in STEPS)
    parts = [
        f"e AS (SELECT person_id, event, timestamp FROM {table} "
        f"WHERE person_id IS NOT NULL AND event IN ({steps}))"
    ]
    for k, step in enumerate(STEPS, start=1):
        parts.append(f"s{k} AS (SELECT person_id, timestamp AS t FROM e WHERE event = '{step}')")
    parts.append("c1 AS (SELECT person_id, t AS t1 FROM s1)")
    for k in range(2, len(STEPS) + 1):
        previous = ", ".join(f"c{k - 1}.t{j}" for j in range(1, k))
        parts.append(
            # DuckDB's ASOF join matches some row even when the probe is null: guard it.
            f"c{k} AS (SELECT c{k - 1}.person_id, {previous}, "
            f"CASE WHEN c{k - 1}.t{k - 1} IS NOT NULL THEN s{k}.t END AS t{k} FROM c{k - 1} "
            f"ASOF LEFT JOIN s{k} ON c{k - 1}.person_id = s{k}.person_id "
            f"AND s{k}.t >= c{k - 1}.t{k - 1})"
        )
    n = len(STEPS)
    window = f"INTERVAL {WINDOW_SECONDS} SECOND"
    depth = " ".join(f"WHEN t{k} <= t1 + {window} THEN {k}" for k in range(n, 1, -1))
    parts.append(
        f"d AS (SELECT person_id, max(CASE {depth} ELSE 1 END) AS depth FROM c{n} GROUP BY 1)"
    )
    counts = ", ".join(f"count(*) FILTER (WHERE depth >= {k}) AS step_{k}" for k in range(1, n + 1))
    return f"WITH {', '.join(parts)} SELECT {counts} FROM d"


def sql_transitions(table: str) -> str:
    """Consecutive event pairs per person, by events and by unique persons."""
    return f"""
    WITH pairs AS (
        SELECT person_id, event AS source,
               lead(event) OVER (PARTITION BY person_id ORDER BY timestamp, message_id) AS target
        FROM {table} WHERE person_id IS NOT NULL AND type IN ('track', 'page', 'screen'))
    SELECT count(*) AS edges, sum(events) AS transitions, sum(persons) AS person_edges
    FROM (SELECT source, target, count(*) AS events, count(DISTINCT person_id) AS persons
          FROM pairs WHERE target IS NOT NULL GROUP BY 1, 2)"""


def sql_sessions(table: str) -> str:
    """30-minute inactivity sessions per person, as ``split_sessions`` makes them: a gap of more
    than the timeout starts one; each event gets ``<person>:<session start epoch>`` and the
    session's index; the answer is the number of distinct session ids."""
    return f"""
    WITH gaps AS (
        SELECT person_id, timestamp, message_id,
               lag(timestamp) OVER (PARTITION BY person_id ORDER BY timestamp, message_id) AS prev
        FROM {table} WHERE person_id IS NOT NULL),
    starts AS (
        SELECT *, prev IS NULL OR timestamp > prev + INTERVAL {SESSION_SECONDS} SECOND AS starts
        FROM gaps),
    numbered AS (
        SELECT *,
            sum(starts::INT) OVER (PARTITION BY person_id ORDER BY timestamp, message_id
                                   ROWS UNBOUNDED PRECEDING) AS session_index,
            max(CASE WHEN starts THEN epoch(timestamp)::BIGINT END)
                OVER (PARTITION BY person_id ORDER BY timestamp, message_id
                      ROWS UNBOUNDED PRECEDING) AS session_start
        FROM starts)
    SELECT count(DISTINCT person_id || ':' || session_start) FROM numbered"""


def sql_retention(table: str) -> str:
    """Weekly first-time cohorts of Product Viewed, returning with Order Completed, 8 weeks:
    a person's cohort is the week of their first Product Viewed; week k counts the cohort's
    persons with an Order Completed k weeks later (k >= 1); week 0 is the cohort size."""
    return f"""
    WITH act AS (
        SELECT person_id, date_trunc('week', timestamp) AS p,
               bool_or(event = 'Product Viewed') AS s, bool_or(event = 'Order Completed') AS r
        FROM {table}
        WHERE person_id IS NOT NULL AND type IN ('track', 'page', 'screen')
          AND event IN ('Product Viewed', 'Order Completed')
        GROUP BY ALL),
    bounds AS (SELECT date_trunc('week', TIMESTAMPTZ '{LAST_DAY} 00:00:00+00') AS last),
    cohort AS (
        SELECT person_id, min(p) AS c FROM act WHERE s GROUP BY 1
        HAVING min(p) > (SELECT last FROM bounds) - INTERVAL 8 WEEK),
    cells AS (
        SELECT c.c, 0 AS k, count(*) AS n FROM cohort c GROUP BY 1
        UNION ALL
        SELECT c.c, datediff('week', c.c, a.p) AS k, count(*) AS n
        FROM cohort c JOIN act a ON a.person_id = c.person_id
        WHERE a.r AND a.p > c.c AND a.p <= (SELECT last FROM bounds)
          AND a.p < c.c + INTERVAL 8 WEEK
        GROUP BY ALL)
    SELECT sum(n) FILTER (WHERE k = 0), sum(n) FILTER (WHERE k > 0), count(*) FROM cells"""


# ----------------------------------------------------------------------------- journeylens side


def jl_funnel(events: Any, exclusions: bool) -> list[int]:
    import journeylens as jl

    spec = jl.FunnelSpec(
        steps=STEPS,
        window=f"{WINDOW_SECONDS}s",
        exclusions=[{"event": EXCLUDED, "from_step": 0, "to_step": 3}] if exclusions else [],
    )
    return [step.count for step in jl.funnel(events, spec).steps]


def jl_transitions(events: Any) -> list[int]:
    import journeylens as jl

    spec = jl.TransitionsSpec(scope="person", markers=False, collapse_repeats=False)
    frame = jl.transitions(events, spec).to_frame()
    return [len(frame), int(frame.transitions.sum()), int(frame.persons.sum())]


def jl_sessions(events: Any) -> list[int]:
    from journeylens.enrich.sessions import split_sessions

    sessions = split_sessions(events.filter(events.person_id.notnull()), "30m")
    return [int(sessions.select("session_id").distinct().count().execute())]


def jl_retention(events: Any) -> list[int]:
    import journeylens as jl

    spec = jl.RetentionSpec(
        start_event="Product Viewed",
        return_event="Order Completed",
        interval="week",
        total_intervals=8,
        date_to=LAST_DAY,
    )
    result = jl.retention(events, spec)
    cells = [(k, n) for row in result.counts for k, n in enumerate(row) if n]
    return [
        sum(n for k, n in cells if k == 0),
        sum(n for k, n in cells if k > 0),
        len(cells),
    ]


JOURNEYLENS = {
    "funnel": lambda events: jl_funnel(events, exclusions=False),
    "funnel_exclusions": lambda events: jl_funnel(events, exclusions=True),
    "transitions": jl_transitions,
    "sessions": jl_sessions,
    "retention": jl_retention,
}


# ----------------------------------------------------------------------------- one measurement


def child(task: str, engine: str, database: str, table: str) -> dict[str, Any]:
    """Run one measurement in this fresh process; return its answer, time and peak memory."""
    import duckdb
    import ibis

    if engine != "sql":
        # Imported before the clock starts, as in a notebook.
        import journeylens
        import journeylens.enrich.sessions  # noqa: F401

    con = duckdb.connect(database, read_only=True)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    if engine == "sql":
        query = {
            "funnel": sql_funnel,
            "funnel_exclusions": sql_funnel,
            "transitions": sql_transitions,
            "sessions": sql_sessions,
            "retention": sql_retention,
        }[task](table)
        row = con.execute(query).fetchone()
        answer = [int(v) for v in row]
    else:
        events = ibis.duckdb.from_connection(con).table(table)
        events = events.mutate(
            **{c: events[c].cast("json") for c in ("properties", "context", "traits")}
        )
        answer = JOURNEYLENS[task](events)
    seconds = time.perf_counter() - started
    return {
        "answer": answer,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


# ----------------------------------------------------------------------------- Retentioneering


def rete_child(parquet: str) -> dict[str, Any]:
    """Retentioneering 5 on the exported paths (run with its own interpreter)."""
    os.environ["RETENTIONEERING_NO_TRACK"] = "1"
    import pandas as pd
    import retentioneering as rete

    frame = pd.read_parquet(parquet)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    stream = rete.Eventstream(
        frame,
        schema={"path_cols": ["person_id"], "event_col": "event", "timestamp_col": "timestamp"},
    )
    timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    funnel = stream.funnel_data(steps=STEPS)
    timings["funnel"] = time.perf_counter() - started
    started = time.perf_counter()
    counts = stream.transition_graph_data(edge_weight="count")
    persons = stream.transition_graph_data(edge_weight="unique_paths")
    timings["transitions"] = time.perf_counter() - started
    started = time.perf_counter()
    stream.step_matrix_data(max_steps=10)
    timings["step_matrix"] = time.perf_counter() - started
    started = time.perf_counter()
    sessions = stream.split_sessions(timeout="30m")
    n_sessions = int(sessions.df["session_id"].nunique())
    timings["sessions"] = time.perf_counter() - started
    return {
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "answers": {
            "funnel": [int(step["unique_paths"]) for step in funnel["steps"]],
            "transitions": [int(counts.to_numpy().sum()), int(persons.to_numpy().sum())],
            "sessions": [n_sessions],
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def jl_shared_work(database: str) -> dict[str, Any]:
    """journeylens on the same persons, for the work Retentioneering also does."""
    import duckdb
    import ibis

    import journeylens as jl
    from journeylens.enrich.sessions import split_sessions

    con = duckdb.connect(database, read_only=True)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET threads = 2")
    events = ibis.duckdb.from_connection(con).table("events_enriched")
    events = events.mutate(
        **{c: events[c].cast("json") for c in ("properties", "context", "traits")}
    )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    funnel = jl.funnel(events, jl.FunnelSpec(steps=STEPS, window="3650d"))
    timings["funnel"] = time.perf_counter() - started
    started = time.perf_counter()
    # Retentioneering counts its path_start / path_end events as transitions too.
    spec = jl.TransitionsSpec(scope="person", markers=True, collapse_repeats=False)
    frame = jl.transitions(events, spec).to_frame()
    timings["transitions"] = time.perf_counter() - started
    started = time.perf_counter()
    jl.step_matrix(events, jl.StepMatrixSpec(scope="person", collapse_repeats=False, max_steps=10))
    timings["step_matrix"] = time.perf_counter() - started
    started = time.perf_counter()
    sessions = split_sessions(events.filter(events.type.isin(["track", "page", "screen"])), "30m")
    n_sessions = int(sessions.select("session_id").distinct().count().execute())
    timings["sessions"] = time.perf_counter() - started
    return {
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "answers": {
            "funnel": [step.count for step in funnel.steps],
            "transitions": [int(frame.transitions.sum()), int(frame.persons.sum())],
            "sessions": [n_sessions],
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


# ----------------------------------------------------------------------------- driver


def _run(python: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([python, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


TASKS = ("funnel", "funnel_exclusions", "transitions", "sessions", "retention")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--scale", type=int, default=1, help="also run on N copies")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--retentioneering", metavar="PYTHON", help="its interpreter")
    parser.add_argument("--rete-share", type=float, default=0.5, help="share of persons")
    parser.add_argument("--child", nargs=4, metavar=("TASK", "ENGINE", "DB", "TABLE"))
    parser.add_argument("--rete-child", metavar="PARQUET")
    parser.add_argument("--jl-shared", metavar="DB")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.rete_child:
        print(json.dumps(rete_child(args.rete_child)))
        return
    if args.jl_shared:
        print(json.dumps(jl_shared_work(args.jl_shared)))
        return

    database = prepare(args.customers, args.scale)
    tables = ["events_enriched"] + ([f"events_x{args.scale}"] if args.scale > 1 else [])
    rows = []
    for table in tables:
        for task in args.tasks.split(","):
            sql = _run(sys.executable, "--child", task, "sql", str(database), table)
            ours = _run(sys.executable, "--child", task, "journeylens", str(database), table)
            same = sql["answer"] == ours["answer"]
            rows.append(
                {
                    "table": table,
                    "task": task,
                    "sql_s": sql["seconds"],
                    "journeylens_s": ours["seconds"],
                    "ratio": round(ours["seconds"] / sql["seconds"], 2),
                    "sql_peak_mb": sql["peak_rss_mb"],
                    "journeylens_peak_mb": ours["peak_rss_mb"],
                    "same_answer": same,
                    "answer": ours["answer"],
                    "sql_answer": sql["answer"],
                }
            )
            print(
                f"{table:<16} {task:<18} sql {sql['seconds']:>7.2f}s  jl {ours['seconds']:>7.2f}s"
                f"  ratio {rows[-1]['ratio']:>5.2f}  peak {ours['peak_rss_mb']:>5} MB"
                f"  same {same}",
                flush=True,
            )
    rete = None
    if args.retentioneering:
        shared = subset(database, args.rete_share)
        them = _run(args.retentioneering, "--rete-child", str(shared.parent / "paths.parquet"))
        us = _run(sys.executable, "--jl-shared", str(shared))
        rete = {"retentioneering": them, "journeylens": us}
        for work in us["seconds"]:
            ratio = them["seconds"][work] / us["seconds"][work]
            print(
                f"retentioneering {work:<12} rete {them['seconds'][work]:>7.2f}s"
                f"  jl {us['seconds'][work]:>7.2f}s  jl faster {ratio:>5.1f}x"
                f"  answers rete {them['answers'].get(work)} jl {us['answers'].get(work)}",
                flush=True,
            )
        print(f"retentioneering load (Eventstream from pandas) {them['seconds']['load']:.2f}s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "customers": args.customers,
                "scale": args.scale,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "rows": rows,
                "retentioneering": rete,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
