"""Pairwise precision and recall from contingency counts equal the O(n²) definition."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.errors import ValidationError
from journeylens.identity import pairwise_scores


def brute_force(predicted, truth):
    pairs = list(combinations(range(len(predicted)), 2))
    same_p = {(i, j) for i, j in pairs if predicted[i] == predicted[j]}
    same_t = {(i, j) for i, j in pairs if truth[i] == truth[j]}
    both = len(same_p & same_t)
    return (both / len(same_p) if same_p else 1.0, both / len(same_t) if same_t else 1.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from("abcdef")), max_size=40))
def test_pairwise_scores_equal_the_brute_force_count(items):
    predicted = [p for p, _ in items]
    truth = [t for _, t in items]
    assert pairwise_scores(predicted, truth) == pytest.approx(brute_force(predicted, truth))


def test_a_perfect_resolution_scores_one_and_one():
    assert pairwise_scores(["p1", "p1", "p2"], ["x", "x", "y"]) == (1.0, 1.0)


def test_merging_everyone_has_full_recall_and_poor_precision():
    precision, recall = pairwise_scores(["p"] * 4, ["a", "a", "b", "b"])
    assert (precision, recall) == (pytest.approx(2 / 6), 1.0)


def test_labels_of_different_lengths_are_a_clear_error():
    with pytest.raises(ValidationError, match="same length"):
        pairwise_scores(["p1"], ["a", "b"])
