"""Dashboard page times on about a million events: cold (empty page cache), warm (cached), and
after the start-up warm-up.

    python bench/bench_dashboard.py                   # the 20,000-customer workspace (1.16M events)
    python bench/bench_dashboard.py --customers 2000  # a smaller one

The workspace is bench_analytics.py's (``bench/data/analytics-<customers>/``, simulated and
built once if absent), copied to a temporary folder so that opening it (settings, migrations)
never changes the shared copy. Every page is requested through the real app (FastAPI's
TestClient, in process) with its default parameters and no filters, as its menu link opens it:

- cold: the page cache is emptied before the request (the database's own buffers stay warm, as
  they would in a running server);
- warm: the same request again, answered from the page cache;
- after warm-up: a second app started with ``warm=True`` (what ``journeylens serve`` does);
  once its warmer has passed over the pages, each page's first request.

Prints a table and writes bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_analytics import prepare

RESULTS = Path(__file__).parent / "results"


def timed(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}: {response.text[:500]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    import journeylens as jl
    from journeylens.api.app import create_app
    from journeylens.api.keys import KEY_COOKIE
    from journeylens.web.pages import PAGES

    database = prepare(args.customers, 1)
    with tempfile.TemporaryDirectory(prefix="jl-bench-dashboard-") as tmp:
        folder = Path(tmp)
        shutil.copy(database, folder / "journeylens.duckdb")
        with jl.Workspace.open(folder) as ws:
            events = int(ws.events().count().execute())  # derived tables current before timing
            key, _ = ws.create_key("read", "bench")

        rows: dict[str, dict[str, float | str]] = {}
        with TestClient(create_app(folder)) as client:
            client.cookies.set(KEY_COOKIE, key)
            cache = client.app.state.web_cache
            for page in PAGES.values():
                cache.clear()
                cold = timed(client, page.path)
                warm = timed(client, page.path)
                rows[page.title] = {"path": page.path, "cold_s": cold, "warm_s": warm}
                print(f"{page.title:<22} cold {cold:7.2f} s   warm {warm:6.3f} s", flush=True)
            cache.clear()
            report_cold = timed(client, "/report")

        app = create_app(folder, warm=True)
        started = time.perf_counter()
        with TestClient(app) as client:
            client.cookies.set(KEY_COOKIE, key)
            if not app.state.warmer.wait(timeout=3600):
                raise SystemExit("the warm-up did not finish")
            warm_up = time.perf_counter() - started
            for page in PAGES.values():
                rows[page.title]["after_warm_up_s"] = timed(client, page.path)
            report_warm = timed(client, "/report")

    print()
    print(f"{'page':<22} {'cold s':>8} {'warm s':>8} {'after warm-up s':>16}")
    for title, row in rows.items():
        cold, warm, after = row["cold_s"], row["warm_s"], row["after_warm_up_s"]
        print(f"{title:<22} {cold:>8.2f} {warm:>8.3f} {after:>16.3f}")
    print(f"{'report (/report)':<22} {report_cold:>8.2f} {'':>8} {report_warm:>16.3f}")
    print(f"warm-up pass over every page: {warm_up:.1f} s; {events:,} events")
    figures = {
        "events": events,
        "customers": args.customers,
        "pages": {
            t: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for t, r in rows.items()
        },
        "report_cold_s": round(report_cold, 2),
        "report_after_warm_up_s": round(report_warm, 2),
        "warm_up_s": round(warm_up, 2),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
