"""The CSV and JSON Lines serializers: their dialects, and reading back what they wrote."""

from __future__ import annotations

import io

import pytest

from snapkit.errors import ContractError
from snapkit.testing import assert_plugin_installed
from snapkit_serializers.csv_format import CsvSerializer
from snapkit_serializers.jsonl_format import JsonLinesSerializer
from snapkit_serializers.plugin import make_csv, make_jsonl

COLUMNS = ("name", "score", "note")
ROWS = [
    {"name": "Zoë", "score": 2 / 3, "note": 'says "hi", twice'},
    {"name": "Al", "score": 80.0, "note": "line one\nline two"},
    {"name": "Bo", "score": None, "note": True},
]
CELLS = [
    ["Zoë", "0.6667", 'says "hi", twice'],
    ["Al", "80", "line one\nline two"],
    ["Bo", "", "true"],
]


def test_csv_writes_the_documented_dialect():
    out = io.BytesIO()
    assert make_csv({}).write(ROWS, COLUMNS, out) == 3
    assert (
        out.getvalue()
        == (
            "name,score,note\r\n"
            'Zoë,0.6667,"says ""hi"", twice"\r\n'
            'Al,80,"line one\nline two"\r\n'
            "Bo,,true\r\n"
        ).encode()
    )
    assert not out.getvalue().startswith(b"\xef\xbb\xbf")  # no byte-order mark
    assert not out.closed


def test_csv_can_end_lines_with_lf():
    out = io.BytesIO()
    make_csv({"line_terminator": "lf"}).write(ROWS[:1], COLUMNS, out)
    assert out.getvalue().split(b"\n")[0] == b"name,score,note"
    assert b"\r" not in out.getvalue()


@pytest.mark.parametrize(
    "serializer", [CsvSerializer(), CsvSerializer("\n"), JsonLinesSerializer()]
)
def test_what_is_written_reads_back_as_the_same_cells(serializer):
    out = io.BytesIO()
    serializer.write(ROWS, COLUMNS, out)
    out.seek(0)
    assert list(serializer.read(out, COLUMNS)) == CELLS


def test_csv_read_refuses_a_foreign_header():
    with pytest.raises(ContractError):
        list(CsvSerializer().read(io.BytesIO(b"a,b\r\n1,2\r\n"), ("x", "y")))


def test_jsonl_keeps_numbers_numeric_and_keys_in_column_order():
    out = io.BytesIO()
    make_jsonl({}).write([{"score": 1.5, "name": "A"}], ("name", "score"), out)
    assert out.getvalue() == b'{"name":"A","score":1.5}\n'


def test_the_plugin_is_installed_and_loads_cleanly():
    assert_plugin_installed("serializers")
