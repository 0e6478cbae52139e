"""``GET /api/current`` encodes the current snapshot's summary once per pointer generation and
splices the age in per request: the bytes are the same as encoding the whole answer."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from snapkit.serve.api_views import CurrentSummary
from snapkit.serve.errors import json_bytes

_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_bodies = st.dictionaries(
    st.text().filter(lambda k: k not in {"age_seconds", "current"}), _values, min_size=1
)
_ages = st.floats(min_value=0, max_value=10**9, allow_nan=False).map(lambda a: round(a, 3))


@given(body=_bodies, age=_ages)
def test_the_spliced_answer_is_byte_for_byte_the_encoded_whole(body, age):
    current = CurrentSummary(manifest=None, body=body, encoded=json_bytes(body))  # type: ignore[arg-type]
    answer = current.answer(age)
    assert answer == json_bytes({**body, "age_seconds": age, "current": True})
    assert json.loads(answer) == {**body, "age_seconds": age, "current": True}
