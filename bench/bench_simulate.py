"""Speed and memory of journeylens.simulate.

Runs each case in a fresh subprocess so peak RSS is that case's own. Prints a table and writes
bench/results/simulate.json.

    python bench/bench_simulate.py            # 1M and 10M events in memory, 10M to Parquet
    python bench/bench_simulate.py --quick    # 1M only
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "simulate.json"

_CASE = """
import json, resource, sys, time
from journeylens.simulate import simulate, write_parquet
mode, customers, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
began = time.perf_counter()
if mode == "memory":
    rows = simulate(customers, 90, seed=0).events.num_rows
else:
    rows = write_parquet(path, customers, 90, seed=0, chunk_customers=50_000).rows
seconds = time.perf_counter() - began
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak}))
"""


def run(mode: str, customers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CASE, mode, str(customers), f"{tmp}/events.parquet"],
            check=True,
            capture_output=True,
            text=True,
        )
    result = json.loads(out.stdout)
    result |= {"mode": mode, "customers": customers, "days": 90}
    result["rows_per_second"] = result["rows"] / result["seconds"]
    return result


def main() -> None:
    quick = "--quick" in sys.argv
    cases = [("memory", 20_000)] + ([] if quick else [("memory", 200_000), ("parquet", 200_000)])
    results = [run(mode, customers) for mode, customers in cases]
    print(f"{'mode':8} {'customers':>10} {'rows':>12} {'seconds':>8} {'rows/s':>12} {'peak MB':>8}")
    for r in results:
        print(
            f"{r['mode']:8} {r['customers']:>10,} {r['rows']:>12,} {r['seconds']:>8.1f} "
            f"{r['rows_per_second']:>12,.0f} {r['peak_rss_mb']:>8,.0f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"cases": results}, indent=2))


if __name__ == "__main__":
    main()
