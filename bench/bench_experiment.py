"""``jl.experiment`` on the bench workspace, and ``jl.stats`` on 1,000 variants.

    python bench/bench_experiment.py
    python bench/bench_experiment.py --arms 1000 --repeat 2 \
        --database bench/data/analytics-200000/workspace/journeylens.duckdb

The workspace (default: the 200,000-customer analytics bench, ~10M enriched events) is opened
read-only with DuckDB at 2 threads; ``events_enriched`` is read as ``Workspace.events()`` reads
it (JSON columns cast). Each experiment spec — three metrics (order conversion, revenue per
person, orders per visit), bayesian, then the same with a 14-day CUPED pre-period — runs
``--repeat`` times and the best time is kept. The statistics part times ``compare`` for 1,000
treatment arms against one control per metric kind and method, ``srm`` over 1,000 arms and the
corrections over 1,000 p-values. Prints a table and writes ``bench/results/experiment.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "experiment.json"
DATABASE = HERE / "data" / "analytics-200000" / "workspace" / "journeylens.duckdb"
PAGES = ["Home", "Category", "Search", "Account", "Help"]
METRICS = [
    {"kind": "conversion", "event": "Order Completed"},
    {"kind": "revenue", "event": "Order Completed"},
    {
        "kind": "ratio",
        "name": "orders per visit",
        "numerator": {"event": "Order Completed"},
        "denominator": {"value": "sessions", "event": {"event": PAGES}},
    },
]


def _best(run: Any, repeat: int) -> tuple[float, Any]:
    best, answer = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = run()
        best = min(best, time.perf_counter() - started)
    return best, answer


def bench_analysis(database: Path, repeat: int) -> list[dict[str, Any]]:
    import duckdb
    import ibis

    from journeylens.analysis.experiment import experiment
    from journeylens.analysis.experiment_spec import ExperimentSpec

    con = duckdb.connect(str(database), read_only=True)
    con.execute("SET threads = 2")
    events = ibis.duckdb.from_connection(con).table("events_enriched")
    events = events.mutate(
        **{c: events[c].cast("json") for c in ("properties", "context", "traits")}
    )
    rows = []
    for label, extra in (("3 metrics", {}), ("3 metrics + CUPED 14d", {"cuped_window": "14d"})):
        spec = ExperimentSpec(experiment_id="checkout_redesign", metrics=METRICS, **extra)
        seconds, result = _best(lambda spec=spec: experiment(events, spec), repeat)
        persons = sum(r.persons for r in result.rows if r.metric == result.rows[0].metric)
        rows.append(
            {
                "task": f"jl.experiment checkout_redesign, {label}",
                "seconds": round(seconds, 3),
                "persons": persons,
                "timeline_points": len(result.timeline),
            }
        )
    con.close()
    return rows


def bench_stats(arms: int, repeat: int) -> list[dict[str, Any]]:
    from journeylens.stats import Mean, Proportion, Ratio, benjamini_hochberg, compare, holm, srm

    rng = np.random.default_rng(0)
    n = 10_000
    conversions = rng.binomial(n, 0.1, arms + 1)
    sums = rng.normal(50.0 * n, 500.0, arms + 1)
    stats = {
        "Proportion": [Proportion(n, int(c)) for c in conversions],
        "Mean": [Mean(n, float(s), float(s * s / n + 100.0 * (n - 1))) for s in sums],
        "Ratio": [
            Ratio(n, float(s), float(s * s / n) * 2, 2.0 * n, 5.0 * n, float(s) * 2.1) for s in sums
        ],
    }
    rows = []
    for kind, arm_stats in stats.items():
        control, treatments = arm_stats[0], arm_stats[1:]
        for method in ("bayesian", "frequentist", "sequential"):

            def run(control=control, treatments=treatments, method=method) -> list:
                return [compare(control, t, method) for t in treatments]

            seconds, _ = _best(run, repeat)
            rows.append({"task": f"compare x{arms} {kind} {method}", "seconds": round(seconds, 4)})
    counts = [int(c) for c in rng.integers(9_900, 10_100, arms)]
    seconds, _ = _best(lambda: srm(counts), repeat)
    rows.append({"task": f"srm over {arms} arms", "seconds": round(seconds, 4)})
    p_values = list(rng.random(arms))
    for name, correction in (("holm", holm), ("benjamini_hochberg", benjamini_hochberg)):
        seconds, _ = _best(lambda correction=correction: correction(p_values), repeat)
        rows.append({"task": f"{name} over {arms} p-values", "seconds": round(seconds, 4)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", type=Path, default=DATABASE)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--arms", type=int, default=1_000)
    args = parser.parse_args()
    rows = bench_stats(args.arms, args.repeat)
    if args.database.exists():
        rows = bench_analysis(args.database, args.repeat) + rows
    else:
        print(f"{args.database} not found: only the statistics are timed")
    width = max(len(r["task"]) for r in rows)
    print(f"{'task':<{width}}  seconds  details")
    for r in rows:
        details = {k: v for k, v in r.items() if k not in ("task", "seconds")}
        print(f"{r['task']:<{width}}  {r['seconds']:>7}  {details or ''}")
    RESULTS.parent.mkdir(exist_ok=True)
    document = {
        "database": str(args.database),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
