"""The SQL store's chunk list format: what is encoded decodes the same, and any damaged byte,
or another part's list, is refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapkit_sql_store import chunklist

_RUNS = st.lists(st.tuples(st.integers(1, 2**40), st.integers(1, 10_000)), min_size=1, max_size=50)
_NAME = hashlib.sha256(b"a part").hexdigest()
_TABLE = hashlib.sha256(b"a table").digest()


@given(runs=_RUNS, size=st.integers(0, 2**50))
def test_a_chunk_list_decodes_to_what_was_encoded(runs: list[tuple[int, int]], size: int) -> None:
    data = chunklist.encode(_NAME, size, _TABLE, runs)
    raw = chunklist.decode(data, _NAME)
    assert (raw.size, raw.table_sha256, list(raw.runs)) == (size, _TABLE, runs)
    assert raw.count == sum(count for _first, count in runs)


@given(runs=_RUNS, at=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_any_flipped_bit_of_a_chunk_list_is_refused(
    runs: list[tuple[int, int]], at: int, bit: int
) -> None:
    data = bytearray(chunklist.encode(_NAME, 1234, _TABLE, runs))
    data[at % len(data)] ^= 1 << bit
    with pytest.raises(chunklist.ChunkListError):
        chunklist.decode(bytes(data), _NAME)


def test_another_parts_chunk_list_is_refused() -> None:
    data = chunklist.encode(_NAME, 10, _TABLE, [(1, 3)])
    with pytest.raises(chunklist.ChunkListError, match="another part's"):
        chunklist.decode(data, hashlib.sha256(b"another part").hexdigest())


def test_runs_follow_consecutive_ids() -> None:
    assert chunklist.runs_of([5, 6, 7, 2, 3, 9, 9]) == [(5, 3), (2, 2), (9, 1), (9, 1)]
