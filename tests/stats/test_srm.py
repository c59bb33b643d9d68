"""Sample-ratio mismatch: Pearson's chi-squared against the design's weights."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from journeylens.errors import ValidationError
from journeylens.stats import srm


def test_a_two_arm_split_gives_the_hand_computed_chi_squared():
    # expected 5100 each: χ² = 2·100²/5100 = 3.921569; P(χ²₁ > 3.921569) = 0.047670
    r = srm([5000, 5200], [0.5, 0.5])
    assert r.expected == (5100.0, 5100.0)
    assert r.statistic == pytest.approx(3.921569, abs=1e-6)
    assert r.p_value == pytest.approx(0.047670, abs=1e-6)
    assert not r.mismatch


def test_unequal_weights_agree_with_scipys_goodness_of_fit_test():
    counts, weights = [2100, 1000, 950], [2, 1, 1]
    r = srm(counts, weights)
    reference = sps.chisquare(counts, [4050 / 2, 4050 / 4, 4050 / 4])
    assert r.statistic == pytest.approx(reference.statistic)
    assert r.p_value == pytest.approx(reference.pvalue)


def test_a_broken_split_is_flagged_below_the_threshold():
    r = srm([10_000, 9_000])
    assert r.p_value < 0.001
    assert r.mismatch
    assert r.to_dict()["mismatch"] is True


def test_no_units_is_a_neutral_result():
    r = srm([0, 0])
    assert r.p_value == 1.0
    assert not r.mismatch


@pytest.mark.parametrize(
    ("counts", "weights", "message"),
    [
        ([10], None, "two arms"),
        ([10, -1], None, "whole numbers"),
        ([10, 2.5], None, "whole numbers"),
        ([10, 10], [1.0], "one weight per arm"),
        ([10, 10], [1.0, 0.0], "Weights"),
    ],
)
def test_bad_counts_or_weights_are_refused(counts, weights, message):
    with pytest.raises(ValidationError, match=message):
        srm(counts, weights)
