"""Blocked values, normalisers, phone numbers, first path wins, bad input."""

from __future__ import annotations

import re

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity import normalise_identifiers
from journeylens.identity.normalise import normalise_phone
from journeylens.settings import IdentitySettings

DEFAULT = IdentitySettings()


def raw(*rows: tuple[str, str, str | None] | tuple[str, str, str | None, int]) -> pa.Table:
    """(message_id, id_type, raw_value[, path_rank]) → a raw identifiers table."""
    return pa.table(
        {
            "message_id": [r[0] for r in rows],
            "timestamp": pa.array([None] * len(rows), pa.timestamp("us", tz="UTC")),
            "id_type": pa.array([r[1] for r in rows], pa.string()),
            "raw_value": pa.array([r[2] for r in rows], pa.string()),
            "edge_kind": ["message"] * len(rows),
            "path_rank": pa.array([r[3] if len(r) > 3 else 0 for r in rows], pa.int32()),
        }
    )


def values(out) -> list[tuple[str, str]]:
    t = out.table
    return sorted(zip(t["id_type"].to_pylist(), t["id_value"].to_pylist(), strict=True))


@pytest.mark.parametrize(
    "value",
    [
        "null",
        "NULL",
        " undefined ",
        "0",
        "000-000",
        "-1",
        '"null"',
        "'undefined'",
        '""',
        "   ",
        "",
        "[object Object]",
        "Anonymous",
        "test@test.com",
        "abc123",
        "none",
        "NaN",
    ],
)
def test_blocked_values_never_become_identifiers(value):
    out = normalise_identifiers(raw(("m1", "anonymous_id", value)), DEFAULT)
    assert out.table.num_rows == 0
    assert out.blocked_rows == 1


def test_blocked_rows_are_counted_per_type_and_reason():
    out = normalise_identifiers(
        raw(
            ("m1", "user_id", "null"),
            ("m2", "user_id", "null"),
            ("m3", "user_id", "00"),
            ("m4", "email", "not-an-email"),
            ("m5", "phone", "call me"),
            ("m6", "user_id", None),
        ),
        DEFAULT,
    )
    assert out.blocked == {
        "user_id": {"blocked_value": 2, "blocked_pattern": 1, "missing": 1},
        "email": {"invalid_email": 1},
        "phone": {"invalid_phone": 1},
    }
    assert out.table.num_rows == 0


def test_a_custom_blocklist_replaces_the_defaults():
    custom = IdentitySettings(blocked_values=("qa-user",), blocked_patterns=(r"test-\d+",))
    out = normalise_identifiers(
        raw(("m1", "user_id", "QA-User"), ("m2", "user_id", "test-42"), ("m3", "user_id", "null")),
        custom,
    )
    assert values(out) == [("user_id", "null")]


def test_emails_are_trimmed_and_lower_cased():
    out = normalise_identifiers(raw(("m1", "email", "  Ann.Lee@Example.COM ")), DEFAULT)
    assert values(out) == [("email", "ann.lee@example.com")]


def test_ids_are_trimmed_but_keep_their_case():
    out = normalise_identifiers(raw(("m1", "user_id", "\tAbC-1 \n")), DEFAULT)
    assert values(out) == [("user_id", "AbC-1")]


def test_device_ids_are_lower_cased():
    out = normalise_identifiers(raw(("m1", "device_id", " ABCD-EF ")), DEFAULT)
    assert values(out) == [("device_id", "abcd-ef")]


@pytest.mark.parametrize(
    "written",
    [
        "(212) 555-0100",
        "212-555-0100",
        "212.555.0100",
        "+1 212 555 0100",
        "1-212-555-0100",
        "+12125550100",
        "2125550100",
        " +1 (212) 555-0100 ",
    ],
)
def test_phone_numbers_become_e164_from_varied_formats(written):
    out = normalise_identifiers(raw(("m1", "phone", written)), DEFAULT)
    assert values(out) == [("phone", "+12125550100")]


