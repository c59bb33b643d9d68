"""Funnel invariants and agreement with a plain-Python PostHog walk, on random small tables.

Each Hypothesis example is one spec over many units at once (one engine query per example),
with timestamps drawn from a narrow range so ties, repeats and same-second chains are common.
"""

from __future__ import annotations

import itertools
import random

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.funnel import FunnelSpec, funnel
from journeylens.analysis.funnel_chain import chain_units
from journeylens.analysis.funnel_engine import ordered_units, seconds_between
from journeylens.analysis.funnel_prepare import prepare
from journeylens.analysis.funnel_unordered import unordered_units
from tests.analysis.funnel_oracle import OracleEvent, ordered_unit, steps_array, unordered_unit

NAMES = ["A", "B", "C", "X"]
FAST = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def cases(draw, orders=("ordered", "strict"), *, any_event=True, distinct=False):
    """(rows, spec): up to 12 units with up to 8 events each on a 0–10 s clock. Steps may
    repeat and (``any_event``) be "any event"; ``distinct`` steps are A, B, C in some order."""
    n = draw(st.integers(2, 3 if distinct else 4))
    names = ["A", "B", "C", None] if any_event else ["A", "B", "C"]
    if distinct:
        steps = draw(st.permutations(["A", "B", "C"]))[:n]
    else:
        steps = [draw(st.sampled_from(names if i else names[:3])) for i in range(n)]
    exclusions = []
    if draw(st.booleans()):
        start = draw(st.integers(0, n - 2))
        exclusions.append(
            {
                "event": draw(st.sampled_from(NAMES)),
                "from_step": start,
                "to_step": draw(st.integers(start + 1, n - 1)),
            }
        )
    order = draw(st.sampled_from(orders))
    window = f"{draw(st.integers(1, 6))}s"
    try:
        spec = FunnelSpec(
            steps=[{"event": s} for s in steps], order=order, window=window, exclusions=exclusions
        )
    except pydantic.ValidationError:
        spec = FunnelSpec(steps=[{"event": s} for s in steps], order=order, window=window)
    rows = []
    for unit in range(draw(st.integers(1, 12))):
        for _ in range(draw(st.integers(0, 8))):
            rows.append(
                {
                    "person": f"u{unit:02d}",
                    "event": draw(st.sampled_from([*NAMES, "D"])),
                    "ts": draw(st.integers(0, 10)),
                }
            )
    return rows, spec


def oracle(rows, spec):
    n, window = len(spec.steps), spec.window.total_seconds()
    out = {}
    for person in sorted({r["person"] for r in rows}):
        walk = []
        for uid, row in enumerate(rows):
            if row["person"] != person:
                continue
            matches = [s.event is None or s.event == row["event"] for s in spec.steps]
            guards = [
                any(
                    x.event == row["event"] and x.from_step < i <= x.to_step
                    for x in spec.exclusions
                )
                for i in range(1, n)
            ]
            codes = steps_array(matches, guards)
            if codes or spec.order == "strict":
                walk.append(OracleEvent(float(row["ts"]), uid, codes))
        if spec.order == "unordered":
            depth, gaps = unordered_unit(walk, n, window)
        else:
            depth, gaps = ordered_unit(walk, n, window, strict=spec.order == "strict")
        if depth > 0:
            out[person] = (depth, [round(g, 3) for g in gaps])
    return out


def engine(make_events, rows, spec, *, general=False):
    """Per unit (depth, gaps) from the engine ``funnel`` picks, or with ``general`` from the
    general ordered engine even where the distinct-steps chain applies."""
    n = len(spec.steps)
    prep = prepare(make_events(rows), spec)
    if spec.order == "unordered":
        units = unordered_units(prep, spec.window)
        gaps = [units[f"_s{k}"] for k in range(2, n + 1)]
    else:
        if spec.distinct_ordered and not general:
            units = chain_units(prep, spec)
        else:
            units = ordered_units(prep, spec.window, strict=spec.order == "strict")
        gaps = [seconds_between(units[f"_t{k}"], units[f"_t{k - 1}"]) for k in range(2, n + 1)]
    named = {f"g{i}": g for i, g in enumerate(gaps)}
    frame = units.select(unit=units._u, depth=units._depth, **named).execute()
    out = {}
    for r in frame.to_dict("records"):
        depth = int(r["depth"])
        out[r["unit"]] = (depth, [round(float(r[f"g{i}"]), 3) for i in range(depth - 1)])
    return out


@FAST
@given(case=cases())
def test_the_engine_walks_each_unit_as_posthog_does(make_events, case):
    rows, spec = case
    assert engine(make_events, rows, spec) == oracle(rows, spec)


@settings(FAST, max_examples=15)
@given(case=cases(orders=("ordered",), distinct=True))
def test_distinct_steps_take_the_chain_and_both_engines_match_the_walk(make_events, case):
    rows, spec = case
    # An exclusion of another event takes the chain; of a step outside its range, it does not.
    names = {s.event for s in spec.steps}
    assert spec.distinct_ordered == all(x.event not in names for x in spec.exclusions)
    expected = oracle(rows, spec)
    assert engine(make_events, rows, spec) == expected
    assert engine(make_events, rows, spec, general=True) == expected


@FAST
@given(case=cases(orders=("unordered",), distinct=True))
def test_unordered_funnels_match_the_queue_walk(make_events, case):
    rows, spec = case
    assert engine(make_events, rows, spec) == oracle(rows, spec)


@FAST
@given(case=cases(orders=("ordered", "strict", "unordered")))
def test_counts_never_increase_from_step_to_step(make_events, case):
    rows, spec = case
    counts = [s.count for s in funnel(make_events(rows), spec).steps]
    assert all(a >= b for a, b in itertools.pairwise(counts)), counts


@FAST
@given(case=cases(orders=("ordered",), any_event=False), seed=st.integers(0, 10**6))
def test_an_unrelated_event_never_changes_an_ordered_funnel(make_events, case, seed):
    rows, spec = case
    rnd = random.Random(seed)
    # The same units again under other names, with unrelated events sprinkled in.
    noisy = [{**r, "person": "n" + r["person"]} for r in rows]
    noisy += [
        {"person": "n" + r["person"], "event": "Unrelated", "ts": rnd.randint(0, 10)}
        for r in rows[: max(1, len(rows) // 2)]
    ]
    result = engine(make_events, rows + noisy, spec)
    clean = {u: v for u, v in result.items() if not u.startswith("n")}
    assert {u[1:]: v for u, v in result.items() if u.startswith("n")} == clean


@FAST
@given(case=cases(orders=("ordered", "strict")), rnd=st.randoms(use_true_random=False))
def test_unit_results_do_not_depend_on_row_order(make_events, case, rnd):
    rows, spec = case
    # The same units twice in one table: once in order, once shuffled among everything.
    copy = [
        {**r, "person": "s" + r["person"], "message_id": f"s{i:05d}"} for i, r in enumerate(rows)
    ]
    table = [{**r, "message_id": f"m{i:05d}"} for i, r in enumerate(rows)]
    rnd.shuffle(copy)
    for row in copy:
        table.insert(rnd.randint(0, len(table)), row)
    result = engine(make_events, table, spec)
    ordered = {u: v for u, v in result.items() if not u.startswith("s")}
    assert {u[1:]: v for u, v in result.items() if u.startswith("s")} == ordered
