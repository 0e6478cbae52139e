"""Reading a whole part (``StoreReader.read_all``) gives the records the part was written
from, whichever decoder runs and however its lines fall into decoding runs."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit import projection
from snapkit.canonical import canonical_bytes

FAST = importlib.util.find_spec("orjson") is not None

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
)
records = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=12,
    ),
    max_size=5,
)


def _part(values: list[Any]) -> bytes:
    return b"".join(canonical_bytes(value) + b"\n" for value in values)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=30), st.integers(min_value=1, max_value=200))
def test_decoding_a_part_in_runs_of_lines_gives_its_records(values: list[Any], chunk: int) -> None:
    data = _part(values)
    fallbacks: list[bytes] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(projection, "DECODE_CHUNK", chunk)
        patch.setattr(
            projection,
            "_json_array",
            lambda body: (
                fallbacks.append(body) or json.loads(b"[" + body.replace(b"\n", b",") + b"]")
            ),
        )
        decoded = projection._decode_lines(data)
    assert decoded == [json.loads(canonical_bytes(value)) for value in values]
    if FAST and not re.search(rb"[0-9]{19}", data):  # the fast decoder read every run
        assert fallbacks == []


def test_integers_beyond_64_bits_are_read_exactly_in_a_large_part() -> None:
    values = [{"n": k, "pad": "x" * 100} for k in range(2000)] + [{"n": 2**70 + 1}]
    assert projection._decode_lines(_part(values))[-1]["n"] == 2**70 + 1


def test_a_part_without_a_final_line_break_or_records_decodes() -> None:
    assert projection._decode_lines(b"") == []
    assert projection._decode_lines(b'{"a":1}\n{"a":2}') == [{"a": 1}, {"a": 2}]
