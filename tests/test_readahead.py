"""snapkit.readahead: blocks read ahead in a worker thread arrive in order, errors where they
happened, and closing early stops the worker and the stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapkit.readahead import read_ahead


@given(st.lists(st.binary(max_size=20), max_size=50), st.integers(1, 4))
def test_blocks_arrive_in_order_and_all_of_them(blocks: list[bytes], depth: int) -> None:
    assert list(read_ahead(iter(blocks), depth)) == blocks


def test_an_error_reaches_the_caller_after_the_blocks_before_it() -> None:
    def stream() -> Generator[bytes, None, None]:
        yield b"a"
        yield b"b"
        raise ValueError("damaged frame")

    got = []
    with pytest.raises(ValueError, match="damaged frame"):
        for block in read_ahead(stream()):
            got.append(block)
    assert got == [b"a", b"b"]


def test_the_worker_stays_at_most_depth_blocks_ahead() -> None:
    produced = []

    def stream() -> Generator[bytes, None, None]:
        for i in range(100):
            produced.append(i)
            yield str(i).encode()

    reader = read_ahead(stream(), depth=2)
    assert next(reader) == b"0"
    deadline = time.monotonic() + 5
    while len(produced) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    # one handed out, two waiting in the queue, one held by the worker waiting to put it
    assert len(produced) <= 4
    reader.close()


def test_closing_early_stops_the_worker_and_closes_the_stream() -> None:
    closed = threading.Event()

    def stream() -> Generator[bytes, None, None]:
        try:
            for i in range(10_000):
                yield str(i).encode()
        finally:
            closed.set()

    before = threading.active_count()
    reader = read_ahead(stream())
    assert next(reader) == b"0"
    reader.close()
    assert closed.wait(5)
    assert threading.active_count() == before
