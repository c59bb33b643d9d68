"""The identity rules, each on a tiny literal graph, plus the invariants as properties."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity import resolve
from journeylens.settings import IdentifierType, IdentitySettings

Row = tuple[str, int | None, str, str] | tuple[str, int | None, str, str, str]


def ids(*rows: Row) -> pa.Table:
    """(message_id, timestamp µs, id_type, id_value[, edge_kind]) → an identifiers table."""
    return pa.table(
        {
            "message_id": [r[0] for r in rows],
            "timestamp": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "id_type": [r[2] for r in rows],
            "id_value": [r[3] for r in rows],
            "edge_kind": [r[4] if len(r) > 4 else "message" for r in rows],
        }
    )


def persons(res) -> dict[tuple[str, str], str]:
    return {
        (t, v): p
        for t, v, p in zip(
            res.id_map.column("id_type").to_pylist(),
            res.id_map.column("id_value").to_pylist(),
            res.id_map.column("person_id").to_pylist(),
            strict=True,
        )
    }


def same(res, a: tuple[str, str], b: tuple[str, str]) -> bool:
    p = persons(res)
    return p[a] == p[b]


def log(res) -> list[dict]:
    return sorted(res.merge_log.to_pylist(), key=lambda r: r["edge_id"])


def outcome_of(res, left: tuple[str, str], right: tuple[str, str]) -> str:
    for row in res.merge_log.to_pylist():
        ends = {(row["left_type"], row["left_value"]), (row["right_type"], row["right_value"])}
        if ends == {left, right}:
            return row["outcome"]
    raise AssertionError(f"no edge {left} - {right}")


DEFAULT = IdentitySettings()
U1, U2, A1, A2 = (
    ("user_id", "u1"),
    ("user_id", "u2"),
    ("anonymous_id", "a1"),
    ("anonymous_id", "a2"),
)


def test_a_message_links_all_its_identifiers():
    res = resolve(
        ids(
            ("m1", 1, "user_id", "u1"),
            ("m1", 1, "anonymous_id", "a1"),
            ("m1", 1, "email", "x@y.com"),
        ),
        DEFAULT,
    )
    assert len(set(persons(res).values())) == 1
    assert res.stats.merged_edges == 2  # a star from the user id, not a triangle


def test_a_shared_device_does_not_merge_two_users():
    res = resolve(
        ids(
            ("m1", 1, "anonymous_id", "a1"),
            ("m1", 1, "user_id", "u1"),
            ("m2", 2, "anonymous_id", "a1"),
            ("m2", 2, "user_id", "u2"),
        ),
        DEFAULT,
    )
    assert same(res, A1, U1)
    assert not same(res, U1, U2)
    assert outcome_of(res, U2, A1) == "refused_conflicting_user_id"


def test_a_contested_identifier_goes_to_the_person_who_uses_it_most():
    # u2 borrowed the family tablet a1 once, before its owner u1 logged in on it three times.
    res = resolve(
        ids(
            ("m1", 1, "anonymous_id", "a1"),
            ("m1", 1, "user_id", "u2"),
            *[
                row
                for t in (2, 3, 4)
                for row in ((f"m{t}", t, "anonymous_id", "a1"), (f"m{t}", t, "user_id", "u1"))
            ],
        ),
        DEFAULT,
    )
    assert same(res, A1, U1)
    assert outcome_of(res, U2, A1) == "refused_conflicting_user_id"


def test_a_typod_email_does_not_merge_two_users_and_stays_with_the_first():
    email = ("email", "ann@example.com")
    res = resolve(
        ids(
            ("m1", 1, "user_id", "u1"),
            ("m1", 1, "email", "ann@example.com"),
            ("m2", 2, "user_id", "u2"),
            ("m2", 2, "email", "ann@example.com"),
            ("m2", 2, "anonymous_id", "a2"),
        ),
        DEFAULT,
    )
    assert same(res, email, U1)
    assert same(res, U2, A2)  # the rest of the message still merges: only the email is demoted
    assert not same(res, U1, U2)
    assert outcome_of(res, U2, email) == "refused_conflicting_user_id"


def test_an_alias_joins_two_user_ids():
    rows = [
        ("m1", 1, "user_id", "u1"),
        ("m1", 1, "anonymous_id", "a1"),
        ("m2", 2, "user_id", "u2"),
        ("m2", 2, "anonymous_id", "a2"),
    ]
    alias = [("m3", 3, "user_id", "u1", "alias"), ("m3", 3, "user_id", "u2", "alias")]
    res = resolve(ids(*rows, *alias), DEFAULT)
    assert same(res, A1, A2)
    assert outcome_of(res, U1, U2) == "merged"
    assert res.merge_log.filter(pa.compute.equal(res.merge_log["edge_kind"], "alias")).num_rows == 1


def test_an_alias_message_links_its_pair_by_an_alias_edge_and_the_rest_by_message_edges():
    res = resolve(
        ids(
            ("m1", 1, "user_id", "u2", "alias"),
            ("m1", 1, "anonymous_id", "a1", "alias"),
            ("m1", 1, "anonymous_id", "a9"),
        ),
        DEFAULT,
    )
    kinds = {(r["left_value"], r["right_value"], r["edge_kind"]) for r in log(res)}
    assert kinds == {("u2", "a1", "alias"), ("u2", "a9", "message")}


def test_an_alias_lets_a_shared_anonymous_id_join_its_two_user_ids():
    res = resolve(
        ids(
            ("m1", 1, "anonymous_id", "a1"),
            ("m1", 1, "user_id", "u1"),
            ("m2", 2, "anonymous_id", "a1"),
            ("m2", 2, "user_id", "u2"),
            ("m3", 3, "user_id", "u1", "alias"),
            ("m3", 3, "user_id", "u2", "alias"),
        ),
        DEFAULT,
    )
    assert res.stats.persons == 1
    assert res.stats.refusals == {}


def test_an_anonymous_id_belongs_to_one_person():
    res = resolve(
        ids(
            ("m1", 1, "anonymous_id", "a1"),
            ("m1", 1, "user_id", "u1"),
            ("m2", 2, "anonymous_id", "a1"),
            ("m2", 2, "user_id", "u2"),
            ("m3", 3, "anonymous_id", "a1"),
            ("m3", 3, "email", "z@z.z"),
        ),
        DEFAULT,
    )
    keys = list(
        zip(res.id_map["id_type"].to_pylist(), res.id_map["id_value"].to_pylist(), strict=True)
    )
    assert len(keys) == len(set(keys)) == 4
    assert same(res, A1, ("email", "z@z.z"))


def test_a_type_limit_refuses_the_newest_value_and_keeps_the_rest_of_the_message():
    tight = IdentitySettings(
        types=tuple(
            t.model_copy(update={"limit": 1}) if t.name == "email" else t for t in DEFAULT.types
        )
    )
    res = resolve(
        ids(
            ("m1", 1, "user_id", "u1"),
            ("m1", 1, "email", "e1@x.io"),
            ("m2", 2, "user_id", "u1"),
            ("m2", 2, "email", "e2@x.io"),
            ("m2", 2, "anonymous_id", "a2"),
        ),
        tight,
    )
    assert same(res, U1, ("email", "e1@x.io"))
    assert not same(res, U1, ("email", "e2@x.io"))
    assert same(res, U1, A2)
    assert outcome_of(res, U1, ("email", "e2@x.io")) == "refused_type_limit"
    reason = res.merge_log.filter(pa.compute.equal(res.merge_log["outcome"], "refused_type_limit"))
    assert reason["reason"].to_pylist() == ["email: 2 values on one person, limit 1"]


def test_priority_decides_which_edge_loses_not_arrival_time():
    # The email's link to a user id (priorities 1-2) is decided before the anonymous id's link
    # to that email (2-4), even though the anonymous id was seen first.
    tight = IdentitySettings(max_identifiers_per_person=2)
    res = resolve(
        ids(
            ("m1", 1, "email", "e@x.io"),
            ("m1", 1, "anonymous_id", "a1"),
            ("m2", 2, "user_id", "u1"),
            ("m2", 2, "email", "e@x.io"),
        ),
        tight,
    )
    assert same(res, U1, ("email", "e@x.io"))
    assert outcome_of(res, ("email", "e@x.io"), A1) == "refused_identifier_cap"


def test_the_identifier_cap_stops_a_person_growing():
    capped = IdentitySettings(max_identifiers_per_person=3)
    res = resolve(
        ids(
            *[
                (f"m{i}", i, t, v)
                for i in range(1, 4)
                for t, v in (("user_id", "u1"), ("anonymous_id", f"a{i}"))
            ]
        ),
        capped,
    )
    assert res.stats.largest_person == 3
    assert outcome_of(res, U1, ("anonymous_id", "a3")) == "refused_identifier_cap"


def test_the_merge_cap_stops_joining_profiles_but_not_identifiers():
    capped = IdentitySettings(max_merges_per_person=1)
    rows = [
        # Three two-identifier profiles, made by alias edges (processed first).
        ("x1", 1, "anonymous_id", "a1", "alias"),
        ("x1", 1, "anonymous_id", "a2", "alias"),
        ("x2", 1, "anonymous_id", "a3", "alias"),
        ("x2", 1, "anonymous_id", "a4", "alias"),
        ("x3", 1, "anonymous_id", "a5", "alias"),
        ("x3", 1, "anonymous_id", "a6", "alias"),
        # One email seen with all three: the first link attaches it, the second merges two
        # profiles (merge 1), the third would be merge 2.
        ("m1", 5, "email", "e@x.io"),
        ("m1", 5, "anonymous_id", "a1"),
        ("m2", 6, "email", "e@x.io"),
        ("m2", 6, "anonymous_id", "a3"),
        ("m3", 7, "email", "e@x.io"),
        ("m3", 7, "anonymous_id", "a5"),
    ]
    res = resolve(ids(*rows), capped)
    email = ("email", "e@x.io")
    assert same(res, email, ("anonymous_id", "a4"))
    assert not same(res, email, ("anonymous_id", "a6"))
    assert outcome_of(res, email, ("anonymous_id", "a5")) == "refused_merge_cap"


def test_an_invalidated_edge_splits_the_person_it_held_together():
    table = ids(
        ("m1", 1, "user_id", "u1"),
        ("m1", 1, "anonymous_id", "a1"),
        ("m2", 2, "user_id", "u1"),
        ("m2", 2, "anonymous_id", "a2"),
    )
    before = resolve(table, DEFAULT)
    assert before.stats.persons == 1
    bad = [r["edge_id"] for r in before.merge_log.to_pylist() if r["right_value"] == "a2"]
    after = resolve(table, DEFAULT, invalid_edges=bad)
    assert after.stats.persons == 2
    assert same(after, U1, A1)
    assert outcome_of(after, U1, A2) == "invalidated"
    assert persons(after)[U1] == persons(before)[U1]


def test_unknown_invalid_edges_are_counted_not_fatal():
    table = ids(("m1", 1, "user_id", "u1"), ("m1", 1, "anonymous_id", "a1"))
    res = resolve(table, DEFAULT, invalid_edges=["e_0000000000000000"])
    assert res.stats.unmatched_invalid_edges == 1
    assert res.stats.persons == 1


def test_person_id_comes_from_the_best_identifier_and_is_stable():
    alone = resolve(ids(("m1", 1, "user_id", "u1")), DEFAULT)
    grown = resolve(
        ids(
            ("m1", 1, "user_id", "u1"),
            ("m1", 1, "anonymous_id", "a1"),
            ("m9", 9, "anonymous_id", "zz"),
            ("m9", 9, "email", "other@x.io"),
        ),
        DEFAULT,
    )
    assert persons(grown)[A1] == persons(alone)[U1]
    assert re.fullmatch(r"p_[0-9a-f]{16}", persons(alone)[U1])


def test_without_a_user_id_the_smallest_value_of_the_best_type_names_the_person():
    res = resolve(
        ids(
            ("m1", 1, "anonymous_id", "b"),
            ("m1", 1, "device_id", "d"),
            ("m2", 2, "anonymous_id", "a"),
            ("m2", 2, "device_id", "d"),
        ),
        DEFAULT,
    )
    alone = resolve(ids(("m1", 1, "anonymous_id", "a")), DEFAULT)
    assert set(persons(res).values()) == set(persons(alone).values())


def test_the_merge_log_records_first_seen_and_message():
    res = resolve(
        ids(
            ("m2", 5, "user_id", "u1"),
            ("m2", 5, "anonymous_id", "a1"),
            ("m1", 5, "user_id", "u1"),
            ("m1", 5, "anonymous_id", "a1"),
            ("m0", None, "user_id", "u1"),
            ("m0", None, "anonymous_id", "a1"),
        ),
        DEFAULT,
    )
    (row,) = res.merge_log.to_pylist()
    assert (row["message_id"], row["first_seen"].timestamp() * 1e6) == ("m1", 5)
    assert (row["left_value"], row["right_value"], row["outcome"]) == ("u1", "a1", "merged")
    assert re.fullmatch(r"e_[0-9a-f]{16}", row["edge_id"])


def test_an_unknown_identifier_type_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="Did you mean 'user_id'"):
        resolve(ids(("m1", 1, "userid", "u1")), DEFAULT)


def test_missing_columns_are_a_clear_error():
    with pytest.raises(ValidationError, match="lacks columns"):
        resolve(pa.table({"message_id": ["m1"]}), DEFAULT)


def test_a_malformed_invalid_edge_is_a_clear_error():
    with pytest.raises(ValidationError, match="edge ids"):
        resolve(ids(("m1", 1, "user_id", "u1")), DEFAULT, invalid_edges=["nope"])


def test_a_single_edge_id_string_instead_of_a_list_is_a_clear_error():
    with pytest.raises(ValidationError, match="not one string"):
        resolve(ids(("m1", 1, "user_id", "u1")), DEFAULT, invalid_edges="e_0000000000000000")


def test_an_unknown_edge_kind_is_a_clear_error():
    with pytest.raises(ValidationError, match="edge_kind"):
        resolve(ids(("m1", 1, "user_id", "u1", "merge")), DEFAULT)


def test_a_weighted_row_counts_as_that_many_messages():
    # As the contested tablet above, with u1's three logins collapsed into one row of weight 3.
    table = ids(
        ("m1", 1, "anonymous_id", "a1"),
        ("m1", 1, "user_id", "u2"),
        ("m2", 2, "anonymous_id", "a1"),
        ("m2", 2, "user_id", "u1"),
    ).append_column("weight", pa.array([1, 1, 3, 3], pa.int64()))
    res = resolve(table, DEFAULT)
    assert same(res, A1, U1)
    assert outcome_of(res, U2, A1) == "refused_conflicting_user_id"


def test_a_weight_below_one_is_a_clear_error():
    table = ids(("m1", 1, "user_id", "u1")).append_column("weight", pa.array([0], pa.int64()))
    with pytest.raises(ValidationError, match="weight"):
        resolve(table, DEFAULT)


def test_an_empty_table_gives_empty_results():
    for table in (ids(), ids().append_column("weight", pa.array([], pa.int64()))):
        res = resolve(table, DEFAULT)
        assert res.id_map.num_rows == res.merge_log.num_rows == res.stats.persons == 0


# --------------------------------------------------------------------------- properties

TIGHT = IdentitySettings(
    types=(
        IdentifierType(name="user_id", paths=("user_id",), priority=1, limit=1),
        IdentifierType(name="email", paths=("traits.email",), priority=2, limit=2),
        IdentifierType(name="anonymous_id", paths=("anonymous_id",), priority=4),
        IdentifierType(name="device_id", paths=("context.device.id",), priority=4, limit=3),
    ),
    max_identifiers_per_person=7,
    max_merges_per_person=1,
)
POOLS = {"user_id": 3, "email": 4, "anonymous_id": 5, "device_id": 4}

message = st.tuples(
    st.integers(0, 6),  # timestamp (few values: ties happen)
    st.sampled_from(["message", "message", "message", "alias"]),
    st.lists(st.tuples(st.sampled_from(sorted(POOLS)), st.integers(0, 7)), min_size=1, max_size=4),
)


def _graph(messages) -> pa.Table:
    rows = []
    for i, (t, kind, members) in enumerate(messages):
        seen = set()
        for id_type, n in members:
            key = (id_type, f"{id_type[0]}{n % POOLS[id_type]}")
            if kind == "message" and any(k[0] == id_type for k in seen):
                continue  # a message carries one value per type
            if key not in seen:
                seen.add(key)
                rows.append((f"m{i}", t, *key, kind))
    return ids(*rows)


def _canonical(res) -> tuple[list, list]:
    id_map = sorted(res.id_map.to_pylist(), key=lambda r: (r["id_type"], r["id_value"]))
    return id_map, log(res)


@settings(max_examples=60, deadline=None)
@given(st.lists(message, min_size=3, max_size=14), st.randoms(use_true_random=False))
def test_resolution_does_not_depend_on_input_order(messages, rnd):
    table = _graph(messages)
    order = list(range(table.num_rows))
    rnd.shuffle(order)
    shuffled = table.take(pa.array(order, pa.int64()))
    assert _canonical(resolve(table, TIGHT)) == _canonical(resolve(shuffled, TIGHT))


@settings(max_examples=80, deadline=None)
@given(st.lists(message, min_size=3, max_size=16), st.data())
def test_the_fast_path_gives_exactly_what_the_greedy_gives(messages, data):
    table = _graph(messages)
    fast = resolve(table, TIGHT)
    invalid = data.draw(
        st.lists(st.sampled_from(fast.merge_log["edge_id"].to_pylist()), max_size=2)
        if fast.merge_log.num_rows
        else st.just([])
    )
    fast = resolve(table, TIGHT, invalid_edges=invalid)
    greedy = resolve(table, TIGHT, invalid_edges=invalid, strategy="greedy")
    assert _canonical(fast) == _canonical(greedy)
    assert fast.stats.outcomes == greedy.stats.outcomes


def _collapsed(table: pa.Table) -> pa.Table:
    """Messages with the same rows as one row set of the first of them (smallest timestamp,
    then message id), weighted by how many they were: what extract_identifiers hands on."""
    rows: dict[str, list[tuple]] = {}
    for r in table.to_pylist():
        rows.setdefault(r["message_id"], []).append(r)
    groups: dict[tuple, list[str]] = {}
    for message, members in rows.items():
        key = tuple(sorted((r["id_type"], r["id_value"], r["edge_kind"]) for r in members))
        groups.setdefault(key, []).append(message)
    out = []
    for messages in groups.values():
        first = min(messages, key=lambda m: (rows[m][0]["timestamp"], m))
        out += [r | {"weight": len(messages)} for r in rows[first]]
    return pa.Table.from_pylist(out, schema=table.schema.append(pa.field("weight", pa.int64())))


@settings(max_examples=60, deadline=None)
@given(st.lists(message, min_size=3, max_size=16), st.lists(st.integers(0, 15), max_size=12))
def test_collapsing_alike_messages_into_weighted_rows_changes_nothing(messages, repeats):
    # Repeat some messages (new ids, other timestamps) so that groups form, then collapse.
    extra = [(t + 1, *messages[i % len(messages)][1:]) for t, i in enumerate(repeats)]
    table = _graph([*messages, *extra])
    whole, collapsed = resolve(table, TIGHT), resolve(_collapsed(table), TIGHT)
    assert _canonical(whole) == _canonical(collapsed)
    assert whole.stats == collapsed.stats


@settings(max_examples=40, deadline=None)
@given(st.lists(message, max_size=14))
def test_under_default_settings_persons_are_the_connected_components_without_refusals(messages):
    # With no user ids in play nothing can be refused, so the fast path is plain components.
    table = _graph([(t, k, [m for m in ms if m[0] != "user_id"]) for t, k, ms in messages])
    res = resolve(table, DEFAULT)
    assert res.stats.refusals == {}
    assert res.stats.persons == res.stats.identifiers - len(
        _spanning_forest(res.merge_log.to_pylist())
    )


def _spanning_forest(edges: list[dict]) -> list[dict]:
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    kept = []
    for e in edges:
        a = find((e["left_type"], e["left_value"]))
        b = find((e["right_type"], e["right_value"]))
        if a != b:
            parent[a] = b
            kept.append(e)
    return kept


def test_fast_and_greedy_agree_on_a_larger_random_graph():
    rng = np.random.default_rng(3)
    rows = []
    for m in range(3000):
        rows.append(
            (f"m{m}", int(rng.integers(0, 50)), "anonymous_id", f"a{rng.integers(0, 2500)}")
        )
        if rng.random() < 0.5:
            rows.append((f"m{m}", rows[-1][1], "user_id", f"u{rng.integers(0, 900)}"))
        if rng.random() < 0.2:
            rows.append((f"m{m}", rows[-1][1], "email", f"e{rng.integers(0, 600)}@x.io"))
    table = ids(*rows)
    fast, greedy = resolve(table, TIGHT), resolve(table, TIGHT, strategy="greedy")
    assert _canonical(fast) == _canonical(greedy)
    assert 0 < fast.stats.checked_components < greedy.stats.checked_components
