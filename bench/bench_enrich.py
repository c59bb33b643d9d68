"""How fast ``journeylens.enrich.enrich`` materialises on DuckDB.

Builds synthetic canonical events in an in-memory DuckDB (generated in SQL: 20 events a person,
a mix of UTM-tagged, click-id, referred, first-party and untagged events), then times
``CREATE TABLE … AS`` of the enriched table. Prints a table and writes
``bench/results/enrich.json``.

    python bench/bench_enrich.py                 # 1M and 10M rows
    python bench/bench_enrich.py --rows 200000   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import duckdb
import ibis

from journeylens.enrich import enrich
from journeylens.settings import EnrichSettings

RESULTS = Path(__file__).parent / "results" / "enrich.json"

# One row per message; r picks the kind of touch, e the event name, every person has 20 events
# spread over 90 days in bursts, so sessions of several events and many sessions a person occur.
_GENERATE = """
CREATE OR REPLACE TABLE events AS
WITH base AS (
    SELECT
        i,
        i // 20 AS person,
        (hash(i) % 100)::BIGINT AS r,
        (hash(i * 7 + 1) % 12)::BIGINT AS e,
        (hash(i * 13 + 5) % 4)::BIGINT AS k
    FROM range({rows}) AS t(i)
)
SELECT
    'm' || i AS message_id,
    CASE WHEN i % 20 = 0 THEN 'identify' WHEN r >= 60 THEN 'page' ELSE 'track' END AS type,
    CASE WHEN i % 20 = 0 THEN NULL
         WHEN r >= 60 THEN 'Home'
         ELSE ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed',
               'Products Searched', 'Cart Viewed', 'Order Refunded', 'Product Reviewed',
               'Email Opened', 'Signed Up', 'view_item', 'purchase'][e + 1]
    END AS event,
    'a' || person AS anonymous_id,
    NULL::VARCHAR AS user_id,
    NULL::VARCHAR AS previous_id,
    NULL::VARCHAR AS group_id,
    TIMESTAMPTZ '2024-01-01 00:00:00+00'
        + to_seconds((hash(person) % 7776000)::BIGINT)
        + to_seconds(((i % 20) // 4 * 86400 + (i % 4) * (hash(i) % 2400))::BIGINT) AS timestamp,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' AS received_at,
    'bench' AS source,
    '{{}}'::JSON AS properties,
    (CASE
        WHEN r < 10 THEN json_object('campaign', json_object(
            'source', ['google', 'facebook', 'newsletter', 'criteo'][k + 1],
            'medium', ['cpc', 'paid_social', 'email', 'display'][k + 1],
            'name', 'campaign_' || e))
        WHEN r < 15 THEN json_object('page', json_object(
            'url', 'https://shop.example.com/p/' || e || '?gclid=Cj0' || i))
        WHEN r < 35 THEN json_object('page', json_object(
            'url', 'https://shop.example.com/',
            'referrer', ['https://www.google.com/', 'https://l.facebook.com/',
                         'https://www.wirecutter.com/gifts/', 'https://duckduckgo.com/'][k + 1]))
        WHEN r < 40 THEN json_object('channel', ['email', 'sms', 'push', 'store'][k + 1])
        ELSE json_object('page', json_object(
            'url', 'https://shop.example.com/p/' || e,
            'referrer', 'https://shop.example.com/'))
    END)::JSON AS context,
    NULL::JSON AS traits,
    CASE WHEN e = 3 THEN 50.0 + k ELSE NULL END AS revenue,
    CASE WHEN e = 3 THEN 'USD' ELSE NULL END AS currency,
    'p' || person AS person_id
FROM base
"""


def run(rows: int, con: ibis.BaseBackend) -> dict[str, float | int]:
    """Generate ``rows`` events, enrich them into a table, and time both."""
    started = time.perf_counter()
    con.raw_sql(_GENERATE.format(rows=rows))
    generated = time.perf_counter()
    events = con.table("events")
    enriched = enrich(events, EnrichSettings(own_domains=("example.com",)))
    start = time.perf_counter()
    con.create_table("events_enriched", enriched, overwrite=True)
    seconds = time.perf_counter() - start
    out = con.table("events_enriched")
    sessions = int(out.session_id.nunique().execute())
    con.drop_table("events_enriched")
    return {
        "rows": rows,
        "generate_seconds": round(generated - started, 3),
        "enrich_seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds),
        "sessions": sessions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    con = ibis.duckdb.connect()
    results = []
    print(f"{'rows':>12} {'generate s':>11} {'enrich s':>9} {'rows/s':>11} {'sessions':>10}")
    for rows in args.rows:
        result = run(rows, con)
        results.append(result)
        print(
            f"{result['rows']:>12,} {result['generate_seconds']:>11.2f} "
            f"{result['enrich_seconds']:>9.2f} {result['rows_per_second']:>11,} "
            f"{result['sessions']:>10,}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "enrich",
        "what": "CREATE TABLE AS of enrich() over synthetic canonical events, in-memory DuckDB",
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
