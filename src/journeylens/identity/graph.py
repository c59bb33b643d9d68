"""The identity graph: identifiers as integer nodes, the links messages make as integer edges.

A node is one (id_type, id_value). Every message links its identifiers as a star from its
best identifier (the hub: lowest priority number, then type name, then smallest value); an
alias message also links its ``alias`` rows (``previous_id`` and ``user_id``) with an edge of
kind ``alias``. Two alias rows are joined by the alias edge only, never also by a message edge.
Edges are deduplicated on (the two nodes, kind); each keeps when and where it was first seen
(smallest timestamp, then smallest ``message_id``, so the input order does not matter) and how
many messages carried it (a row's optional ``weight`` says how many messages it stands for).

Everything is vectorised: strings are dictionary-encoded once and the rest is integer numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity.hashing import edge_hashes, hash_strings, node_hashes
from journeylens.schema import IDENTIFIERS_SCHEMA
from journeylens.settings import IdentifierType, IdentitySettings

__all__ = [
    "ALIAS",
    "EDGE_KINDS",
    "MESSAGE",
    "NEVER",
    "IdentityGraph",
    "build_graph",
    "ranked_types",
]

#: Edge kind codes; alias sorts first because alias edges are processed first.
ALIAS, MESSAGE = 0, 1
EDGE_KINDS = ("alias", "message")
#: ``first_seen`` of an edge whose messages all lack a timestamp: sorts after every real one.
NEVER = np.iinfo(np.int64).max
_ARROW_SCHEMA = IDENTIFIERS_SCHEMA.to_pyarrow()


def ranked_types(settings: IdentitySettings) -> tuple[IdentifierType, ...]:
    """Identifier types best first: lowest priority number, then name (a strict order, even
    when two types share a priority)."""
    return tuple(sorted(settings.types, key=lambda t: (t.priority, t.name)))


@dataclass(frozen=True)
class IdentityGraph:
    """Integer-encoded identity graph.

    Attributes:
        types: identifier types best first; ``node_rank`` indexes it.
        node_rank: type rank of each node (int64).
        node_value: normalised value of each node (Arrow strings).
        node_hash: stable hash of each node (type, value) (uint64).
        edge_left, edge_right: node of each end; left is the better node (rank, then value).
        edge_kind: ``ALIAS`` or ``MESSAGE`` (int64).
        edge_first_seen: first timestamp the edge was seen, µs since the epoch, ``NEVER`` if
            unknown (int64).
        edge_message: the first message that carried the edge (Arrow strings).
        edge_support: how many messages carried the edge (int64).
        edge_hash: stable hash of (the two node hashes sorted, kind) (uint64).
    """

    types: tuple[IdentifierType, ...]
    node_rank: np.ndarray
    node_value: pa.Array
    node_hash: np.ndarray
    edge_left: np.ndarray
    edge_right: np.ndarray
    edge_kind: np.ndarray
    edge_first_seen: np.ndarray
    edge_message: pa.Array
    edge_support: np.ndarray
    edge_hash: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.node_rank)

    @property
    def n_edges(self) -> int:
        return len(self.edge_left)


def build_graph(ids: pa.Table, settings: IdentitySettings) -> IdentityGraph:
    """Encode ``ids`` (``IDENTIFIERS_SCHEMA`` layout, and optionally ``weight``: the messages
    each row stands for, 1 if absent) as an ``IdentityGraph``.

    Returns:
        The graph; see ``IdentityGraph`` for each field.
    """
    _check_columns(ids)
    row_weight = _row_weights(ids)
    ids = ids.select(list(IDENTIFIERS_SCHEMA.names)).cast(_ARROW_SCHEMA)
    types = ranked_types(settings)
    n_types = len(types)
    row_rank = _row_ranks(ids.column("id_type"), types)
    is_alias = _row_alias(ids.column("edge_kind"))

    row_node, node_rank, node_value = _nodes(ids.column("id_value"), row_rank, n_types)
    type_hash = hash_strings(pa.array([t.name for t in types]))
    node_hash = node_hashes(type_hash[node_rank], hash_strings(node_value))

    messages = pc.dictionary_encode(ids.column("message_id").combine_chunks())
    row_message = messages.indices.to_numpy().astype(np.int64)
    row_time = _micros(ids.column("timestamp"))

    a, b, kind, edge_rows = _stars(row_message, row_node, row_rank, is_alias, node_value)
    n_nodes = len(node_rank)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    row_edge, edge_keys = _factorize((lo * n_nodes + hi) * 2 + kind)
    edge_kind = edge_keys % 2
    lo = (edge_keys // 2) // n_nodes
    hi = (edge_keys // 2) % n_nodes
    first_seen, first_message = _first_seen(
        row_edge, row_time[edge_rows], row_message[edge_rows], len(edge_keys), messages.dictionary
    )
    left, right = _order_ends(lo, hi, node_rank, node_value)
    return IdentityGraph(
        types=types,
        node_rank=node_rank,
        node_value=node_value,
        node_hash=node_hash,
        edge_left=left,
        edge_right=right,
        edge_kind=edge_kind,
        edge_first_seen=first_seen,
        edge_message=messages.dictionary.take(pa.array(first_message)),
        edge_support=_support(row_edge, row_weight, edge_rows, len(edge_keys)),
        edge_hash=edge_hashes(node_hash[lo], node_hash[hi], edge_kind),
    )


def _stars(
    row_message: np.ndarray,
    row_node: np.ndarray,
    row_rank: np.ndarray,
    is_alias: np.ndarray,
    node_value: pa.Array,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One edge per row that is not its message's hub: (hub, node, kind, row).

    Message edges hang every row off the message's hub; alias edges hang every alias row off
    the best alias row. A message whose hub is one of its alias rows links its other alias rows
    by the alias edge only; its non-alias rows still hang off the hub by message edges."""
    n_messages = int(row_message.max(initial=-1)) + 1
    hub = _hubs(row_message, row_node, row_rank, n_messages, node_value)
    alias_rows = np.flatnonzero(is_alias)
    alias_message, alias_node = row_message[alias_rows], row_node[alias_rows]
    alias_hub = _hubs(alias_message, alias_node, row_rank[alias_rows], n_messages, node_value)
    hub_is_alias = np.zeros(n_messages, dtype=bool)
    hub_is_alias[alias_message[alias_node == hub[alias_message]]] = True
    row_hub = hub[row_message]
    as_message = (row_node != row_hub) & ~(is_alias & hub_is_alias[row_message])
    as_alias = np.zeros(len(row_node), dtype=bool)
    as_alias[alias_rows] = alias_node != alias_hub[alias_message]
    a = np.concatenate([row_hub[as_message], alias_hub[row_message[as_alias]]])
    b = np.concatenate([row_node[as_message], row_node[as_alias]])
    kind = np.concatenate(
        [np.full(int(as_message.sum()), MESSAGE), np.full(int(as_alias.sum()), ALIAS)]
    )
    return a, b, kind, np.concatenate([np.flatnonzero(as_message), np.flatnonzero(as_alias)])


