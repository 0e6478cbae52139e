"""The shared number formatter and fingerprints behind UI/export parity."""

from __future__ import annotations

import math

import pytest

from snapkit.parity import (
    TableHasher,
    combine,
    compare,
    format_cell,
    normalize_value,
    projection_fingerprints,
    table_fingerprint,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-3, "-3"),
        (80.0, "80"),
        (2 / 3, "0.6667"),
        (1 / 3, "0.3333"),
        (-0.00001, "0"),
        (-0.0, "0"),
        (12.5, "12.5"),
        (1e-9, "0"),
        (123456789.123456, "123456789.1235"),
        ("a,b", "a,b"),
        ([1, "x"], '[1,"x"]'),
    ],
)
def test_format_cell_gives_one_text_per_value(value: object, text: str):
    assert format_cell(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_format_cell_refuses_values_no_view_can_show(value: float):
    with pytest.raises(ValueError):
        format_cell(value)


@pytest.mark.parametrize("value", [2 / 3, 91.23456, 80.0, 0.1 + 0.2, 7, None, "x"])
def test_normalized_values_format_like_the_originals(value: object):
    assert format_cell(normalize_value(value)) == format_cell(value)


def test_table_fingerprint_depends_on_formatted_cells_and_header():
    rows = [{"a": 1 / 3, "b": "x"}]
    same = [{"a": 0.33333333, "b": "x", "ignored": 5}]
    assert table_fingerprint(("a", "b"), rows) == table_fingerprint(("a", "b"), same)
    assert table_fingerprint(("a", "b"), rows) != table_fingerprint(("b", "a"), rows)
    hasher = TableHasher(("a", "b"))
    hasher.add(["0.3333", "x"])
    assert hasher.hexdigest() == table_fingerprint(("a", "b"), rows)
    assert hasher.rows == 1


def test_projection_fingerprints_combine_every_file_built_from_a_projection():
    tables = {"one.csv": "sha256:1", "two.csv": "sha256:2"}
    found = projection_fingerprints(tables, {"one.csv": ("p",), "two.csv": ("p", "q")})
    assert found == {"p": combine(tables), "q": combine({"two.csv": "sha256:2"})}


def test_compare_reports_mismatches_and_one_sided_keys():
    report = compare({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    assert report.matched == ("a",)
    assert [(m.projection, m.expected, m.actual) for m in report.mismatches] == [
        ("b", "2", "3"),
        ("c", None, "4"),
    ]
    assert not report.ok
