"""A page of a part read in blocks is exactly those lines, wherever the blocks are cut."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from snapkit.serve.api import _page_of_blocks, _page_of_chunks

LINES = [f'{{"id":{i},"name":"n{i * 7919 % 1000}"}}\n'.encode() for i in range(300)]
DATA = b"".join(LINES)


@given(
    st.lists(st.integers(min_value=1, max_value=len(DATA) - 1), max_size=40, unique=True),
    st.integers(min_value=0, max_value=320),
    st.integers(min_value=1, max_value=400),
)
def test_a_page_is_the_lines_from_offset_whatever_the_blocks(cuts, offset, limit) -> None:
    edges = [0, *sorted(cuts), len(DATA)]
    blocks = [DATA[a:b] for a, b in pairwise(edges)]
    page = b"".join(_page_of_blocks(iter(blocks), offset, limit))
    assert page == b"".join(LINES[offset : offset + limit])


@given(
    st.lists(st.integers(min_value=1, max_value=len(LINES) - 1), max_size=60, unique=True),
    st.integers(min_value=0, max_value=320),
    st.integers(min_value=1, max_value=400),
)
def test_a_page_of_a_chunked_part_reads_only_the_chunks_it_spans(cuts, offset, limit) -> None:
    edges = [0, *sorted(cuts), len(LINES)]
    bodies = [b"".join(LINES[a:b]) for a, b in pairwise(edges)]
    ends = edges[1:]
    asked: list[list[int]] = []

    def read(positions: list[int]):
        asked.append(positions)
        return iter([bodies[p] for p in positions])

    page = b"".join(_page_of_chunks(ends, read, offset, limit))
    assert page == b"".join(LINES[offset : offset + limit])
    wanted = [i for i, (a, b) in enumerate(pairwise(edges)) if a < offset + limit and b > offset]
    assert asked == ([wanted] if wanted else [])