def _nodes(
    id_value: pa.ChunkedArray, row_rank: np.ndarray, n_types: int
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Number the distinct (type, value) pairs.

    Almost every value occurs under one type only, so the value's dictionary code is its node
    number; only the rare value seen under several types (a user id equal to a device id)
    gets extra numbers, one per further type. Returns (node of each row, rank of each node,
    value of each node)."""
    values = pc.dictionary_encode(id_value.combine_chunks())
    row_value = values.indices.to_numpy().astype(np.int64)
    n_values = len(values.dictionary)
    lowest = np.full(n_values, n_types, dtype=np.int64)
    np.minimum.at(lowest, row_value, row_rank)
    row_node = row_value
    node_rank = lowest
    node_value = values.dictionary
    other = np.flatnonzero(row_rank != lowest[row_value])
    if other.size:
        codes, pairs = _factorize(row_value[other] * n_types + row_rank[other])
        row_node = row_value.copy()
        row_node[other] = n_values + codes
        node_rank = np.concatenate([lowest, pairs % n_types])
        node_value = pa.concat_arrays(
            [values.dictionary, values.dictionary.take(pa.array(pairs // n_types))]
        )
    return row_node, node_rank, node_value


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each key, distinct keys) with a hash table: several times faster than the
    sort in ``np.unique``. Codes follow first appearance, so they depend on the input order;
    nothing downstream does (outputs are named by hashes, decisions by canonical keys)."""
    codes, uniques = pd.factorize(keys)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=np.int64)


def _check_columns(ids: pa.Table) -> None:
    missing = [c for c in IDENTIFIERS_SCHEMA.names if c not in ids.column_names]
    if missing:
        raise ValidationError(
            f"The identifiers table lacks columns {missing}",
            received=ids.column_names,
            allowed=", ".join(IDENTIFIERS_SCHEMA.names),
            fix="Pass NormalisedIdentifiers.table (the output of normalise_identifiers)",
        )
    for name in ("message_id", "id_type", "id_value", "edge_kind"):
        if ids.column(name).null_count:
            raise ValidationError(f"The identifiers column {name!r} has nulls", received=name)


def _row_weights(ids: pa.Table) -> np.ndarray | None:
    """The ``weight`` of each row (None when every row is one message)."""
    if "weight" not in ids.column_names:
        return None
    weight = ids.column("weight")
    whole = pa.types.is_integer(weight.type) and not weight.null_count
    smallest = pc.min(weight).as_py() if whole else None
    if not whole or (smallest is not None and smallest < 1):
        raise ValidationError(
            "The identifiers column 'weight' must hold whole numbers of at least 1",
            received=f"{weight.type}, {weight.null_count} nulls, smallest {smallest}",
            fix="Leave weight out, or pass the weight extract_identifiers gave",
        )
    return pc.cast(weight, pa.int64()).to_numpy()


