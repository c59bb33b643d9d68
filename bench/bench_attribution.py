"""The path models of attribution on a million journeys: time and peak memory of each.

    python bench/bench_attribution.py                         # 1M journeys, 12 and 24 channels
    python bench/bench_attribution.py --journeys 100000       # a quick run
    python bench/bench_attribution.py --channels 12 --models shapley,markov_4

Journeys are generated with numpy (seed 0): 1 to 8 touches each, uniformly; channels drawn
with Zipf-like popularity (channel ``k`` in proportion to ``1 / (k + 1) ** 0.8``; the most
popular one is named ``Direct``); a journey converts with probability
``logistic(-4.6 + sum of its touches' lifts)``, lifts falling evenly from +0.6 for the most
popular channel to -0.4 for the least, which converts about 5%; each conversion is worth a
lognormal amount. The journeys are aggregated into distinct paths (the shape
``PathCounts`` holds, and what the engine hands the models) and saved once under
``bench/data/attribution-<journeys>-<channels>.npz``.

Every measurement runs in a fresh child process that loads the paths (untimed), then times one
step on them: ``path_counts`` (building ``PathCounts`` from tuples of channel names),
``from_frame`` (``path_counts_from_frame`` on one ``"a > b"`` string per distinct path), each
rule model, ``markov_1`` … ``markov_4`` and ``shapley``. ``peak_rss_mb`` is the child's peak
resident memory (loaded paths included); ``base_rss_mb`` is its resident memory before the
timed step. ``credited`` checks that the model's credits add up to the observed conversions.
With ``--events DATABASE`` (a workspace database, such as the one ``bench_analytics.py``
prepares, read-only) it also times ``jl.attribution`` end to end on its ``events_enriched``
table with the default spec (all eight models): journeys built in the engine, every model, path
statistics. Prints a table and writes ``bench/results/attribution.json``.

    python bench/bench_attribution.py --events \
        bench/data/analytics-200000/workspace/journeylens.duckdb   # ~10M events
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

import numpy as np

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "attribution.json"
DATA = HERE / "data"

RULES = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")
MARKOV = ("markov_1", "markov_2", "markov_3", "markov_4")
STEPS = ("path_counts", "from_frame", *RULES, *MARKOV, "shapley")


# ----------------------------------------------------------------------------- data


def generate(journeys: int, channels: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random journeys aggregated into distinct paths (see the module docstring)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, channels + 1) ** 0.8
    popularity /= popularity.sum()
    lengths = rng.integers(1, 9, journeys)
    codes = rng.choice(channels, size=int(lengths.sum()), p=popularity)
    starts = np.zeros(journeys, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    lift = np.linspace(0.6, -0.4, channels)
    converts = rng.random(journeys) < 1.0 / (
        1.0 + np.exp(4.6 - np.add.reduceat(lift[codes], starts))
    )
    amount = np.where(converts, rng.lognormal(3.5, 0.8, journeys), 0.0)

    # A path's key: its channel codes as digits in base channels + 1 (8 digits fit in int64).
    journey = np.repeat(np.arange(journeys), lengths)
    position = np.arange(len(codes)) - starts[journey]
    key = np.bincount(
        journey, weights=(codes + 1) * float(channels + 1) ** position, minlength=journeys
    ).astype(np.int64)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    # The touches of each distinct path, read off the first journey that walked it.
    path_lengths = lengths[first]
    offsets = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(path_lengths, out=offsets[1:])
    touch = np.arange(offsets[-1]) - np.repeat(offsets[:-1], path_lengths)
    return {
        "codes": codes[np.repeat(starts[first], path_lengths) + touch],
        "offsets": offsets,
        "conversions": np.bincount(group, weights=converts, minlength=len(first)),
        "value": np.bincount(group, weights=amount, minlength=len(first)),
        "non_conversions": np.bincount(group, weights=~converts, minlength=len(first)),
        "names": np.array(["Direct", *(f"channel_{k:02d}" for k in range(1, channels))]),
        "journeys": np.array(journeys),
        "converted": np.array(converts.sum()),
    }


def prepare(journeys: int, channels: int) -> Path:
    path = DATA / f"attribution-{journeys}-{channels}.npz"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        np.savez(path, **generate(journeys, channels))
    return path


# ----------------------------------------------------------------------------- one measurement


def child(step: str, data: str) -> dict[str, Any]:
    """Load the paths, then time ``step`` on them in this fresh process."""
    import pandas as pd

    from journeylens.analysis.attribution_markov import markov
    from journeylens.analysis.attribution_paths import (
        PathCounts,
        path_counts_from_frame,
        rule_credits,
    )
    from journeylens.analysis.attribution_shapley import shapley

    stored = np.load(data)
    names = stored["names"].astype(object)
    touches = np.split(names[stored["codes"]], stored["offsets"][1:-1])
    tuples = tuple(tuple(t) for t in touches)
    numbers = {k: stored[k] for k in ("conversions", "value", "non_conversions")}
    frame = None
    if step == "from_frame":
        frame = pd.DataFrame({"path": [" > ".join(t) for t in tuples], **numbers})
    paths = None if step in ("path_counts", "from_frame") else PathCounts(paths=tuples, **numbers)
    base = _rss_mb()

    started = time.perf_counter()
    if step == "path_counts":
        PathCounts(paths=tuples, **numbers)
        credits = None
    elif step == "from_frame":
        path_counts_from_frame(
            frame,
            path_col="path",
            conversions_col="conversions",
            value_col="value",
            non_conversions_col="non_conversions",
        )
        credits = None
    elif step in RULES:
        credits = rule_credits(paths, step)
    elif step.startswith("markov_"):
        credits = markov(paths, order=int(step[-1])).credits
    else:
        credits = shapley(paths)
    seconds = time.perf_counter() - started

    observed = float(numbers["conversions"].sum())
    return {
        "seconds": round(seconds, 3),
        "base_rss_mb": round(base),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "credited": None
        if credits is None
        else bool(abs(credits["conversions"].sum() - observed) <= 1e-9 * max(observed, 1.0)),
    }


def events_child(database: str) -> dict[str, Any]:
    """Time the whole analysis, from events to result, in this fresh process."""
    import duckdb
    import ibis

    import journeylens as jl

    con = duckdb.connect(database, read_only=True)
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    events = ibis.duckdb.from_connection(con).table("events_enriched")
    events = events.mutate(**{c: events[c].cast("json") for c in ("properties", "context")})
    rows = int(events.count().execute())
    started = time.perf_counter()
    result = jl.attribution(events, jl.AttributionSpec())
    seconds = time.perf_counter() - started
    frame = result.to_frame()
    observed = result.statistics.conversions
    totals = frame.groupby("model")["conversions"].sum()
    return {
        "events": rows,
        "journeys": round(result.statistics.journeys),
        "conversions": round(observed),
        "distinct_paths": result.statistics.distinct_paths,
        "models": len(result.models),
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "credited": bool(((totals - observed).abs() <= 1e-6 * max(observed, 1.0)).all()),
    }


def _rss_mb() -> float:
    """Current resident memory of this process (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ----------------------------------------------------------------------------- driver


def _run(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--channels", default="12,24", help="comma-separated channel counts")
    parser.add_argument("--models", default=",".join(STEPS), help="steps to time")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "DATA"))
    parser.add_argument("--events", metavar="DATABASE", help="also time jl.attribution on it")
    parser.add_argument("--events-child", metavar="DATABASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.events_child:
        print(json.dumps(events_child(args.events_child)))
        return

    rows = []
    end_to_end = None
    if args.events:
        end_to_end = _run("--events-child", args.events)
        print(
            f"jl.attribution on {end_to_end['events']:,} events: {end_to_end['journeys']:,} "
            f"journeys, {end_to_end['distinct_paths']:,} paths, {end_to_end['models']} models in "
            f"{end_to_end['seconds']:.2f}s, peak {end_to_end['peak_rss_mb']} MB, "
            f"credited {end_to_end['credited']}",
            flush=True,
        )
    for channels in (int(c) for c in args.channels.split(",")):
        data = prepare(args.journeys, channels)
        stored = np.load(data)
        paths = len(stored["offsets"]) - 1
        rate = float(stored["converted"]) / float(stored["journeys"])
        print(
            f"{args.journeys:,} journeys, {channels} channels: {paths:,} distinct paths, "
            f"{rate:.1%} converted",
            flush=True,
        )
        for step in args.models.split(","):
            measured = _run("--child", step, str(data))
            rows.append(
                {
                    "journeys": args.journeys,
                    "channels": channels,
                    "distinct_paths": paths,
                    "conversion_rate": round(rate, 4),
                    "step": step,
                    **measured,
                }
            )
            print(
                f"  {step:<16} {measured['seconds']:>8.3f}s  base {measured['base_rss_mb']:>5} MB"
                f"  peak {measured['peak_rss_mb']:>5} MB  credited {measured['credited']}",
                flush=True,
            )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "rows": rows,
                "events": end_to_end,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