def test_phone_numbers_without_a_country_code_use_the_default_region():
    uk = IdentitySettings(default_phone_region="GB")
    out = normalise_identifiers(
        raw(("m1", "phone", "020 7946 0958"), ("m2", "phone", "+1 212 555 0100")), uk
    )
    assert values(out) == [("phone", "+12125550100"), ("phone", "+442079460958")]
    assert normalise_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalise_phone("020 7946 0958", "US") is None


nanp_shapes = st.builds(
    lambda prefix, area, exchange, line, sep: prefix + sep.join([area, exchange, line]),
    st.sampled_from(["", "1", "+1", "+1 ", "1-", "+44 ", "+33", "0"]),
    st.from_regex(r"\A[0-9]{3}\Z"),
    st.from_regex(r"\A[0-9]{3}\Z"),
    st.from_regex(r"\A[0-9]{4}\Z"),
    st.sampled_from(["", " ", "-", ".", ") "]),
)


@settings(max_examples=300, deadline=None)
@given(nanp_shapes, st.sampled_from(["US", "CA", "GB", "FR"]))
def test_the_phone_fast_path_agrees_with_the_phonenumbers_library(written, region):
    try:
        parsed = phonenumbers.parse(written, region)
        expected = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_possible_number(parsed)
            else None
        )
    except phonenumbers.NumberParseException:
        expected = None
    assert normalise_phone(written, region) == expected
    assume(re.sub(r"[0 .)-]", "", written))  # zeros and dashes only: blocked before parsing
    table = normalise_identifiers(
        raw(("m1", "phone", written)), IdentitySettings(default_phone_region=region)
    ).table
    assert table["id_value"].to_pylist() == ([] if expected is None else [expected])


def test_the_first_path_whose_value_survives_wins():
    out = normalise_identifiers(
        raw(
            ("m1", "email", "null", 0),
            ("m1", "email", "b@x.io", 1),
            ("m2", "email", "a@x.io", 0),
            ("m2", "email", "c@x.io", 1),
        ),
        DEFAULT,
    )
    assert sorted(
        zip(out.table["message_id"].to_pylist(), out.table["id_value"].to_pylist(), strict=True)
    ) == [("m1", "b@x.io"), ("m2", "a@x.io")]


def test_the_output_has_the_identifiers_layout_and_a_weight():
    out = normalise_identifiers(raw(("m1", "user_id", "u1")), DEFAULT)
    assert out.table.column_names == [
        "message_id",
        "timestamp",
        "id_type",
        "id_value",
        "edge_kind",
        "weight",
    ]
    assert out.table.column("weight").to_pylist() == [1]


def test_blocked_counts_add_up_the_weights_of_collapsed_rows():
    table = raw(("m1", "user_id", "null"), ("m2", "user_id", None), ("m3", "user_id", "u1"))
    table = table.append_column("weight", pa.array([5, 2, 7], pa.int64()))
    out = normalise_identifiers(table, DEFAULT)
    assert out.blocked == {"user_id": {"blocked_value": 5, "missing": 2}}
    assert out.table.column("weight").to_pylist() == [7]


def test_an_identifier_type_missing_from_settings_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="Did you mean 'email'"):
        normalise_identifiers(raw(("m1", "emails", "a@b.c")), DEFAULT)


def test_a_table_without_the_raw_columns_is_a_clear_error():
    with pytest.raises(ValidationError, match="required columns"):
        normalise_identifiers(pa.table({"message_id": ["m1"], "value": ["x"]}), DEFAULT)


def test_a_blocked_pattern_that_is_not_re2_is_a_clear_error():
    lookbehind = IdentitySettings(blocked_patterns=(r"(?<=a)b",))
    with pytest.raises(ValidationError, match="blocked pattern"):
        normalise_identifiers(raw(("m1", "user_id", "ab")), lookbehind)