def _support(
    row_edge: np.ndarray, row_weight: np.ndarray | None, edge_rows: np.ndarray, n_edges: int
) -> np.ndarray:
    """Messages that carried each edge: its rows, or the sum of their weights."""
    if row_weight is None:
        return np.bincount(row_edge, minlength=n_edges).astype(np.int64)
    # Float sums of whole numbers are exact below 2**53 messages.
    weights = row_weight[edge_rows].astype(np.float64)
    return np.bincount(row_edge, weights=weights, minlength=n_edges).astype(np.int64)


def _row_ranks(id_type: pa.ChunkedArray, types: tuple[IdentifierType, ...]) -> np.ndarray:
    # A lookup into the few type names, not a dictionary encoding: no copy of the column.
    names = pa.array([t.name for t in types])
    rank = pc.index_in(id_type, value_set=names)
    if rank.null_count:
        unknown = pc.unique(pc.filter(id_type, pc.is_null(rank))).to_pylist()
        raise UnknownNameError("identifier type", unknown[0], names.to_pylist())
    return rank.to_numpy().astype(np.int64)


def _row_alias(edge_kind: pa.ChunkedArray) -> np.ndarray:
    code = pc.index_in(edge_kind, value_set=pa.array(EDGE_KINDS))
    if code.null_count:
        unknown = pc.unique(pc.filter(edge_kind, pc.is_null(code))).to_pylist()
        raise ValidationError(
            "edge_kind must be 'message' or 'alias'", received=unknown, allowed="message, alias"
        )
    return code.to_numpy() == ALIAS


def _micros(timestamp: pa.ChunkedArray) -> np.ndarray:
    micros = pc.cast(pc.cast(timestamp, pa.timestamp("us", tz="UTC")), pa.int64())
    return pc.fill_null(micros, NEVER).to_numpy()


def _hubs(
    row_message: np.ndarray,
    row_node: np.ndarray,
    row_rank: np.ndarray,
    n_messages: int,
    node_value: pa.Array,
) -> np.ndarray:
    """The hub node of every message (-1 for a message without rows): its row of lowest rank;
    among rows of that rank (only alias messages can have two), the smallest value."""
    best = np.full(n_messages, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, row_message, row_rank)
    candidate = np.flatnonzero(row_rank == best[row_message])
    c_message, c_node = row_message[candidate], row_node[candidate]
    hub = np.full(n_messages, -1, dtype=np.int64)
    hub[c_message] = c_node
    tied = c_node != hub[c_message]
    if tied.any():
        pick = np.isin(c_message, np.unique(c_message[tied]))
        _smallest_name(hub, c_message[pick], c_node[pick], node_value.take(pa.array(c_node[pick])))
    return hub


def _first_seen(
    row_edge: np.ndarray,
    row_time: np.ndarray,
    row_message: np.ndarray,
    n_edges: int,
    message_ids: pa.Array,
) -> tuple[np.ndarray, np.ndarray]:
    """Per edge: the smallest timestamp and, among rows at that timestamp, the smallest
    message id (compared as strings, only for the rare edges where two messages tie).

    Returns (first_seen per edge, message index per edge)."""
    first = np.full(n_edges, NEVER, dtype=np.int64)
    np.minimum.at(first, row_edge, row_time)
    candidate = np.flatnonzero(row_time == first[row_edge])
    c_edge, c_message = row_edge[candidate], row_message[candidate]
    message = np.full(n_edges, -1, dtype=np.int64)
    message[c_edge] = c_message
    tied = c_message != message[c_edge]
    if tied.any():
        pick = np.isin(c_edge, np.unique(c_edge[tied]))
        names = message_ids.take(pa.array(c_message[pick]))
        _smallest_name(message, c_edge[pick], c_message[pick], names)
    return first, message


def _smallest_name(out: np.ndarray, group: np.ndarray, item: np.ndarray, names: pa.Array) -> None:
    """``out[g]`` = the item of smallest name in each group ``g``. A Python loop, so only for
    the few groups that tie on everything cheaper."""
    choice: dict[int, tuple[str, int]] = {}
    for g, i, name in zip(group.tolist(), item.tolist(), names.to_pylist(), strict=True):
        if g not in choice or name < choice[g][0]:
            choice[g] = (name, i)
    for g, (_, i) in choice.items():
        out[g] = i


def _order_ends(
    lo: np.ndarray, hi: np.ndarray, node_rank: np.ndarray, node_value: pa.Array
) -> tuple[np.ndarray, np.ndarray]:
    """Put the better node (lower rank, then smaller value) of each edge on the left."""
    rank_lo, rank_hi = node_rank[lo], node_rank[hi]
    swap = rank_hi < rank_lo
    same = np.flatnonzero(rank_lo == rank_hi)
    if same.size:
        left_values = node_value.take(pa.array(lo[same]))
        right_values = node_value.take(pa.array(hi[same]))
        swap[same] = pc.less(right_values, left_values).to_numpy(zero_copy_only=False)
    return np.where(swap, hi, lo), np.where(swap, lo, hi)
