"""``pointer_trail``: how ``current~N`` follows a store's history of pointer moves."""

from __future__ import annotations

from snapkit.contracts import HistoryEntry, Pointer
from snapkit.store import pointer_trail


def _move(snapshot_id: str, generation: int) -> HistoryEntry:
    return HistoryEntry(
        at=f"2026-01-01T00:00:{generation:02d}.000000Z",
        event="pointer_moved",
        snapshot_id=snapshot_id,
        status="success",
        generation=generation,
    )


def _other(snapshot_id: str) -> HistoryEntry:
    return HistoryEntry(
        at="2026-01-01T00:00:00.000000Z",
        event="snapshot_recorded",
        snapshot_id=snapshot_id,
        status="success",
    )


def _pointer(snapshot_id: str, generation: int) -> Pointer:
    return Pointer(
        snapshot_id=snapshot_id,
        manifest_sha256="0" * 64,
        generation=generation,
        updated_at="2026-01-01T00:00:00.000000Z",
    )


def test_a_then_b_then_a_goes_back_to_b() -> None:
    trail = pointer_trail([_move("a", 1), _other("lost"), _move("b", 2), _move("a", 3)])
    assert trail.ids == ("a", "b", "a") and trail.whole
    assert [trail.back(n) for n in range(4)] == ["a", "b", "a", None]


def test_moves_in_a_row_to_the_same_snapshot_count_once() -> None:
    trail = pointer_trail([_move("a", 1), _move("b", 2), _move("b", 3)], _pointer("b", 3))
    assert trail.ids == ("a", "b") and trail.whole


def test_a_move_a_crash_left_out_is_taken_from_the_pointer() -> None:
    trail = pointer_trail([_move("a", 1)], _pointer("b", 2))
    assert trail.ids == ("a", "b") and trail.whole


def test_a_gap_in_the_generations_ends_the_trail_and_says_so() -> None:
    trail = pointer_trail([_move("a", 1), _move("c", 3), _move("d", 4)], _pointer("d", 4))
    assert trail.ids == ("c", "d") and not trail.whole


def test_a_lost_history_leaves_only_the_pointer_and_says_so() -> None:
    trail = pointer_trail([], _pointer("b", 5))
    assert trail.ids == ("b",) and not trail.whole
    assert pointer_trail([], _pointer("a", 1)).whole


def test_a_pointer_that_disagrees_with_the_history_stands_alone() -> None:
    trail = pointer_trail([_move("a", 1), _move("b", 2), _move("c", 3)], _pointer("a", 1))
    assert trail.ids == ("a",) and not trail.whole


def test_no_history_and_no_pointer_is_an_empty_whole_trail() -> None:
    trail = pointer_trail([])
    assert trail.ids == () and trail.whole and trail.back(0) is None
