"""Propensity at scale: features on ~10M events, training on 1M persons, scoring throughput.

    python bench/bench_predict.py                    # everything
    python bench/bench_predict.py --tasks train,score --persons 200000   # a quick run

- **features**: ``person_features`` on the enriched events of the analytics bench
  (``bench/data/analytics-200000/workspace/journeylens.duckdb``, table ``events_enriched``,
  opened read-only; build it with ``bench/bench_analytics.py`` first), DuckDB limited to 2 GB
  and 2 threads as a workspace is, as of the simulation's day 60.
- **train**: ``PropensityModel`` (200 trees, 15 leaves, 2 threads) on ``--persons`` synthetic
  feature rows with the real feature names (a planted logistic outcome on recency and rate,
  the other columns noise), calibrated on a second snapshot of a fifth of the size.
- **score**: ``predict_proba`` and ``explain(top=3)`` (``pred_contrib``) on the same rows.

Every task runs in its own child process so its peak RSS is its own. Prints a table and writes
``bench/results/predict.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "predict.json"
DATABASE = HERE / "data" / "analytics-200000" / "workspace" / "journeylens.duckdb"
TASKS = ("features", "train", "score")


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def features_task(_: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    import duckdb
    import ibis

    from journeylens.predict.features import person_features

    con = duckdb.connect(str(DATABASE), read_only=True)
    con.execute("SET memory_limit = '2GB'")
    con.execute("SET threads = 2")
    events = ibis.duckdb.from_connection(con).table("events_enriched")
    events = events.mutate(
        **{c: events[c].cast("json") for c in ("properties", "context", "traits")}
    )
    n_events = int(events.count().execute())
    started = time.perf_counter()
    table = person_features(events, as_of=datetime(2026, 3, 1, tzinfo=UTC)).to_pyarrow()
    seconds = time.perf_counter() - started
    return {
        "rows_in": n_events,
        "rows_out": table.num_rows,
        "columns": table.num_columns,
        "seconds": round(seconds, 2),
        "throughput": round(n_events / seconds),
        "peak_rss_mb": _peak_mb(),
    }


def _synthetic(persons: int, seed: int):
    import numpy as np
    import pandas as pd

    from journeylens.predict.features import feature_names

    rng = np.random.default_rng(seed)
    names = list(feature_names())
    x = pd.DataFrame(rng.gamma(1.0, 5.0, (persons, len(names))).astype(np.float64), columns=names)
    x.loc[rng.random(persons) < 0.1, "days_since_last_activity"] = np.nan
    logit = 0.15 * x.days_since_last_activity.fillna(30) - 8 * x.sessions_per_day.clip(0, 1) - 1
    y = (rng.random(persons) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


def _model():
    from journeylens.predict.propensity_model import PropensityModel

    return PropensityModel(n_estimators=200, num_leaves=15, n_jobs=2)


def train_task(persons: int) -> dict[str, Any]:
    x, y = _synthetic(persons, 0)
    x_cal, y_cal = _synthetic(persons // 5, 1)
    started = time.perf_counter()
    _model().fit(x, y, calibration_X=x_cal, calibration_y=y_cal)
    seconds = time.perf_counter() - started
    return {
        "rows_in": persons,
        "columns": x.shape[1],
        "seconds": round(seconds, 2),
        "throughput": round(persons / seconds),
        "peak_rss_mb": _peak_mb(),
    }


def score_task(persons: int) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    x, y = _synthetic(min(persons, 200_000), 0)
    x_cal, y_cal = _synthetic(min(persons, 200_000) // 5, 1)
    model = _model().fit(x, y, calibration_X=x_cal, calibration_y=y_cal)
    x_new, y_new = _synthetic(persons, 2)
    started = time.perf_counter()
    p = model.predict_proba(x_new)[:, 1]
    proba_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reasons = model.explain(x_new, top=3)
    explain_seconds = time.perf_counter() - started
    return {
        "rows_in": persons,
        "seconds": round(proba_seconds + explain_seconds, 2),
        "predict_proba_seconds": round(proba_seconds, 2),
        "explain_seconds": round(explain_seconds, 2),
        "throughput": round(persons / (proba_seconds + explain_seconds)),
        "auc_on_fresh_rows": round(float(roc_auc_score(y_new, p)), 4),
        "reasons_per_row": round(sum(map(len, reasons)) / len(reasons), 2),
        "peak_rss_mb": _peak_mb(),
    }


def _run(task: str, persons: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", task, "--persons", str(persons)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {task} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--child", choices=TASKS)
    args = parser.parse_args()
    work = {"features": features_task, "train": train_task, "score": score_task}
    if args.child:
        print(json.dumps(work[args.child](args.persons)))
        return
    rows = []
    print(f"{'task':<10} {'rows in':>11} {'seconds':>8} {'rows/s':>10} {'peak MB':>8}")
    for task in args.tasks.split(","):
        result = {"task": task, **_run(task, args.persons)}
        rows.append(result)
        print(
            f"{task:<10} {result['rows_in']:>11,} {result['seconds']:>8.2f} "
            f"{result['throughput']:>10,} {result['peak_rss_mb']:>8}",
            flush=True,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"machine": platform.platform(), "python": platform.python_version(), "rows": rows},
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
