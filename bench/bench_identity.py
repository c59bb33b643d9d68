"""Benchmark identity resolution against bare connected components on the same edges.

    python bench/bench_identity.py            # ~10M identifiers (~10 minutes, ~6 GB RAM)
    python bench/bench_identity.py --small    # ~200k identifiers, seconds

A synthetic identity graph in ``IDENTIFIERS_SCHEMA`` layout (the input of ``resolve``): persons
with 1–5 anonymous ids, ~60% identified (one user id), some emails and phones, and planted
conflicts (shared devices, typo'd emails shared by two users, alias calls). Every message
carries its own identifiers, so nothing collapses: in a workspace ``extract_identifiers`` first
groups messages that repeat the same identifiers (about ten events per row at 10M simulated
events), so this is the worst case for ``resolve``, one row per identifier use. The table is
written to a temporary Arrow file and each measurement runs in a fresh child process. The
four timings are interleaved in one child (best of 3 each, so a change in machine load hits
them alike); peak RSS is measured in two more children (one resolve; loading the table only):

* ``resolve``: ``journeylens.identity.resolve`` end to end (graph encoding, rules, id_map,
  merge_log).
* ``build_graph``: the encoding part of ``resolve`` alone (strings → integer nodes and edges).
* ``connected_components``: ``scipy.sparse.csgraph.connected_components`` on exactly the edges
  ``build_graph`` produced (CSR construction included, encoding excluded).
* ``components_pipeline``: the cheapest resolver without rules, from the same table: build the
  graph, run connected components, write an id_map with the component as person.

Writes bench/results/identity.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from journeylens.identity.graph import build_graph
from journeylens.identity.resolve import resolve
from journeylens.settings import IdentitySettings

RESULTS = Path(__file__).parent / "results" / "identity.json"
REPEATS = 3


def _strings(prefix: str, numbers: np.ndarray, suffix: str = "") -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), suffix, "")


def generate(n_persons: int, seed: int = 7) -> pa.Table:
    """A synthetic identifiers table; see the module docstring for its shape."""
    rng = np.random.default_rng(seed)
    n_anon = rng.integers(1, 6, n_persons)
    identified = rng.random(n_persons) < 0.6
    has_email = identified & (rng.random(n_persons) < 0.6)
    has_phone = identified & (rng.random(n_persons) < 0.25)

    anon_person = np.repeat(np.arange(n_persons), n_anon)
    n_anon_total = len(anon_person)
    rows: list[tuple[np.ndarray, str, pa.Array, str]] = []  # (message, type, value, kind)
    next_message = 0

    def messages(count: int) -> np.ndarray:
        nonlocal next_message
        ids = np.arange(next_message, next_message + count)
        next_message += count
        return ids

    # Browsing before login: the anonymous id alone.
    m = messages(n_anon_total)
    rows.append((m, "anonymous_id", _strings("a", np.arange(n_anon_total)), "message"))
    # Login on each device of an identified person: anonymous id + user id (+ email, phone).
    logged = np.flatnonzero(identified[anon_person])
    person = anon_person[logged]
    m = messages(len(logged))
    rows.append((m, "anonymous_id", _strings("a", logged), "message"))
    rows.append((m, "user_id", _strings("u", person), "message"))
    with_email = has_email[person]
    rows.append(
        (m[with_email], "email", _strings("e", person[with_email], "@example.org"), "message")
    )
    with_phone = has_phone[person]
    phone = 5_550_000_000 + person[with_phone]
    rows.append((m[with_phone], "phone", _strings("+1", phone), "message"))

    users = np.flatnonzero(identified)
    # Shared devices: 1% of anonymous ids later carry another person's user id.
    shared = rng.choice(n_anon_total, n_anon_total // 100, replace=False)
    other = rng.choice(users, len(shared))
    m = messages(len(shared))
    rows.append((m, "anonymous_id", _strings("a", shared), "message"))
    rows.append((m, "user_id", _strings("u", other), "message"))
    # Typo'd emails: 0.2% of users type another user's email.
    typo = rng.choice(users, len(users) // 500, replace=False)
    victim = rng.choice(np.flatnonzero(has_email), len(typo))
    m = messages(len(typo))
    rows.append((m, "user_id", _strings("u", typo), "message"))
    rows.append((m, "email", _strings("e", victim, "@example.org"), "message"))
    # Alias calls: 1% of users alias one of their anonymous ids.
    aliased = rng.choice(logged, len(logged) // 100, replace=False)
    m = messages(len(aliased))
    rows.append((m, "anonymous_id", _strings("a", aliased), "alias"))
    rows.append((m, "user_id", _strings("u", anon_person[aliased]), "alias"))

    start = 1_700_000_000_000_000
    n_messages = next_message
    message_time = start + rng.integers(0, 90 * 86_400_000_000, n_messages)
    tables = []
    for message, id_type, value, kind in rows:
        n = len(message)
        tables.append(
            pa.table(
                {
                    "message_id": _strings("m", message),
                    "timestamp": pa.array(message_time[message], pa.timestamp("us", tz="UTC")),
                    "id_type": pa.array(np.full(n, id_type)),
                    "id_value": value,
                    "edge_kind": pa.array(np.full(n, kind)),
                }
            )
        )
    table = pa.concat_tables(tables).combine_chunks()
    # Shuffle: nothing may depend on the order rows arrive in.
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _cc(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    matrix = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    return connected_components(matrix, directed=False)[1]


def _pipeline(table: pa.Table, settings: IdentitySettings) -> pa.Table:
    graph = build_graph(table, settings)
    label = _cc(graph.n_nodes, graph.edge_left, graph.edge_right)
    return pa.table(
        {
            "id_type": pa.array([t.name for t in graph.types]).take(graph.node_rank),
            "id_value": graph.node_value,
            "person_id": pa.array(label),
        }
    )


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` belongs to the process's own address space; the
    ``ru_maxrss`` of a child started from a big parent would include the parent's size at fork."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(task: str, path: str) -> dict:
    """Run one measurement on the table at ``path`` in this fresh process.

    ``timings``: the four measurements interleaved, best of ``REPEATS`` each, so a change in
    machine load hits them alike. ``peak_resolve`` / ``peak_loaded``: this process's peak RSS
    after one resolve / after only loading the table."""
    # Read into memory (not memory-mapped), so "peak_loaded" counts the table itself.
    with pa.OSFile(path) as source:
        table = pa.ipc.open_file(source).read_all()
    settings = IdentitySettings()
    if task == "peak_loaded":
        return {"peak_rss_mb": _peak_rss_mb()}
    if task == "peak_resolve":
        resolve(table, settings)
        return {"peak_rss_mb": _peak_rss_mb()}
    graph = build_graph(table, settings)
    best = dict.fromkeys(
        ("resolve", "build_graph", "connected_components", "components_pipeline"), float("inf")
    )
    for _ in range(REPEATS):
        seconds, res = _timed(lambda: resolve(table, settings))
        best["resolve"] = min(best["resolve"], seconds)
        seconds, _ = _timed(lambda: build_graph(table, settings))
        best["build_graph"] = min(best["build_graph"], seconds)
        seconds, _ = _timed(lambda: _cc(graph.n_nodes, graph.edge_left, graph.edge_right))
        best["connected_components"] = min(best["connected_components"], seconds)
        seconds, _ = _timed(lambda: _pipeline(table, settings))
        best["components_pipeline"] = min(best["components_pipeline"], seconds)
    stats = res.stats
    return {
        "seconds": best,
        "persons": stats.persons,
        "identifiers": stats.identifiers,
        "edges": stats.edges,
        "checked_components": stats.checked_components,
        "refused": sum(stats.refusals.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="~200k identifiers instead of ~10M")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.input)))
        return

    n_persons = 48_000 if args.small else 2_400_000
    started = time.perf_counter()
    table = generate(n_persons)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "identifiers.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        rows = table.num_rows
        del table
        results = {}
        for task in ("timings", "peak_loaded", "peak_resolve"):
            done = subprocess.run(
                [sys.executable, __file__, "--worker", task, "--input", path],
                check=True,
                capture_output=True,
                text=True,
            )
            results[task] = json.loads(done.stdout.strip().splitlines()[-1])

    r = results["timings"]
    seconds = r["seconds"]
    ratio_cc = seconds["resolve"] / seconds["connected_components"]
    ratio_pipeline = seconds["resolve"] / seconds["components_pipeline"]
    peak = results["peak_resolve"]["peak_rss_mb"]
    loaded = results["peak_loaded"]["peak_rss_mb"]
    print(
        f"rows {rows:,}  identifiers {r['identifiers']:,}  edges {r['edges']:,}  "
        f"persons {r['persons']:,}  refused edges {r['refused']:,}  "
        f"components checked exactly {r['checked_components']:,}  (generated in {generated:.1f}s)"
    )
    print(f"{'measurement':<24}{'best of 3 (s)':>15}")
    for task, value in seconds.items():
        print(f"{task:<24}{value:>15.2f}")
    print(f"resolve / connected_components = {ratio_cc:.2f}x")
    print(f"resolve / components_pipeline  = {ratio_pipeline:.2f}x")
    print(
        f"peak RSS: resolve {peak:.0f} MB (Python, libraries and the input table: {loaded:.0f} MB)"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "size": "small" if args.small else "full",
                "rows": rows,
                "seconds_best_of_3": seconds,
                "graph": {k: v for k, v in r.items() if k != "seconds"},
                "peak_rss_mb": {"resolve": peak, "input_table_only": loaded},
                "ratio_resolve_over_connected_components": round(ratio_cc, 3),
                "ratio_resolve_over_components_pipeline": round(ratio_pipeline, 3),
                "repeats": REPEATS,
                "python": platform.python_version(),
                "machine": platform.machine(),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
