"""snapkit.chunking: the line cutter's chunks and the chunk-list varints every store uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapkit.chunking import cut, put_varint, read_varints, unzigzag, zigzag


@given(st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_varints_read_back_what_was_written(values: list[int]) -> None:
    out = bytearray()
    for value in values:
        put_varint(out, value)
    assert read_varints(bytes(out)) == values


@given(st.integers(-(2**62), 2**62))
def test_zigzag_round_trips_and_keeps_small_values_small(value: int) -> None:
    assert unzigzag(zigzag(value)) == value
    assert zigzag(value) >= 0
    assert zigzag(value) <= 2 * abs(value)


@pytest.mark.parametrize("data", [b"\x80", b"\x01\xff", b"\xff" * 10 + b"\x01"])
def test_truncated_or_oversized_varints_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        read_varints(data)


def test_cut_gives_whole_lines_that_join_to_the_bytes() -> None:
    data = b"".join(b'{"id":%d}\n' % i for i in range(500))
    chunks = cut(data, 64)
    assert len(chunks) > 1
    assert b"".join(piece for piece, _rows in chunks) == data
    assert sum(rows for _piece, rows in chunks) == 500
    assert all(piece.endswith(b"\n") for piece, _rows in chunks)


def test_a_part_cutter_holds_a_small_part_and_cuts_a_large_one() -> None:
    import hashlib

    from snapkit.chunking import MIN_CHUNKS, PartCutter

    line = b'{"id":1,"name":"a row of some length"}\n'
    small = PartCutter(64)
    assert small.feed(line * 10) == [] and small.finish() == []
    assert small.held == [line * 10] and small.size == len(line) * 10
    large = PartCutter(64)
    data = line * (MIN_CHUNKS * 64 // len(line) * 3)
    chunks = large.feed(data[:1000]) + large.feed(data[1000:]) + large.finish()
    assert large.held is None
    assert b"".join(piece for piece, _rows in chunks) == data
    assert large.hexdigest() == hashlib.sha256(data).hexdigest()
