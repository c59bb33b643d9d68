"""The curated site lists and the patterns built from them."""

from __future__ import annotations

import re

import pytest

from journeylens.enrich import sources
from journeylens.enrich.sources import (
    CATEGORIES,
    PAYMENT_GATEWAYS,
    SEARCH_SITES,
    SOCIAL_SITES,
    click_id_pattern,
    domain_pattern,
    source_pattern,
)
from journeylens.enrich.stages import check_portable_regex

ALL_LISTS = {**CATEGORIES, "payment": PAYMENT_GATEWAYS}


def test_no_domain_or_name_belongs_to_two_sites() -> None:
    domains = [d for sites in ALL_LISTS.values() for site in sites for d in site.domains]
    names = [site.name for sites in ALL_LISTS.values() for site in sites]
    assert len(domains) == len(set(domains))
    assert len(names) == len(set(names))


def test_every_generated_pattern_runs_on_duckdb_and_spark_alike() -> None:
    patterns = [sources.HOST_PATTERN, click_id_pattern()]
    for sites in ALL_LISTS.values():
        patterns += [domain_pattern(sites), source_pattern(sites)]
    for pattern in patterns:
        check_portable_regex(pattern, where="a generated pattern")


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("google.com", "google"),
        ("news.google.co.uk", "google"),
        ("com.google.android.googlequicksearchbox", "googlequicksearchbox"),
        ("search.brave.com", "search.brave.com"),
        ("yahoo.co.jp", "yahoo"),
        ("brave.com", None),
        ("google.mycompany.com", None),
        ("ask.fm", None),
    ],
)
def test_a_search_host_is_known_by_its_stem_under_any_suffix(host: str, domain: str | None) -> None:
    match = re.search(domain_pattern(SEARCH_SITES), host)
    assert (match.group(1) if match else None) == domain


@pytest.mark.parametrize(
    ("source", "social"),
    [
        ("facebook", True),
        ("fb", True),
        ("m.facebook.com", True),
        ("ig", True),
        ("x", True),
        ("t.co", True),
        ("lnkd.in", True),
        ("ig.com.br", False),
        ("facebook ads", False),
        ("newsletter", False),
    ],
)
def test_a_social_source_matches_hosts_stems_names_and_aliases(source: str, social: bool) -> None:
    assert bool(re.search(source_pattern(SOCIAL_SITES), source)) is social


def test_every_click_id_ends_in_id_as_the_cheap_prefilter_assumes() -> None:
    assert all(name.endswith("id") for name in sources.CLICK_IDS)


@pytest.mark.parametrize(
    ("url", "click_id"),
    [
        ("https://shop.example.com/?gclid=Cj0KCQ", "gclid"),
        ("https://shop.example.com/p?a=1&msclkid=9f&gclid=x", "msclkid"),
        ("?fbclid=IwAR", "fbclid"),
        ("https://shop.example.com/?gclid=", None),
        ("https://shop.example.com/?xgclid=1", None),
    ],
)
def test_the_first_click_id_with_a_value_is_found(url: str, click_id: str | None) -> None:
    match = re.search(click_id_pattern(), url)
    assert (match.group(1) if match else None) == click_id


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.google.com/search?q=x", "google.com"),
        ("http://user:pw@blog.example.org:8080/a", "blog.example.org"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("not a url", None),
    ],
)
def test_the_host_of_a_url_drops_www_port_and_credentials(url: str, host: str | None) -> None:
    match = re.search(sources.HOST_PATTERN, url)
    assert (match.group(1) if match else None) == host
