"""The exact, rule-checking union-find: one edge at a time, in the canonical order.

This is the definition of what ``resolve`` returns; the fast path in ``resolve`` only skips it
where it provably changes nothing. It is plain Python, so it runs on the few components that
could break a rule (or on everything, with ``strategy="greedy"``, as the reference in tests).

Canonical order: alias edges first; then by the rank of the edge's better end, then of its other
end (so edges between high-priority identifiers win over edges of lower-priority ones); then by
support, most messages first (a contested identifier — a family tablet, a mistyped email — goes
to the person who uses it most, usually its owner, not to whoever happened to use it first);
then by when the edge was first seen; then by the two values. No two edges share a key, so the
order, and everything that follows from it, does not depend on the input order.

Checks when an edge would join two different persons A and B, in this order (the first that
fails names the outcome):

1. ``refused_conflicting_user_id``: A ∪ B would carry more user-id groups than ``user_id``'s
   limit (1 by default). A user-id group is a set of user ids linked by alias edges, so only an
   explicit alias joins two user ids; inference (a shared device, a typo'd email) never does.
2. ``refused_type_limit``: A ∪ B would carry more values of some other type than its limit.
3. ``refused_identifier_cap``: A ∪ B would carry more than ``max_identifiers_per_person``.
4. ``refused_merge_cap``: A and B both already carry two or more identifiers (a merge of two
   profiles, not an identifier joining one) and A ∪ B would be the result of more than
   ``max_merges_per_person`` such merges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from journeylens.identity.graph import IdentityGraph
from journeylens.settings import IdentitySettings

__all__ = [
    "CONFLICTING_USER_ID",
    "IDENTIFIER_CAP",
    "INVALIDATED",
    "MERGED",
    "MERGE_CAP",
    "OUTCOMES",
    "TYPE_LIMIT",
    "GreedyResult",
    "canonical_order",
    "constrained_union",
]

OUTCOMES = (
    "merged",
    "refused_conflicting_user_id",
    "refused_type_limit",
    "refused_identifier_cap",
    "refused_merge_cap",
    "invalidated",
)
MERGED, CONFLICTING_USER_ID, TYPE_LIMIT, IDENTIFIER_CAP, MERGE_CAP, INVALIDATED = range(6)


@dataclass(frozen=True)
class GreedyResult:
    """What the greedy decided.

    Attributes:
        outcome: outcome code (index into ``OUTCOMES``) of each edge passed in, same order.
        reason: why, for refused edges (``None`` for merged ones), same order.
        nodes: every node touched by those edges.
        root: the representative node of each of ``nodes`` (equal roots = same person).
    """

    outcome: np.ndarray
    reason: list[str | None]
    nodes: np.ndarray
    root: np.ndarray


def canonical_order(graph: IdentityGraph, edges: np.ndarray) -> np.ndarray:
    """Positions into ``edges`` that put them in the canonical order (module docstring)."""
    n = len(edges)
    left, right = graph.edge_left[edges], graph.edge_right[edges]
    involved, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    # Rank the values once (UTF-8 byte order = code point order, as Python compares str).
    # Equal strings of different types may rank either way: the type rank, which comes
    # first in the key, already tells them apart.
    value_rank = np.empty(len(involved), dtype=np.int64)
    value_rank[pc.sort_indices(graph.node_value.take(involved)).to_numpy()] = np.arange(
        len(involved)
    )
    order = np.lexsort(
        (
            value_rank[inverse[n:]],
            value_rank[inverse[:n]],
            graph.edge_first_seen[edges],
            -graph.edge_support[edges],
            graph.node_rank[right],
            graph.node_rank[left],
            graph.edge_kind[edges],
        )
    )
    return order


def constrained_union(
    graph: IdentityGraph,
    edges: np.ndarray,
    settings: IdentitySettings,
    user_group: np.ndarray,
) -> GreedyResult:
    """Run the rule-checking union-find over ``edges`` (edge indices, any order: they are put
    in the canonical order here).

    ``user_group`` gives, for every node, its user-id group (alias-linked user ids share one),
    or -1 if the node is not a user id.

    Returns:
        A ``GreedyResult`` aligned with ``edges`` as passed in.
    """
    order = canonical_order(graph, edges)
    ordered = edges[order]
    nodes = np.unique(np.concatenate([graph.edge_left[edges], graph.edge_right[edges]]))
    user_rank = next(i for i, t in enumerate(graph.types) if t.name == "user_id")
    limited = [
        (rank, t.name, t.limit)
        for rank, t in enumerate(graph.types)
        if t.limit is not None and rank != user_rank
    ]
    rules = _Rules(
        user_limit=graph.types[user_rank].limit,
        limits=[(name, limit) for _, name, limit in limited],
        max_ids=settings.max_identifiers_per_person,
        max_merges=settings.max_merges_per_person,
    )
    node_rank = graph.node_rank[nodes]
    state = _State(
        parent=list(range(len(nodes))),
        size=[1] * len(nodes),
        merges=[0] * len(nodes),
        # One count list per limited type, only those: the rest are never checked.
        counts=[(node_rank == rank).astype(np.int64).tolist() for rank, _, _ in limited],
        groups=[{g} if g >= 0 else None for g in user_group[nodes].tolist()],
    )
    find, union, refusal = state.find, state.union, rules.refusal
    decided: list[int] = [MERGED] * len(edges)
    why: list[str | None] = [None] * len(edges)
    lefts = np.searchsorted(nodes, graph.edge_left[ordered]).tolist()
    rights = np.searchsorted(nodes, graph.edge_right[ordered]).tolist()
    for i, (left, right) in enumerate(zip(lefts, rights, strict=True)):
        a, b = find(left), find(right)
        if a == b:
            continue
        refused = refusal(state, a, b)
        if refused is None:
            union(a, b)
        else:
            decided[i], why[i] = refused

    outcome = np.empty(len(edges), dtype=np.int8)
    outcome[order] = decided
    reason: list[str | None] = [None] * len(edges)
    for i, text in zip(order.tolist(), why, strict=True):
        if text is not None:
            reason[i] = text
    root = nodes[np.fromiter((find(i) for i in range(len(nodes))), np.int64, len(nodes))]
    return GreedyResult(outcome=outcome, reason=reason, nodes=nodes, root=root)


@dataclass
class _State:
    """Union-find over local node numbers, with what the rules need per root."""

    parent: list[int]
    size: list[int]
    merges: list[int]
    counts: list[list[int]]
    groups: list[set[int] | None]

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees flat
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        size = self.size
        if size[a] < size[b]:
            a, b = b, a
        self.parent[b] = a
        merges = self.merges
        merges[a] += merges[b] + (1 if size[b] >= 2 and size[a] >= 2 else 0)
        size[a] += size[b]
        for count in self.counts:
            count[a] += count[b]
        if self.groups[b]:
            self.groups[a] = (self.groups[a] or set()) | self.groups[b]


@dataclass(frozen=True)
class _Rules:
    user_limit: int | None
    limits: list[tuple[str, int]]
    max_ids: int
    max_merges: int

    def refusal(self, state: _State, a: int, b: int) -> tuple[int, str] | None:
        """The first rule joining persons ``a`` and ``b`` would break, as (outcome, reason)."""
        ga, gb = state.groups[a], state.groups[b]
        if self.user_limit is not None and ga and gb:
            joined = len(ga | gb)
            if joined > self.user_limit:
                return (
                    CONFLICTING_USER_ID,
                    f"both persons carry a user_id ({joined} user-id groups, "
                    f"limit {self.user_limit})",
                )
        for (name, limit), count in zip(self.limits, state.counts, strict=True):
            total = count[a] + count[b]
            if total > limit:
                return TYPE_LIMIT, f"{name}: {total} values on one person, limit {limit}"
        size = state.size
        total = size[a] + size[b]
        if total > self.max_ids:
            return IDENTIFIER_CAP, f"{total} identifiers on one person, cap {self.max_ids}"
        if size[a] >= 2 and size[b] >= 2:
            merges = state.merges[a] + state.merges[b] + 1
            if merges > self.max_merges:
                return MERGE_CAP, f"{merges} merges into one person, cap {self.max_merges}"
        return None
