"""Multiple-comparison corrections: Holm and Benjamini–Hochberg adjusted p-values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from journeylens.errors import ValidationError
from journeylens.stats import adjust_p_values, benjamini_hochberg, holm

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_multiplies_the_sorted_p_values_by_the_remaining_count():
    # sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.06, 0.04·1) = 0.06
    assert holm(P) == pytest.approx((0.03, 0.06, 0.06, 0.02))


def test_benjamini_hochberg_scales_by_m_over_rank_from_the_top():
    # sorted: 0.005·4/1 = 0.02, 0.01·4/2 = 0.02, 0.03·4/3 = 0.04, 0.04·4/4 = 0.04
    assert benjamini_hochberg(P) == pytest.approx((0.02, 0.04, 0.04, 0.02))


def test_the_corrections_agree_with_statsmodels():
    rng = np.random.default_rng(5)
    for size in (1, 2, 7, 20, 39):  # statsmodels' Holm takes ~70 ms a call
        p_values = list(rng.random(size) ** 3)
        for method, name in (("holm", "holm"), ("benjamini_hochberg", "fdr_bh")):
            expected = multipletests(p_values, method=name)[1]
            assert adjust_p_values(p_values, method) == pytest.approx(tuple(expected), abs=1e-12)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_a_correction_never_lowers_a_p_value_and_holm_is_the_stricter(p_values):
    for method in ("holm", "benjamini_hochberg"):
        ours = adjust_p_values(p_values, method)
        assert all(a >= p - 1e-15 for a, p in zip(ours, p_values, strict=True))
    assert all(
        h >= b - 1e-12 for h, b in zip(holm(p_values), benjamini_hochberg(p_values), strict=True)
    )


def test_nan_p_values_stay_nan_and_do_not_count():
    adjusted = holm([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02)
    assert math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.04)


def test_bad_p_values_or_methods_are_refused():
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        holm([0.5, 1.2])
    with pytest.raises(ValidationError, match="Unknown correction"):
        adjust_p_values([0.5], "bonferroni")  # type: ignore[arg-type]
