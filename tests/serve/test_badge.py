"""The status badge's decision: colours at the age boundaries, refreshes, failures."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs
import pytest

from snapkit.serve.badge import Badge, age_text, decide, duration_text

NOW = _dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=_dt.UTC)
IDLE: dict[str, Any] = {"running": False, "run": None, "lock": None, "last_failure": None}


@attrs.frozen
class Snap:
    id: str
    created_at: str


def aged(seconds: float) -> Snap:
    created = NOW - _dt.timedelta(seconds=seconds)
    return Snap("3f2a9c1b7d0e" + "0" * 52, created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def iso(when: _dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run(state: str, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "state": state,
        "started_at": iso(NOW - _dt.timedelta(minutes=8)),
        "finished_at": None,
        "elapsed_s": 485.0,
        "client": "127.0.0.1",
        "oracles": {},
        "snapshot_id": None,
        "pointer_moved": None,
        "error": None,
        **extra,
    }


@pytest.mark.parametrize(
    ("seconds", "state", "colour"),
    [
        (0, "fresh", "green"),
        (86_399, "fresh", "green"),
        (86_400, "aging", "yellow"),  # exactly one day is yellow
        (3 * 86_400, "aging", "yellow"),
        (7 * 86_400, "aging", "yellow"),  # exactly seven days is still yellow
        (7 * 86_400 + 1, "stale", "red"),  # over seven days is red
        (30 * 86_400, "stale", "red"),
    ],
)
def test_age_decides_the_colour_at_the_boundaries(seconds: int, state: str, colour: str) -> None:
    badge = decide(NOW, aged(seconds), IDLE)
    assert (badge.state, badge.colour) == (state, colour)
    assert badge.text.startswith("Snapshot: ")
    assert "3f2a9c1b7d0e" in badge.detail
    assert badge.action == "Refresh"


def test_age_is_said_in_words() -> None:
    assert decide(NOW, aged(2 * 3600 + 5), IDLE).text == "Snapshot: 2 hours ago"
    assert decide(NOW, aged(3 * 86_400), IDLE).text == "Snapshot: 3 days ago"
    assert decide(NOW, aged(10 * 86_400), IDLE).text == "Snapshot: 10 days ago"
    assert age_text(30) == "just now"
    assert age_text(60) == "1 minute ago"
    assert age_text(86_400) == "1 day ago"


def test_no_snapshot_offers_to_create_one() -> None:
    badge = decide(NOW, None, IDLE)
    assert (badge.state, badge.colour, badge.text) == ("none", "yellow", "No snapshot yet")
    assert badge.action == "Create snapshot"


def test_a_running_refresh_is_blue_with_its_elapsed_time_whatever_the_age() -> None:
    status = {**IDLE, "running": True, "run": run("running")}
    for current in (None, aged(10), aged(10 * 86_400)):
        badge = decide(NOW, current, status)
        assert (badge.state, badge.colour) == ("fetching", "blue")
        assert badge.text == "Fetching: 8 min 5 s"
        assert "2026-12-06 11:52 UTC" in badge.detail


def test_a_lease_held_by_another_process_is_a_refresh_too() -> None:
    lock = {
        "holder": "cli-42",
        "host": "h",
        "pid": 42,
        "acquired_at": iso(NOW - _dt.timedelta(seconds=75)),
        "heartbeat_at": iso(NOW),
    }
    badge = decide(NOW, aged(3600), {**IDLE, "running": True, "lock": lock})
    assert (badge.state, badge.colour, badge.text) == ("fetching", "blue", "Fetching: 1 min 15 s")
    assert "cli-42" in badge.detail


def test_a_failure_newer_than_the_current_snapshot_is_red_with_its_reason() -> None:
    failure = {
        "snapshot_id": "ab" * 32,
        "created_at": iso(NOW - _dt.timedelta(minutes=3)),
        "reason": "oracle_error",
        "message": "oracle 'scores': source/scores.jsonl does not exist",
    }
    badge = decide(NOW, aged(3 * 86_400), {**IDLE, "last_failure": failure})
    assert (badge.state, badge.colour, badge.text) == ("failed", "red", "Refresh failed")
    assert badge.detail.startswith("oracle_error: oracle 'scores'")
    assert badge.action == "Retry"
    assert decide(NOW, None, {**IDLE, "last_failure": failure}).state == "failed"


def test_a_failed_run_counts_only_when_it_ended_after_the_current_snapshot() -> None:
    error = {"reason": "locked", "message": "the store is locked"}
    ended = run("failed", error=error, finished_at=iso(NOW - _dt.timedelta(minutes=1)))
    assert decide(NOW, aged(3600), {**IDLE, "run": ended}).state == "failed"
    assert decide(NOW, aged(30), {**IDLE, "run": ended}).state == "fresh"
    assert decide(NOW, None, {**IDLE, "run": ended}).state == "failed"


def test_a_finished_successful_run_shows_the_age_again() -> None:
    done = run("success", finished_at=iso(NOW), snapshot_id="cd" * 32, pointer_moved=True)
    assert decide(NOW, aged(5), {**IDLE, "run": done}).state == "fresh"


def test_the_badge_is_a_frozen_value() -> None:
    badge = decide(NOW, aged(5), IDLE)
    assert isinstance(badge, Badge)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        badge.colour = "red"  # type: ignore[misc]


def test_durations_read_as_people_say_them() -> None:
    assert duration_text(0) == "0 s"
    assert duration_text(65) == "1 min 5 s"
    assert duration_text(3720) == "1 h 2 min"
