"""The package's curated surface, and the examples in its docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import journeylens.identity as identity

MODULES = [
    "attach",
    "extract",
    "graph",
    "greedy",
    "hashing",
    "normalise",
    "persons",
    "resolve",
    "scores",
]


def test_the_package_exports_exactly_the_store_facing_functions():
    assert sorted(identity.__all__) == [
        "NormalisedIdentifiers",
        "Resolution",
        "ResolutionStats",
        "attach_person",
        "build_persons",
        "extract_identifiers",
        "normalise_identifiers",
        "pairwise_scores",
        "resolve",
    ]
    for name in identity.__all__:
        assert getattr(identity, name).__doc__


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"journeylens.identity.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
