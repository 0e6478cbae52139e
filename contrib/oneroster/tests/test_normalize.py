"""The compiled record normalizers give exactly what field-by-field normalization gives."""

from __future__ import annotations

import collections
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit_oneroster.district import District
from snapkit_oneroster.errors import RecordFormatError
from snapkit_oneroster.normalize import (
    iter_normalized,
    normalize_record,
    normalize_records,
    normalize_value,
)
from snapkit_oneroster.schema import TABLES, Table


class Text(str):
    """A str subclass: normalized records hold plain str."""


def reference(t: Table, raw: dict[str, Any]) -> dict[str, Any]:
    """Field-by-field normalization with the public per-value function."""
    return {f.name: normalize_value(f, raw.get(f.name)) for f in t.fields}


def typed(value: Any) -> Any:
    """``value`` with every type spelt out, so that 1 == True == 1.0 do not compare equal."""
    if isinstance(value, dict):
        return ("dict", type(value).__name__, sorted((k, typed(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def outcome(function: Any, *args: Any) -> Any:
    try:
        return ("ok", typed(function(*args)))
    except (TypeError, ValueError) as exc:
        return ("error", type(exc).__name__, str(exc))


texts = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "true",
            "false",
            "TRUE",
            " yes ",
            "0",
            "1",
            "no",
            "x",
            "1.5",
            " 2 ",
            "nan",
            "inf",
            "{SIS:1},{state:2}",
            "a, b,,c",
            "Zoë",
        ]
    ),
    st.text(max_size=6),
    st.text(max_size=4).map(Text),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    texts,
    st.floats(allow_nan=True, allow_infinity=True),
)
refs = st.one_of(
    st.fixed_dictionaries(
        {"sourcedId": st.one_of(texts, st.none(), st.integers(0, 2))},
        optional={"type": texts, "href": texts},
    ),
    st.dictionaries(texts, scalars, max_size=2),
    st.fixed_dictionaries({"sourcedId": texts}).map(collections.OrderedDict),
)
user_ids = st.fixed_dictionaries({}, optional={"type": scalars, "identifier": scalars})
values = st.one_of(
    scalars,
    refs,
    st.lists(texts, max_size=3),
    st.lists(st.one_of(scalars, refs, user_ids), max_size=3),
    st.lists(st.one_of(scalars, refs, user_ids), max_size=2).map(tuple),
)


@st.composite
def raw_records(draw: st.DrawFn, t: Table) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for f in t.fields:
        if draw(st.booleans()):
            record[f.name] = draw(values)
    return record


@pytest.mark.parametrize("name", sorted(TABLES))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_compiled_normalizer_equals_field_by_field_normalization(
    name: str, data: st.DataObject
) -> None:
    t = TABLES[name]
    raw = data.draw(raw_records(t))
    expected = outcome(reference, t, raw)
    if expected[0] == "ok":
        assert outcome(normalize_record, t, raw) == expected
        assert [typed(r) for r in normalize_records(t, [raw, raw])] == [expected[1]] * 2
    else:
        with pytest.raises(RecordFormatError):
            normalize_record(t, raw)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_district_records_normalize_like_the_reference(district: District, name: str) -> None:
    t = TABLES[name]
    raws = [r for _, r in zip(range(400), district.records(name, "http://host/api"))]
    expected = [typed(reference(t, r)) for r in raws]
    assert [typed(normalize_record(t, r)) for r in raws] == expected
    assert [typed(r) for r in normalize_records(name, raws)] == expected
    assert [typed(r) for r in iter_normalized(name, iter(raws))] == expected


def test_wire_shapes_take_their_normal_form() -> None:
    raw = {
        "sourcedId": "u1",
        "status": "",
        "enabledUser": "false",
        "orgs": [{"href": "http://x/orgs/o1", "sourcedId": "o1", "type": "org"}, {"sourcedId": ""}],
        "userIds": [{"type": "SIS", "identifier": "7"}],
        "grades": ["09", ""],
        "agents": None,
    }
    got = normalize_record("users", raw)
    assert got["status"] is None and got["enabledUser"] is False
    assert got["orgs"] == [{"sourcedId": "o1", "type": "org"}]
    assert got["userIds"] == [{"type": "SIS", "identifier": "7"}]
    assert got["grades"] == ["09"] and got["agents"] == [] and got["email"] is None
    assert list(got) == [f.name for f in TABLES["users"].fields]
    csv_row = {
        "sourcedId": "u1",
        "enabledUser": " TRUE ",
        "orgs": "o1, o2",
        "userIds": "{SIS:7},{state:8}",
        "grades": "09,10",
    }
    got = normalize_record("users", csv_row)
    assert got["enabledUser"] is True
    assert got["orgs"] == [{"sourcedId": "o1", "type": "org"}, {"sourcedId": "o2", "type": "org"}]
    assert got["userIds"] == [
        {"type": "SIS", "identifier": "7"},
        {"type": "state", "identifier": "8"},
    ]
    assert normalize_record("results", {"score": "85"})["score"] == 85.0
    assert type(normalize_record("orgs", {"name": Text("A")})["name"]) is str


def test_a_bad_value_names_table_field_and_position_not_the_value() -> None:
    good = {"sourcedId": "e1", "primary": "true"}
    bad = {"sourcedId": "e2", "primary": "secret-flag"}
    with pytest.raises(RecordFormatError) as caught:
        normalize_records("enrollments", [good, good, bad], offset=10)
    message = str(caught.value)
    assert "enrollments.primary at position 12" in message and "secret" not in message
    stream = iter_normalized("enrollments", [good, bad], offset=3)
    assert next(stream)["primary"] is True
    with pytest.raises(RecordFormatError, match=r"enrollments\.primary at position 4"):
        next(stream)
    with pytest.raises(RecordFormatError, match=r"results\.score: .*finite"):
        normalize_record("results", {"score": math.inf})
