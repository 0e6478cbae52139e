"""The gradebook's per-line-item score statistics (vectorized) agree with the plain
definitions computed one line item at a time on sorted lists."""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit_instructor_dashboard.gradebook import BUCKET_EDGES, _statistics

percent = st.one_of(
    st.floats(min_value=0.0, max_value=100.0),
    st.sampled_from([0.0, 100.0, 30.0, 29.999999999999996, 90.0, 89.99999999, 10.0 - 1e-9]),
)
cell = st.one_of(st.none(), percent)  # None: not scored


def reference(values: list[float]) -> tuple[Any, ...]:
    ordered = sorted(values)
    n = len(ordered)
    edges = [0, *(bisect.bisect_left(ordered, edge) for edge in BUCKET_EDGES), n]
    buckets = tuple(edges[k + 1] - edges[k] for k in range(10))
    if not n:
        return (0, None, None, None, None, None, buckets)
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    mean = math.fsum(ordered) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in ordered) / n)
    return (n, ordered[0], median, mean, ordered[-1], std, buckets)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=4).flatmap(
        lambda items: st.integers(min_value=0, max_value=30).flatmap(
            lambda students: st.lists(
                st.lists(cell, min_size=students, max_size=students), min_size=items, max_size=items
            )
        )
    )
)
def test_statistics_match_the_definitions_per_line_item(matrix: list[list[float | None]]):
    n_students = len(matrix[0]) if matrix else 0
    scored = np.array([[v is not None for v in row] for row in matrix], dtype=bool).reshape(
        len(matrix), n_students
    )
    percents = np.array([[v or 0.0 for v in row] for row in matrix], dtype=np.float64).reshape(
        len(matrix), n_students
    )
    got = _statistics(np, percents, scored)
    for row, stats in zip(matrix, got):
        expected = reference([v for v in row if v is not None])
        assert stats[0] == expected[0]
        assert stats[6] == expected[6]  # buckets: exact
        assert stats[1] == expected[1] and stats[4] == expected[4]  # min, max: exact
        assert stats[2] == expected[2]  # median: exact
        for got_value, want in zip(stats[3:6:2], expected[3:6:2]):  # mean, std_dev
            assert (got_value is None) == (want is None)
            if want is not None:
                assert got_value == pytest.approx(want, rel=1e-12, abs=1e-9)
