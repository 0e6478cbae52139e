"""Canonical JSON and SHA-256 identities (property tests)."""

from __future__ import annotations

import hashlib
import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapkit.canonical import canonical_bytes, canonical_str, content_id, loads, sha256_hex
from snapkit.contracts import Scope
from snapkit.errors import ContractError

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def reordered(value, rng: random.Random):  # type: ignore[no-untyped-def]
    """The same value with every mapping built in a shuffled key order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: reordered(v, rng) for k, v in items}
    if isinstance(value, list):
        return [reordered(v, rng) for v in value]
    return value


@given(json_values)
def test_the_same_value_always_gives_the_same_bytes_and_id(value):
    copy = json.loads(json.dumps(value))
    assert canonical_bytes(value) == canonical_bytes(copy)
    assert content_id(value) == content_id(copy)


@given(json_values, st.randoms(use_true_random=False))
def test_key_order_never_matters(value, rng):
    other = reordered(value, rng)
    assert canonical_bytes(other) == canonical_bytes(value)
    assert content_id(other) == content_id(value)


@given(json_values)
def test_round_trip(value):
    assert loads(canonical_bytes(value)) == value
    assert loads(canonical_str(value)) == value


@given(json_values)
def test_sorted_compact_utf8(value):
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_str(value) == expected
    assert canonical_bytes(value) == expected.encode("utf-8")
    assert content_id(value) == hashlib.sha256(expected.encode("utf-8")).hexdigest()


@given(json_values, json_values)
def test_different_values_give_different_ids(a, b):
    if loads(canonical_bytes(a)) != loads(canonical_bytes(b)):
        assert content_id(a) != content_id(b)


def test_the_bytes_are_exactly_canonical():
    value = {"b": [1, 2.5, None, True], "a": {"z": "é", "y": ""}}
    assert canonical_bytes(value) == '{"a":{"y":"","z":"é"},"b":[1,2.5,null,true]}'.encode()
    assert content_id({}) == sha256_hex(b"{}")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, [1, {"x": math.nan}]])
def test_nan_and_infinity_are_refused(bad):
    with pytest.raises(ContractError, match="not canonical JSON"):
        canonical_bytes(bad)


@pytest.mark.parametrize("bad", [{1: "a"}, {"x": [{None: 1}]}, {True: 1}, {1.5: 2}])
def test_non_string_keys_are_refused_not_coerced(bad):
    # json would write {1: "a"} as {"1": "a"}: two values, one id. Canonical JSON refuses.
    with pytest.raises(ContractError, match="keys must be str"):
        canonical_bytes(bad)


@pytest.mark.parametrize("bad", [{"a": {1, 2}}, b"bytes", object()])
def test_non_json_types_are_refused(bad):
    with pytest.raises(ContractError):
        canonical_bytes(bad)


def test_a_lone_surrogate_is_refused():
    with pytest.raises(ContractError, match="surrogate"):
        canonical_bytes("\ud800")


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_loads_refuses_nan_and_infinity(text):
    with pytest.raises(ContractError):
        loads(text)


@given(st.dictionaries(st.text(max_size=5), scalars, max_size=4), st.randoms(use_true_random=False))
def test_scope_identity_ignores_filter_order(filters, rng):
    a = Scope("district", "class-1", None, filters)
    b = Scope("district", "class-1", None, reordered(filters, rng))
    assert a.id == b.id
    assert a.id != Scope("district", "class-2", None, filters).id
