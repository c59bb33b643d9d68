"""The weighted log-odds ratio with an informative Dirichlet prior (Monroe et al. 2008)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeylens.feedback.log_odds import log_odds

NOW = {"late": 10, "box": 5, "app": 5}
BEFORE = {"late": 2, "box": 5, "app": 13}


def test_log_odds_match_the_formula_worked_by_hand():
    # n_a = n_b = 20, α_0 = 0.1 × 40 = 4, α_late = 4 × 12/40 = 1.2, α_app = 1.8:
    # δ_late = ln(11.2 / 12.8) − ln(3.2 / 20.8); var = 1/11.2 + 1/3.2.
    table = log_odds(NOW, BEFORE).set_index("item")
    assert table.loc["late", "log_odds"] == pytest.approx(1.7382708, abs=1e-6)
    assert table.loc["late", "z"] == pytest.approx(2.7423330, abs=1e-6)
    assert table.loc["app", "log_odds"] == pytest.approx(-1.4034105, abs=1e-6)
    assert table.loc["app", "z"] == pytest.approx(-3.0293060, abs=1e-6)
    assert table.loc["box", "z"] == 0.0
    assert table.loc["late", "p_value"] == pytest.approx(2 * (1 - _phi(2.742333)), abs=1e-6)
    assert list(table.index) == ["late", "box", "app"]
    assert table.growing.to_dict() == {"late": True, "box": False, "app": False}
    assert table.significant.to_dict() == {"late": True, "box": False, "app": True}
    assert table.loc["late", "current_share"] == 0.5


def test_a_prior_as_large_as_the_data_shrinks_the_evidence():
    # α_0 = 40: α_late = 12, δ = ln(22/38) − ln(14/46), var = 1/22 + 1/14.
    table = log_odds(NOW, BEFORE, prior_size=40).set_index("item")
    assert table.loc["late", "log_odds"] == pytest.approx(0.6430403, abs=1e-6)
    assert table.loc["late", "z"] == pytest.approx(1.8808850, abs=1e-6)
    assert not table.loc["late", "significant"]


def test_an_empty_period_compares_nothing_and_flags_nothing():
    table = log_odds({"late": 3, "app": 1}, {})
    assert table.z.isna().all()
    assert not table.growing.any()
    assert log_odds({}, {}).empty


def test_a_non_positive_prior_is_refused():
    with pytest.raises(ValueError, match="prior_size must be positive"):
        log_odds(NOW, BEFORE, prior_size=0)


counts = st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 50), min_size=2)


@given(counts, counts)
def test_swapping_the_periods_flips_every_z(now, before):
    forward = log_odds(now, before).set_index("item").z
    backward = log_odds(before, now).set_index("item").z
    for item, z in forward.items():
        if math.isnan(z):
            assert math.isnan(backward[item])
        else:
            assert backward[item] == pytest.approx(-z, abs=1e-9)


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))
