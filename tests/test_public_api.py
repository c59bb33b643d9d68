"""The curated public surface: what `import journeylens as jl` offers."""

from __future__ import annotations

import journeylens as jl


def test_all_lists_exactly_the_public_names_and_each_exists():
    assert sorted(jl.__all__) == sorted(set(jl.__all__))
    for name in jl.__all__:
        assert getattr(jl, name) is not None


def test_the_names_design_md_promises_are_public():
    for name in ("Workspace", "simulate", "IngestReport", "Settings", "JourneyLensError"):
        assert name in jl.__all__


def test_the_predictive_models_load_on_first_use():
    from journeylens.predict import BetaGeo, GammaGamma

    assert jl.BetaGeo is BetaGeo
    assert jl.GammaGamma is GammaGamma
    assert jl.predict.recommend is not None
    for name in ("attribution", "AttributionSpec", "PathData", "BetaGeo", "GammaGamma"):
        assert name in jl.__all__


def test_an_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        jl.nope  # noqa: B018
