"""Identity resolution against the truth the simulator planted.

    python bench/bench_identity_truth.py                 # 100,000 customers (~5M events)
    python bench/bench_identity_truth.py --customers 20000

Simulates, ingests into an on-disk workspace, resolves, and scores pairwise precision and
recall:
- messages: pairs of events given the same person_id vs pairs really made by the same person;
- messages against linkable truth: the same, where the true clusters are split into what the
  data can link at all (a person's identifiers joined by that person's own messages, found with
  scipy's connected_components). A device a person never logged in on carries nothing that
  ties it to them; no deterministic resolver can join it, so this is the achievable ceiling;
- identifiers: pairs of id_map rows (user ids, anonymous ids, emails, phones, devices) given the
  same person vs pairs whose real owner is the same (junk values are blocked, so not scored).

Prints a table and writes bench/results/identity_truth.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import journeylens as jl
from journeylens.identity import extract_identifiers, normalise_identifiers, pairwise_scores

RESULTS = Path(__file__).parent / "results"


def identifier_truth(sim: jl.Simulation, settings: jl.IdentitySettings) -> pa.Table:
    """Truth identifiers normalised as resolution normalises them: (id_type, id_value, owner)."""
    ids = sim.truth.identifiers.filter(pc.invert(sim.truth.identifiers.column("junk")))
    owner = pc.coalesce(ids.column("owner_key"), ids.column("person_key"))
    raw = pa.table(
        {
            "message_id": pa.array([f"t{i}" for i in range(ids.num_rows)]),
            "timestamp": pa.nulls(ids.num_rows, pa.timestamp("us", tz="UTC")),
            "id_type": ids.column("id_type"),
            "raw_value": ids.column("id_value"),
            "edge_kind": pa.array(["message"] * ids.num_rows),
            "owner": owner,
        }
    )
    normal = normalise_identifiers(raw.drop_columns(["owner"]), settings).table
    owners = dict(zip(raw.column("message_id").to_pylist(), owner.to_pylist(), strict=True))
    return pa.table(
        {
            "id_type": normal.column("id_type"),
            "id_value": normal.column("id_value"),
            "owner": [owners[m] for m in normal.column("message_id").to_pylist()],
        }
    )


def linkable_truth(ids: pa.Table, message_ids: pa.Array, true_person: pa.Array) -> np.ndarray:
    """Per message, its cluster in the linkable truth: components of the graph whose nodes are
    (true person, identifier) and whose edges join the identifiers of one message."""
    at = pc.index_in(ids.column("message_id"), message_ids)
    person = pc.cast(pc.take(true_person, at), pa.string())
    node_key = pc.binary_join_element_wise(
        person, ids.column("id_type"), ids.column("id_value"), "\x1f"
    )
    node = pc.dictionary_encode(node_key.combine_chunks()).indices.to_numpy()
    row_message = at.to_numpy(zero_copy_only=False)
    n_nodes, n_messages = int(node.max()) + 1, len(message_ids)
    # Bipartite graph messages ↔ nodes: a component joins every message of a linked cluster.
    rows = np.concatenate([row_message, n_messages + node])
    cols = np.concatenate([n_messages + node, row_message])
    size = n_messages + n_nodes
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[:n_messages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    sim = jl.simulate(customers=args.customers, days=args.days, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ws = jl.Workspace.open(Path(tmp) / "ws")
        ws.ingest(sim.events)
        stats = ws.resolve_identities()
        events = ws.events().select("message_id", "person_id").to_pyarrow()
        id_map = ws.table("id_map").to_pyarrow()
        # Per message, not collapsed: the linkable truth joins each message's own identifiers.
        raw = extract_identifiers(ws.table("events"), ws.settings.identity, collapse=False)
        identifiers = normalise_identifiers(raw.to_pyarrow(), ws.settings.identity).table
        ws.close()

    truth = sim.truth.messages
    index = pc.index_in(events.column("message_id"), truth.column("message_id"))
    true_person = pc.take(truth.column("person_key"), index)
    msg_p, msg_r = pairwise_scores(
        events.column("person_id").to_numpy(zero_copy_only=False), true_person.to_numpy()
    )

    linkable = linkable_truth(identifiers, events.column("message_id"), true_person)
    link_p, link_r = pairwise_scores(
        events.column("person_id").to_numpy(zero_copy_only=False), linkable
    )
    _, ceiling = pairwise_scores(linkable, true_person.to_numpy())

    owners = identifier_truth(sim, jl.IdentitySettings())
    keys_truth = pc.binary_join_element_wise(
        owners.column("id_type"), owners.column("id_value"), "\x1f"
    )
    keys_map = pc.binary_join_element_wise(
        id_map.column("id_type"), id_map.column("id_value"), "\x1f"
    )
    # An identifier owned by several truths (none expected) keeps its first owner.
    at = pc.index_in(keys_map, keys_truth)
    scored = pc.is_valid(at)
    id_p, id_r = pairwise_scores(
        id_map.column("person_id").filter(scored).to_numpy(zero_copy_only=False),
        pc.take(owners.column("owner"), at.filter(scored)).to_numpy(),
    )
    result = {
        "customers": args.customers,
        "days": args.days,
        "events": events.num_rows,
        "persons_found": stats["persons"],
        "persons_planted": sim.truth.persons.num_rows,
        "refusals": stats["refusals"],
        "message_precision": msg_p,
        "message_recall": msg_r,
        "message_recall_ceiling": ceiling,
        "linkable_precision": link_p,
        "linkable_recall": link_r,
        "identifiers_scored": int(pc.sum(scored).as_py()),
        "identifier_precision": id_p,
        "identifier_recall": id_r,
        "seconds": round(time.perf_counter() - started, 1),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        shown = f"{value:.5f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "identity_truth.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
