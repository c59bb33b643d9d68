"""Resolve identifiers into persons: deterministic, rule-checked, logged, and fast.

How it works, and why:

* Nodes are (id_type, id_value); blocked values were dropped by ``normalise_identifiers`` and
  never become nodes. Messages that carry the same identifiers arrive collapsed into one
  weighted row set (``extract_identifiers``); a row's ``weight`` counts as that many messages.
  Edges: a star from each message's best identifier to its others, and an ``alias`` edge
  between an alias message's ``previous_id`` and ``user_id`` (``graph``).
* The answer is defined by one exact algorithm, the rule-checking union-find in ``greedy``:
  edges in a canonical order (alias edges first, then by priority of the edge's types, then
  support — most messages first —, then first seen, then values), each merged or refused by
  the rules (conflicting user ids, per-type limits, identifier and merge caps). Processing
  high-priority edges first is what makes the lower-priority identifier's edge the one refused
  (Segment Unify's priority demotion).
* Running that in Python on ten million edges is too slow, and almost always pointless: a
  component of the unconstrained graph can only see a refusal if, as a whole, it carries more
  user-id groups, more values of a limited type, or more identifiers than allowed (the merge
  cap cannot be reached below ``2 × (max_merges_per_person + 1)`` identifiers, since each merge
  of two profiles needs two identifiers on each side). So ``scipy``'s connected components run
  on all edges, every component under all limits is a person as it stands (every edge merged),
  and the greedy runs only on the few components over a limit. On those it gives the same
  answer as on everything, because rules are per person and persons never span components.
  ``strategy="greedy"`` runs it on everything, which tests compare against.
* ``person_id`` is ``"p_"`` + 16 hex digits of the hash of the person's best identifier (lowest
  priority number, then type name, then smallest value), so it does not depend on input order
  and survives unrelated merges elsewhere. ``edge_id`` is ``"e_"`` + the edge's hash.
* Unmerge: edges named in ``invalid_edges`` are logged ``invalidated`` and left out; resolving
  again splits the person they held together.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from journeylens.errors import ValidationError
from journeylens.identity.graph import ALIAS, EDGE_KINDS, NEVER, IdentityGraph, build_graph
from journeylens.identity.greedy import INVALIDATED, OUTCOMES, constrained_union
from journeylens.identity.hashing import hex_ids
from journeylens.schema import ID_MAP_SCHEMA, MERGE_LOG_SCHEMA
from journeylens.settings import IdentitySettings

__all__ = ["Resolution", "ResolutionStats", "resolve"]

_EDGE_ID = r"^e_[0-9a-f]{16}$"


@dataclass(frozen=True)
class ResolutionStats:
    """Counts describing one resolution.

    Attributes:
        persons: persons in ``id_map``.
        identifiers: identifiers (rows of ``id_map``).
        edges: distinct edges in the graph (rows of ``merge_log``).
        merged_edges: edges accepted (their two identifiers are one person).
        outcomes: rows of ``merge_log`` per outcome, every outcome listed.
        largest_person: identifiers of the largest person (0 when there are none).
        checked_components: components that went through the exact rule-checking path (all
            of them with ``strategy="greedy"``).
        unmatched_invalid_edges: ``invalid_edges`` that name no edge of this graph.
    """

    persons: int
    identifiers: int
    edges: int
    merged_edges: int
    outcomes: dict[str, int] = field(default_factory=dict)
    largest_person: int = 0
    checked_components: int = 0
    unmatched_invalid_edges: int = 0

    @property
    def refusals(self) -> dict[str, int]:
        """Rows of ``merge_log`` per ``refused_*`` outcome that happened at least once."""
        return {k: v for k, v in self.outcomes.items() if k.startswith("refused_") and v}


@dataclass(frozen=True)
class Resolution:
    """The result of ``resolve``.

    Attributes:
        id_map: ``ID_MAP_SCHEMA``: every identifier → its ``person_id``. Its rows do not
            depend on the input order; their order does (sorting ten million strings would
            cost more than resolving them), so compare or read it sorted.
        merge_log: ``MERGE_LOG_SCHEMA``: one row per distinct edge with its outcome and, for
            refusals, the reason; row order as for ``id_map``.
        stats: ``ResolutionStats``.
    """

    id_map: pa.Table
    merge_log: pa.Table
    stats: ResolutionStats


def resolve(
    ids: pa.Table,
    settings: IdentitySettings,
    invalid_edges: Collection[str] = (),
    *,
    strategy: Literal["fast", "greedy"] = "fast",
) -> Resolution:
    """Group identifiers into persons under the identity rules (see the module docstring).

    Args:
        ids: ``normalise_identifiers(...).table`` (``IDENTIFIERS_SCHEMA`` layout, plus an
            optional ``weight``: how many alike messages a row stands for, 1 if absent).
        settings: identity rules.
        invalid_edges: ``edge_id`` values to leave out (logged ``invalidated``).
        strategy: ``"fast"`` (connected components, exact rules only where a rule could bite)
            or ``"greedy"`` (exact rules on every edge; slow, the reference). Same answer.

    Returns:
        ``Resolution`` with ``id_map``, ``merge_log`` and ``stats``.

    Example:
        >>> import pyarrow as pa
        >>> from journeylens.settings import IdentitySettings
        >>> ids = pa.table({"message_id": ["m1", "m1", "m2", "m2"],
        ...     "timestamp": pa.array([1, 1, 2, 2], pa.timestamp("us", tz="UTC")),
        ...     "id_type": ["anonymous_id", "user_id", "anonymous_id", "user_id"],
        ...     "id_value": ["a1", "u1", "a1", "u2"], "edge_kind": ["message"] * 4})
        >>> res = resolve(ids, IdentitySettings())
        >>> res.stats.persons, res.stats.refusals
        (2, {'refused_conflicting_user_id': 1})
    """
    if strategy not in ("fast", "greedy"):
        raise ValidationError("Unknown resolve strategy", received=strategy, allowed="fast, greedy")
    graph = build_graph(ids, settings)
    invalid, unmatched = _invalid_mask(graph, invalid_edges)
    valid = np.flatnonzero(~invalid)
    user_group = _user_groups(graph, valid)

    outcome = np.zeros(graph.n_edges, dtype=np.int8)
    outcome[invalid] = INVALIDATED
    reason: dict[int, str] = {int(e): "listed in invalid_edges" for e in np.flatnonzero(invalid)}
    label = _components(graph, valid)
    if strategy == "greedy":
        checked = np.ones(int(label.max(initial=-1)) + 1, dtype=bool)
    else:
        checked = _over_limits(graph, label, user_group, settings)
    checked_edges = valid[checked[label[graph.edge_left[valid]]]]
    result = constrained_union(graph, checked_edges, settings, user_group)
    outcome[checked_edges] = result.outcome
    for e, why in zip(checked_edges.tolist(), result.reason, strict=True):
        if why is not None:
            reason[e] = why
    # Persons the greedy made are numbered after every component.
    _, root = np.unique(result.root, return_inverse=True)
    label[result.nodes] = label.max(initial=-1) + 1 + root
    person_of_node, person_ids, sizes = _persons(graph, label)

    id_map = _id_map(graph, person_of_node, person_ids)
    merge_log = _merge_log(graph, outcome, reason)
    counts = np.bincount(outcome, minlength=len(OUTCOMES))
    stats = ResolutionStats(
        persons=len(person_ids),
        identifiers=graph.n_nodes,
        edges=graph.n_edges,
        merged_edges=int(counts[0]),
        outcomes={name: int(c) for name, c in zip(OUTCOMES, counts, strict=True)},
        largest_person=int(sizes.max(initial=0)),
        checked_components=int(checked.sum()),
        unmatched_invalid_edges=unmatched,
    )
    return Resolution(id_map=id_map, merge_log=merge_log, stats=stats)


def _invalid_mask(graph: IdentityGraph, invalid_edges: Collection[str]) -> tuple[np.ndarray, int]:
    """(per edge, whether it is listed; how many listed ids name no edge of this graph)."""
    if isinstance(invalid_edges, str):
        raise ValidationError(
            "invalid_edges must be a collection of edge ids, not one string",
            received=invalid_edges,
            fix=f"Pass [{invalid_edges!r}]",
        )
    names = pa.array(sorted(set(invalid_edges)), pa.string())
    bad = names.filter(pc.invert(pc.match_substring_regex(names, _EDGE_ID))).to_pylist()
    if bad:
        raise ValidationError(
            "invalid_edges must be edge ids from merge_log",
            received=bad,
            allowed="'e_' followed by 16 lower-case hex digits",
        )
    wanted = np.array([int(name[2:], 16) for name in names.to_pylist()], dtype=np.uint64)
    mask = np.isin(graph.edge_hash, wanted)
    return mask, len(wanted) - int(np.isin(wanted, graph.edge_hash[mask]).sum())


def _components(graph: IdentityGraph, edges: np.ndarray) -> np.ndarray:
    n = graph.n_nodes
    matrix = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (graph.edge_left[edges], graph.edge_right[edges])),
        shape=(n, n),
    ).tocsr()
    return connected_components(matrix, directed=False)[1].astype(np.int64)


def _user_groups(graph: IdentityGraph, valid: np.ndarray) -> np.ndarray:
    """Per node, its user-id group (user ids joined by alias edges share one), -1 if the node
    is not a user id. Connected components run on the few nodes alias edges touch only."""
    user_rank = next(i for i, t in enumerate(graph.types) if t.name == "user_id")
    is_user = graph.node_rank == user_rank
    group = np.where(is_user, np.arange(graph.n_nodes, dtype=np.int64), -1)
    alias = valid[graph.edge_kind[valid] == ALIAS]
    if alias.size:
        ends = np.concatenate([graph.edge_left[alias], graph.edge_right[alias]])
        involved, local = np.unique(ends, return_inverse=True)
        k = len(involved)
        matrix = coo_matrix(
            (np.ones(len(alias), dtype=np.int8), (local[: len(alias)], local[len(alias) :])),
            shape=(k, k),
        ).tocsr()
        labels = connected_components(matrix, directed=False)[1]
        group[involved] = np.where(is_user[involved], graph.n_nodes + labels, -1)
    return group


def _over_limits(
    graph: IdentityGraph, label: np.ndarray, user_group: np.ndarray, settings: IdentitySettings
) -> np.ndarray:
    """Per component, whether some rule could refuse one of its edges (see module docstring)."""
    n = int(label.max(initial=-1)) + 1
    size = np.bincount(label, minlength=n)
    over = size > settings.max_identifiers_per_person
    over |= size > 2 * (settings.max_merges_per_person + 1)
    for rank, id_type in enumerate(graph.types):
        if id_type.limit is None:
            continue
        mine = graph.node_rank == rank
        if id_type.name == "user_id":
            # Distinct (component, group) pairs: alias-linked user ids count once.
            width = int(user_group.max(initial=0)) + 1
            pairs = np.unique(label[mine] * width + user_group[mine])
            count = np.bincount(pairs // width, minlength=n)
        else:
            count = np.bincount(label[mine], minlength=n)
        over |= count > id_type.limit
    return over


def _persons(graph: IdentityGraph, label: np.ndarray) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Compact labels into persons and name each by its best identifier.

    Returns (person index of each node, person_id of each person, size of each person)."""
    # Labels are dense except for components the greedy renumbered: close the gaps.
    alive = np.bincount(label) > 0
    person = (np.cumsum(alive) - 1)[label]
    n = int(alive.sum())
    best_rank = np.full(n, len(graph.types), dtype=np.int64)
    np.minimum.at(best_rank, person, graph.node_rank)
    candidate = np.flatnonzero(graph.node_rank == best_rank[person])
    best = np.full(n, -1, dtype=np.int64)
    best[person[candidate]] = candidate
    ties = np.bincount(person[candidate], minlength=n) > 1
    if ties.any():
        tied = candidate[ties[person[candidate]]]
        table = pa.table({"person": person[tied], "value": graph.node_value.take(tied)})
        smallest = table.group_by("person").aggregate([("value", "min")])
        lookup = np.full(n, -1, dtype=np.int64)
        lookup[smallest.column("person").to_numpy()] = np.arange(smallest.num_rows)
        wanted = smallest.column("value_min").take(lookup[person[tied]])
        hit = pc.equal(graph.node_value.take(tied), wanted).to_numpy(zero_copy_only=False)
        best[person[tied[hit]]] = tied[hit]
    return person, hex_ids("p_", graph.node_hash[best]), np.bincount(person, minlength=n)


