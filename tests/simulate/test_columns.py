import json

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from journeylens.simulate.columns import field_num, field_str, iso_times, json_object, uuid_ids


@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.sampled_from(["a", "b c", "한글"])), st.integers(-5, 5)),
        max_size=20,
    )
)
def test_json_object_builds_valid_json_and_leaves_out_null_keys(rows):
    text = pa.array([r[0] for r in rows], pa.string())
    num = np.array([float(r[1]) if r[1] >= 0 else np.nan for r in rows])
    out = json_object([field_str("s", text), field_num("n", num)], len(rows))
    assert len(out) == len(rows)
    for (s, n), obj in zip(rows, out.to_pylist(), strict=True):
        parsed = json.loads(obj)
        assert parsed.get("s") == s
        assert parsed.get("n") == (n if n >= 0 else None)


def test_uuid_ids_look_like_version_four_uuids():
    ids = uuid_ids(np.random.default_rng(0), 100).to_pylist()
    assert len(set(ids)) == 100
    assert all(len(i) == 36 and i[14] == "4" and i[19] in "89ab" for i in ids)


def test_iso_times_print_milliseconds_in_utc():
    assert iso_times(np.array([1_767_225_600_123_456])).to_pylist() == ["2026-01-01T00:00:00.123Z"]
