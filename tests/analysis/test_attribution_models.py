"""The path models of attribution give the hand-computed credits on small path tables."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.analysis import attribution_markov
from journeylens.analysis.attribution_markov import markov
from journeylens.analysis.attribution_paths import (
    RULE_MODELS,
    PathCounts,
    path_counts_from_frame,
    rule_credits,
)
from journeylens.analysis.attribution_shapley import shapley
from journeylens.errors import UnknownNameError, ValidationError


def counts(*rows: tuple[str, float, float, float]) -> PathCounts:
    """PathCounts from rows of (path text, conversions, value, non-conversions)."""
    frame = pd.DataFrame(rows, columns=["path", "conversions", "value", "non_conversions"])
    return path_counts_from_frame(
        frame,
        path_col="path",
        conversions_col="conversions",
        value_col="value",
        non_conversions_col="non_conversions",
    )


def credit(frame: pd.DataFrame, column: str = "conversions") -> dict[str, float]:
    return dict(zip(frame["channel"], frame[column], strict=True))


def assert_credit(frame: pd.DataFrame, expected: dict[str, float], column: str = "conversions"):
    got = credit(frame, column)
    assert list(got) == sorted(expected), got
    for channel, number in expected.items():
        assert got[channel] == pytest.approx(number, abs=1e-12), (channel, got)


# Seven journeys: a repeat (Email twice in row 6), single touches (rows 2, 3), an all-direct
# journey (row 5) and a path that never converts (row 7). 7 conversions, value 250.
RULE_TABLE = (
    ("Email > Search > Direct", 2, 100, 0),
    ("Direct", 1, 10, 0),
    ("Social", 1, 20, 0),
    ("Search > Email", 1, 50, 0),
    ("Direct > Direct", 1, 30, 0),
    ("Email > Social > Email > Search", 1, 40, 0),
    ("Search > Social", 0, 0, 5),
)


# ----------------------------------------------------------------------------- path tables


def test_path_text_is_split_stripped_and_identical_paths_are_grouped():
    frame = pd.DataFrame(
        {
            "journey": [" email >search", "email > search ", "sms", "email>>search", "sms"],
            "conv": [1, 2, 0, 4, 1],
            "revenue": [10.0, 20.0, 0.0, 5.0, 7.5],
            "lost": [3, 0, 6, 1, 2],
        }
    )
    paths = path_counts_from_frame(
        frame,
        path_col="journey",
        conversions_col="conv",
        value_col="revenue",
        non_conversions_col="lost",
    )
    # Rows 0, 1 and 3 are the same path (empty names between ">>" are dropped); 2 and 4 too.
    assert paths.paths == (("email", "search"), ("sms",))
    assert paths.conversions.tolist() == [7.0, 1.0]
    assert paths.value.tolist() == [35.0, 7.5]
    assert paths.non_conversions.tolist() == [4.0, 8.0]
    assert paths.channels == ("email", "search", "sms")


def test_a_custom_separator_splits_paths_and_missing_columns_count_zero():
    frame = pd.DataFrame({"p": ["a | b", "b|a|a"], "c": [1, 2]})
    paths = path_counts_from_frame(frame, path_col="p", conversions_col="c", separator="|")
    assert paths.paths == (("a", "b"), ("b", "a", "a"))
    assert paths.value.tolist() == [0.0, 0.0]
    assert paths.non_conversions.tolist() == [0.0, 0.0]


def test_an_empty_table_gives_empty_paths_and_every_model_an_empty_result():
    frame = pd.DataFrame({"path": pd.Series([], dtype=object), "conv": pd.Series([], dtype=int)})
    paths = path_counts_from_frame(frame, path_col="path", conversions_col="conv")
    assert len(paths) == 0
    for model in RULE_MODELS:
        assert rule_credits(paths, model).empty
    assert shapley(paths).empty
    result = markov(paths, order=2)
    assert result.credits.empty
    assert result.conversion_probability == 0.0
    assert result.transitions.empty


BAD_FRAMES = [
    # (table, keyword overrides, error type, words the message must contain)
    ({"path": ["a"], "conv": [1]}, {"path_col": "pth"}, UnknownNameError, "Did you mean 'path'"),
    ({"path": ["a"], "conv": [1]}, {"value_col": "revenue"}, UnknownNameError, "revenue"),
    ({"path": ["a", "b"], "conv": [1, -2]}, {}, ValidationError, "row 1"),
    ({"path": ["a", "b"], "conv": [1, "many"]}, {}, ValidationError, "finite numbers; row 1"),
    ({"path": ["a", "b"], "conv": [None, 1.0]}, {}, ValidationError, "row 0"),
    ({"path": ["a", "b"], "conv": [1.0, math.inf]}, {}, ValidationError, "row 1"),
    ({"path": ["a", " > "], "conv": [1, 1]}, {}, ValidationError, "row 1 has no channel"),
    ({"path": ["", "a"], "conv": [1, 1]}, {}, ValidationError, "row 0 has no channel"),
    ({"path": ["a", None], "conv": [1, 1]}, {}, ValidationError, "row 1 is not text"),
    ({"path": [3, "a"], "conv": [1, 1]}, {}, ValidationError, "row 0 is not text"),
    ({"path": ["a"], "conv": [1]}, {"separator": ""}, ValidationError, "separator"),
]


@pytest.mark.parametrize(("table", "overrides", "error", "words"), BAD_FRAMES)
def test_bad_path_tables_are_refused_with_the_row_at_fault(table, overrides, error, words):
    keywords = {"path_col": "path", "conversions_col": "conv", **overrides}
    with pytest.raises(error) as caught:
        path_counts_from_frame(pd.DataFrame(table), **keywords)
    assert words in str(caught.value)


def test_path_data_must_be_a_dataframe():
    with pytest.raises(ValidationError, match="pandas DataFrame"):
        path_counts_from_frame([{"path": "a"}], path_col="path", conversions_col="conv")


@pytest.mark.parametrize(
    ("paths", "conversions", "words"),
    [
        ((("a",), ("b",)), [1.0], "one number per path"),
        ((("a",),), [-1.0], "non-negative"),
        ((("a",),), [math.nan], "finite"),
        ((("a",),), ["x"], "must be numbers"),
        (("a > b",), [1.0], "tuple of channel names"),
        (((),), [1.0], "no touches"),
        ((("a", ""),), [1.0], "non-empty text"),
        ((("a", 3),), [1.0], "non-empty text"),
    ],
)
def test_path_counts_refuse_malformed_paths_and_numbers(paths, conversions, words):
    with pytest.raises(ValidationError, match=words):
        PathCounts(
            paths=paths,
            conversions=conversions,
            value=[0.0] * len(paths),
            non_conversions=[0.0] * len(paths),
        )


# ----------------------------------------------------------------------------- rule models


def test_first_touch_credits_the_first_channel_of_each_journey():
    result = rule_credits(counts(*RULE_TABLE), "first_touch")
    # Email opens rows 1 (2 conv, 100) and 6 (1, 40); Direct rows 2 (1, 10) and 5 (1, 30);
    # Social row 3 (1, 20); Search row 4 (1, 50). Row 7 never converts.
    assert_credit(result, {"Direct": 2, "Email": 3, "Search": 1, "Social": 1})
    assert_credit(result, {"Direct": 40, "Email": 140, "Search": 50, "Social": 20}, "value")


def test_last_touch_credits_the_last_channel_of_each_journey():
    result = rule_credits(counts(*RULE_TABLE), "last_touch")
    # Direct closes rows 1 (2, 100), 2 (1, 10) and 5 (1, 30); Social row 3; Email row 4;
    # Search row 6 (1, 40).
    assert_credit(result, {"Direct": 4, "Email": 1, "Search": 1, "Social": 1})
    assert_credit(result, {"Direct": 140, "Email": 50, "Search": 40, "Social": 20}, "value")


def test_last_non_direct_skips_direct_unless_the_journey_is_all_direct():
    result = rule_credits(counts(*RULE_TABLE), "last_non_direct")
    # Row 1 goes to Search (2, 100), row 6 to Search (1, 40); rows 2 and 5 are all direct and
    # keep Direct (1 + 1, 10 + 30) as GA4 does; Social row 3, Email row 4.
    assert_credit(result, {"Direct": 2, "Email": 1, "Search": 3, "Social": 1})
    assert_credit(result, {"Direct": 40, "Email": 50, "Search": 140, "Social": 20}, "value")


def test_last_non_direct_reads_the_direct_channel_name_given():
    paths = counts(("email > (direct)", 1, 0, 0), ("(direct)", 1, 0, 0), ("sms > email", 1, 0, 0))
    # Default "Direct" is not a channel here, so every touch counts: same as last touch.
    assert_credit(rule_credits(paths, "last_non_direct"), {"(direct)": 2, "email": 1})
    assert_credit(
        rule_credits(paths, "last_non_direct", direct="(direct)"), {"(direct)": 1, "email": 2}
    )


def test_linear_gives_every_touch_the_same_share_and_repeats_add_up():
    result = rule_credits(counts(*RULE_TABLE), "linear")
    # Row 1: a third each of 2 conv (2/3) and of 100 (100/3). Row 4: halves of 1 and of 50.
    # Row 5: Direct twice, 1/2 + 1/2 = all of 1 and 30. Row 6: Email twice (2/4), Social and
    # Search 1/4 each, of 1 conv and 40.
    # Email  2/3 + 1/2 + 1/2 = 5/3         value 100/3 + 25 + 20
    # Search 2/3 + 1/2 + 1/4 = 17/12       value 100/3 + 25 + 10
    # Direct 2/3 + 1 + 1     = 8/3         value 100/3 + 10 + 30
    # Social 1 + 1/4         = 5/4         value 20 + 10
    assert_credit(result, {"Direct": 8 / 3, "Email": 5 / 3, "Search": 17 / 12, "Social": 5 / 4})
    assert_credit(
        result,
        {"Direct": 100 / 3 + 40, "Email": 100 / 3 + 45, "Search": 100 / 3 + 35, "Social": 30},
        "value",
    )


def test_position_based_gives_40_20_40_and_two_touches_split_evenly():
    result = rule_credits(counts(*RULE_TABLE), "position_based")
    # Row 1 (3 touches, 2 conv, 100): Email 0.4, Search 0.2, Direct 0.4 -> 0.8, 0.4, 0.8 and
    #   40, 20, 40. Row 4 (2 touches): 0.4 / 0.4 -> half each: 0.5 and 25 to Search and Email.
    # Row 5 (Direct twice): all of 1 and 30 to Direct. Rows 2 and 3 (single touch): all.
    # Row 6 (4 touches, 1 conv, 40): first Email 0.4, middle Social and Email 0.1 each, last
    #   Search 0.4 -> Email 0.5 (20), Social 0.1 (4), Search 0.4 (16).
    # Email 0.8 + 0.5 + 0.5 = 1.8 (85); Search 0.4 + 0.5 + 0.4 = 1.3 (61);
    # Direct 0.8 + 1 + 1 = 2.8 (80); Social 1 + 0.1 = 1.1 (24).
    assert_credit(result, {"Direct": 2.8, "Email": 1.8, "Search": 1.3, "Social": 1.1})
    assert_credit(result, {"Direct": 80, "Email": 85, "Search": 61, "Social": 24}, "value")


def test_position_based_two_touches_share_the_end_weights_in_proportion():
    paths = counts(("A > B", 7, 0, 0), ("A > B > C", 10, 0, 0), ("C", 1, 0, 0))
    result = rule_credits(paths, "position_based", position_weights=(0.6, 0.3, 0.1))
    # "A > B": 0.6 / 0.7 and 0.1 / 0.7 of 7 -> A 6, B 1. "A > B > C": A 6, B 3, C 1. "C": 1.
    assert_credit(result, {"A": 12, "B": 4, "C": 2})
    # With no weight on the ends, two touches split evenly: A 3.5, B 3.5; B takes the middle
    # of "A > B > C" (10); "C" alone keeps its conversion.
    assert_credit(
        rule_credits(paths, "position_based", position_weights=(0.0, 1.0, 0.0)),
        {"A": 3.5, "B": 13.5, "C": 1},
    )


def test_channels_tied_on_credit_are_listed_by_name_and_uncredited_channels_are_left_out():
    paths = counts(("b > x > a", 1, 5, 0), ("a > x > b", 1, 5, 0), ("x", 0, 0, 9))
    result = rule_credits(paths, "first_touch")
    # a and b open one converting journey each; x never opens one that converts.
    assert result.to_dict("list") == {
        "channel": ["a", "b"],
        "conversions": [1.0, 1.0],
        "value": [5.0, 5.0],
    }


def test_an_unknown_model_or_bad_position_weights_are_refused():
    paths = counts(("a", 1, 0, 0))
    with pytest.raises(UnknownNameError, match="Did you mean 'linear'"):
        rule_credits(paths, "lineer")
    for weights in [(0.5, 0.5, 0.5), (0.6, -0.2, 0.6), (0.5, 0.5), (math.nan, 0.5, 0.5)]:
        with pytest.raises(ValidationError, match="position_weights"):
            rule_credits(paths, "position_based", position_weights=weights)


# ----------------------------------------------------------------------------- Markov


def test_markov_order_1_removal_effects_on_a_two_channel_graph():
    # Journeys: A > B converts once, A fails once, B converts once.
    # Transitions: (start) -> A 2/3, (start) -> B 1/3; A -> B 1/2, A -> (null) 1/2;
    # B -> (conversion) 1.
    # x_B = 1, x_A = 1/2 * x_B = 1/2, P = 2/3 * 1/2 + 1/3 * 1 = 2/3.
    # Without A: (start) -> A goes to (null): P = 1/3 * 1 = 1/3, removal effect 1 - 1/2 = 1/2.
    # Without B: A -> B and (start) -> B go to (null): P = 0, removal effect 1.
    # Credits of the 2 conversions: A 2 * 0.5 / 1.5 = 2/3, B 2 * 1 / 1.5 = 4/3; value 30
    # splits 10 / 20.
    paths = counts(("A > B", 1, 10, 0), ("A", 0, 0, 1), ("B", 1, 20, 0))
    result = markov(paths)
    assert result.conversion_probability == pytest.approx(2 / 3)
    assert_credit(result.credits, {"A": 0.5, "B": 1.0}, "removal_effect")
    assert_credit(result.credits, {"A": 2 / 3, "B": 4 / 3})
    assert_credit(result.credits, {"A": 10, "B": 20}, "value")
    edges = {
        (row.from_state, row.to_state): row.probability for row in result.transitions.itertuples()
    }
    assert edges == pytest.approx(
        {
            ("(start)", "A"): 2 / 3,
            ("(start)", "B"): 1 / 3,
            ("A", "B"): 1 / 2,
            ("A", "(null)"): 1 / 2,
            ("B", "(conversion)"): 1.0,
        }
    )


# Where order 2 and order 1 disagree: B converts after A but never after C.
ORDER_TABLE = (("A > B", 1, 0, 0), ("C > B", 0, 0, 1), ("A", 1, 0, 0))


def test_markov_order_1_on_the_order_example_credits_c_for_b_s_average_success():
    # Order 1: (start) -> A 2/3, C 1/3; A -> B 1/2, A -> (conversion) 1/2; C -> B 1;
    # B -> (conversion) 1/2, B -> (null) 1/2.
    # x_B = 1/2, x_A = 1/2 * 1/2 + 1/2 = 3/4, x_C = 1/2; P = 2/3 * 3/4 + 1/3 * 1/2 = 2/3.
    # Without A: P = 1/3 * 1/2 = 1/6 -> 1 - 1/4 = 3/4. Without B: x_A = 1/2, x_C = 0,
    # P = 1/3 -> 1/2. Without C: P = 2/3 * 3/4 = 1/2 -> 1/4. Sum 3/2; credits of 2
    # conversions: A 1, B 2/3, C 1/3.
    result = markov(counts(*ORDER_TABLE), order=1)
    assert result.conversion_probability == pytest.approx(2 / 3)
    assert_credit(result.credits, {"A": 0.75, "B": 0.5, "C": 0.25}, "removal_effect")
    assert_credit(result.credits, {"A": 1, "B": 2 / 3, "C": 1 / 3})


def test_markov_order_2_remembers_that_b_only_converts_after_a():
    # Order 2 states: (start), A, C, A > B, C > B. (start) -> A 2/3, C 1/3;
    # A -> A > B 1/2, A -> (conversion) 1/2; A > B -> (conversion) 1; C -> C > B 1;
    # C > B -> (null) 1. x_{A>B} = 1, x_A = 1, x_C = 0; P = 2/3.
    # Without A (states A, A > B): P = 0 -> 1. Without B (A > B, C > B): x_A = 1/2,
    # P = 1/3 -> 1/2. Without C (C, C > B): P = 2/3 -> 0. Sum 3/2; credits of 2
    # conversions: A 4/3, B 2/3, C 0.
    result = markov(counts(*ORDER_TABLE), order=2)
    assert result.conversion_probability == pytest.approx(2 / 3)
    assert_credit(result.credits, {"A": 1.0, "B": 0.5, "C": 0.0}, "removal_effect")
    assert_credit(result.credits, {"A": 4 / 3, "B": 2 / 3, "C": 0})
    states = set(result.transitions.from_state) | set(result.transitions.to_state)
    assert states == {"(start)", "A", "C", "A > B", "C > B", "(conversion)", "(null)"}


def test_merging_repeats_changes_what_an_order_2_chain_remembers():
    table = (("C > A > A", 1, 0, 0), ("D > A > A", 0, 0, 1))
    # Merged, the journeys are C > A (converts) and D > A (fails): states C, C > A, D, D > A.
    # P = 1/2 * 1 + 1/2 * 0 = 1/2. Without C: 0 -> 1; without D: 1/2 -> 0; without A: 0 -> 1.
    # Sum 2; the 1 conversion: A 1/2, C 1/2, D 0.
    merged = markov(counts(*table), order=2)
    assert_credit(merged.credits, {"A": 1.0, "C": 1.0, "D": 0.0}, "removal_effect")
    assert_credit(merged.credits, {"A": 0.5, "C": 0.5, "D": 0.0})
    # Unmerged, both walk into the shared state A > A: C -> C > A -> A > A, D -> D > A -> A > A,
    # A > A -> (conversion) 1/2, (null) 1/2; every x = 1/2, P = 1/2. Without C: 1/2 * 1/2 = 1/4
    # -> 1/2; without D likewise 1/2; without A: 0 -> 1. Sum 2: A 1/2, C 1/4, D 1/4.
    kept = markov(counts(*table), order=2, merge_repeats=False)
    assert_credit(kept.credits, {"A": 1.0, "C": 0.5, "D": 0.5}, "removal_effect")
    assert_credit(kept.credits, {"A": 0.5, "C": 0.25, "D": 0.25})
    # At order 1 repeats only add a self-loop (A -> A: 2 of the 4 journeys leaving A).
    loops = markov(counts(*table), merge_repeats=False).transitions
    assert loops.query("from_state == 'A' and to_state == 'A'").probability.tolist() == [0.5]
    assert (
        "A" not in markov(counts(*table)).transitions.query("from_state == 'A'").to_state.tolist()
    )


def test_markov_credits_add_up_to_the_observed_conversions_and_value():
    paths = counts(*RULE_TABLE)
    for order in (1, 2, 3, 4):
        credits = markov(paths, order=order).credits
        assert credits.conversions.sum() == pytest.approx(7, abs=1e-9)
        assert credits.value.sum() == pytest.approx(250, abs=1e-9)


def removal_effects_by_hand(paths: PathCounts) -> tuple[float, dict[str, float]]:
    """Order-1 removal effects from a dense matrix built here, independently of ``markov``:
    count transitions in plain Python, then solve (I - Q) x = r with numpy for the full chain
    and again for the chain without each channel."""
    channels = sorted({c for path in paths.paths for c in path})
    index = {c: i + 1 for i, c in enumerate(channels)}  # 0 is (start)
    n = len(channels) + 1
    counts_q = np.zeros((n, n))
    counts_conv = np.zeros(n)
    counts_null = np.zeros(n)
    for path, conv, lost in zip(paths.paths, paths.conversions, paths.non_conversions, strict=True):
        walk = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        states = [0] + [index[c] for c in walk]
        for a, b in itertools.pairwise(states):
            counts_q[a, b] += conv + lost
        counts_conv[states[-1]] += conv
        counts_null[states[-1]] += lost
    leaving = counts_q.sum(axis=1) + counts_conv + counts_null
    q = counts_q / leaving[:, None]
    r = counts_conv / leaving

    def probability(kept: list[int]) -> float:
        sub = q[np.ix_(kept, kept)]
        return float(np.linalg.solve(np.eye(len(kept)) - sub, r[kept])[0])

    full = probability(list(range(n)))
    effects = {c: 1 - probability([s for s in range(n) if s != index[c]]) / full for c in channels}
    return full, effects


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_markov_order_1_agrees_with_a_direct_recomputation_without_each_channel(seed):
    rng = np.random.default_rng(seed)
    names = ["email", "search", "social", "direct", "sms"]
    rows = []
    for _ in range(40):
        path = rng.choice(names, size=rng.integers(1, 7))
        rows.append((" > ".join(path), int(rng.integers(0, 4)), 0, int(rng.integers(0, 6))))
    rows.append(("email", 1, 0, 0))  # at least one conversion
    paths = counts(*rows)
    full, effects = removal_effects_by_hand(paths)
    result = markov(paths)
    assert result.conversion_probability == pytest.approx(full, abs=1e-12)
    assert_credit(result.credits, effects, "removal_effect")


def test_large_chains_solved_iteratively_match_the_direct_solve(monkeypatch):
    rng = np.random.default_rng(7)
    names = list("abcdefgh")
    rows = [
        (" > ".join(rng.choice(names, size=rng.integers(1, 6))), int(rng.integers(0, 3)), 1, 2)
        for _ in range(300)
    ]
    paths = counts(*rows)
    direct = markov(paths, order=2).credits
    monkeypatch.setattr(attribution_markov, "DIRECT_SOLVE_MAX_STATES", 0)
    iterative = markov(paths, order=2).credits
    np.testing.assert_allclose(iterative.removal_effect, direct.removal_effect, atol=1e-9)

    # If the iteration does not reach its residual, the direct solve answers after all.
    def no_convergence(system, rhs, **_):
        return np.zeros_like(rhs), 1

    monkeypatch.setattr(attribution_markov, "bicgstab", no_convergence)
    fallback = markov(paths, order=2).credits
    np.testing.assert_allclose(fallback.removal_effect, direct.removal_effect, atol=1e-12)


def test_markov_without_conversions_gives_zero_removal_effects_and_credits():
    paths = counts(("A > B", 0, 0, 3), ("B", 0, 0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = markov(paths, order=2)
    assert result.conversion_probability == 0.0
    assert_credit(result.credits, {"A": 0, "B": 0}, "removal_effect")
    assert_credit(result.credits, {"A": 0, "B": 0})
    assert result.transitions.query("to_state == '(null)'").probability.sum() == pytest.approx(2)


def test_paths_without_journeys_take_no_part_in_the_chain():
    paths = counts(("A", 1, 0, 1), ("Z > A", 0, 0, 0))
    result = markov(paths)
    assert result.credits.channel.tolist() == ["A"]
    assert "Z" not in set(result.transitions.from_state)


@pytest.mark.parametrize("order", [0, 5, 1.5, True, "2"])
def test_markov_refuses_an_order_outside_1_to_4(order):
    with pytest.raises(ValidationError, match="order"):
        markov(counts(("a", 1, 0, 0)), order=order)


# ----------------------------------------------------------------------------- Shapley


def test_shapley_splits_each_conversion_among_the_distinct_channels_of_its_journey():
    paths = counts(
        ("A > B", 2, 20, 0),
        ("A > B > A > C", 3, 30, 0),
        ("C", 1, 10, 0),
        ("B > B", 1, 5, 4),
    )
    # "A > B": 1 each of 2 (10 value each). "A > B > A > C": 3 distinct, 1 each (10 each).
    # "C": 1 to C (10). "B > B": 1 distinct channel, 1 to B (5).
    # A 1 + 1 = 2 (20); B 1 + 1 + 1 = 3 (25); C 1 + 1 = 2 (20).
    result = shapley(paths)
    assert_credit(result, {"A": 2, "B": 3, "C": 2})
    assert_credit(result, {"A": 20, "B": 25, "C": 20}, "value")

    # The same numbers from the textbook Shapley value over all 3! orders of joining, with the
    # worth of a set of channels = conversions of journeys using only channels of that set.
    def worth(players: set[str]) -> float:
        return sum(
            conv
            for path, conv in zip(paths.paths, paths.conversions, strict=True)
            if set(path) <= players
        )

    textbook = dict.fromkeys("ABC", 0.0)
    orders = list(itertools.permutations("ABC"))
    for joining in orders:
        for i, player in enumerate(joining):
            before = set(joining[:i])
            textbook[player] += (worth(before | {player}) - worth(before)) / len(orders)
    assert_credit(result, textbook)


# ----------------------------------------------------------------------------- invariants

channel_names = st.sampled_from(["Direct", "email", "search", "social"])
path_rows = st.lists(
    st.tuples(
        st.lists(channel_names, min_size=1, max_size=6),
        st.integers(0, 5),
        st.floats(0, 100, allow_nan=False),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(path_rows)
def test_every_model_credits_exactly_the_observed_conversions(rows):
    paths = PathCounts(
        paths=tuple(tuple(path) for path, *_ in rows),
        conversions=[conv for _, conv, _, _ in rows],
        value=[price * conv for _, conv, price, _ in rows],  # value only where conversions are
        non_conversions=[lost for *_, lost in rows],
    )
    observed = paths.conversions.sum()
    value = paths.value.sum()
    frames = [rule_credits(paths, model) for model in RULE_MODELS] + [shapley(paths)]
    frames += [
        markov(paths, order=order, merge_repeats=merge).credits
        for order in (1, 2, 3)
        for merge in (True, False)
    ]
    for frame in frames:
        assert frame.conversions.sum() == pytest.approx(observed, abs=1e-9)
        assert frame.value.sum() == pytest.approx(value, abs=1e-9)
        assert (frame.conversions >= 0).all()
