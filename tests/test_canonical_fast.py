"""The fast line encoder (orjson, when installed) gives exactly canonical JSON's bytes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit.canonical import canonical_bytes, canonical_str, check_canonical, line_encoder
from snapkit.errors import ContractError

encode = line_encoder()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def test_the_fast_encoder_is_in_use() -> None:
    import orjson  # the test environment installs snapkit[fast]

    assert encode is not canonical_bytes and orjson is not None


@settings(max_examples=400, deadline=None)
@given(values)
def test_property_fast_encoding_equals_canonical_bytes(value: Any) -> None:
    assert encode(value) == canonical_bytes(value)


@pytest.mark.parametrize(
    "value",
    [
        1e-5,
        -6.347994305122562e-05,
        5e-324,
        1e16,
        1.7976931348623157e308,
        0.0,
        -0.0,
        2**63,
        2**64,
        2**64 + 1,
        -(2**63) - 1,
        "\u2028\u2029\x7f\x00\x1f",
        {"é": 1, "e": 2},
        (1, 2),
        [[{"a": [0.0001, 9.999e-05]}]],
    ],
)
def test_edge_values_encode_alike(value: Any) -> None:
    assert encode(value) == canonical_bytes(value)


@pytest.mark.parametrize(
    "value", [math.nan, {"x": math.inf}, [-math.inf], {1: "a"}, "\ud800", {"s": {"x"}}]
)
def test_values_canonical_json_refuses_are_refused_alike(value: Any) -> None:
    with pytest.raises(ContractError):
        encode(value)


scalar_lists = st.lists(
    scalars | st.sampled_from([math.nan, math.inf, -math.inf, 1e-5, -0.0]), max_size=12
)


@settings(max_examples=400, deadline=None)
@given(scalar_lists)
def test_property_lists_of_scalars_take_the_fast_check_correctly(value: list[Any]) -> None:
    # lists of scalars are checked by their element types and float magnitudes at once
    try:
        expected = canonical_bytes(value)
    except ContractError:
        with pytest.raises(ContractError):
            encode(value)
        with pytest.raises(ContractError):
            check_canonical(value)
        return
    assert encode(value) == expected
    check_canonical(value)


@settings(max_examples=300, deadline=None)
@given(
    values | st.lists(st.floats(), max_size=6) | st.dictionaries(st.text(max_size=3), st.floats())
)
def test_property_check_canonical_accepts_what_canonical_str_accepts(value: Any) -> None:
    try:
        canonical_str(value)
    except ContractError:
        with pytest.raises(ContractError):
            check_canonical(value)
    else:
        check_canonical(value)


@pytest.mark.parametrize(
    "value",
    [
        [1.0, None, math.nan],
        [None, 2.0, math.inf],
        [1.5, 1e-5],
        [0.0, -0.0, 1e-4],
        ["a", 1, 2.5, True, None],
        [1e308, 1e308, 1e308],
    ],
)
def test_mixed_scalar_lists_encode_alike(value: list[Any]) -> None:
    try:
        expected = canonical_bytes(value)
    except ContractError:
        with pytest.raises(ContractError):
            encode(value)
    else:
        assert encode(value) == expected


def test_a_value_that_contains_itself_is_refused_not_walked_forever() -> None:
    looped: list[Any] = [1]
    looped.append(looped)
    with pytest.raises(ContractError):
        check_canonical(looped)
    with pytest.raises(ContractError):
        encode({"x": looped})