def _id_map(graph: IdentityGraph, person_of_node: np.ndarray, person_ids: pa.Array) -> pa.Table:
    names = pa.array([t.name for t in graph.types])
    return pa.table(
        {
            "id_type": names.take(graph.node_rank),
            "id_value": graph.node_value,
            "person_id": person_ids.take(person_of_node),
        },
        schema=ID_MAP_SCHEMA.to_pyarrow(),
    )


def _merge_log(graph: IdentityGraph, outcome: np.ndarray, reason: dict[int, str]) -> pa.Table:
    names = pa.array([t.name for t in graph.types])
    left, right = graph.edge_left, graph.edge_right
    # Reasons are few and repetitive: store a code per edge, -1 (null) where there is none.
    texts = sorted(set(reason.values()))
    code = np.full(graph.n_edges, -1, dtype=np.int64)
    if reason:
        code_of = {text: i for i, text in enumerate(texts)}
        code[np.fromiter(reason, dtype=np.int64)] = [code_of[t] for t in reason.values()]
    first_seen = graph.edge_first_seen
    return pa.table(
        {
            "edge_id": hex_ids("e_", graph.edge_hash),
            "left_type": names.take(graph.node_rank[left]),
            "left_value": graph.node_value.take(left),
            "right_type": names.take(graph.node_rank[right]),
            "right_value": graph.node_value.take(right),
            "edge_kind": pa.array(EDGE_KINDS).take(graph.edge_kind),
            "first_seen": pa.array(
                first_seen, pa.timestamp("us", tz="UTC"), mask=first_seen == NEVER
            ),
            "message_id": graph.edge_message,
            "outcome": pa.array(OUTCOMES).take(outcome),
            "reason": pa.array(texts, pa.string()).take(pa.array(code, mask=code < 0)),
        },
        schema=MERGE_LOG_SCHEMA.to_pyarrow(),
    )
