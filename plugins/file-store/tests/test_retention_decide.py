"""snapkit.retention.decide: the pure retention rules every store shares."""

from __future__ import annotations

import datetime as _dt

import pytest

from snapkit.contracts import SnapshotInfo
from snapkit.retention import decide
from snapkit.store import RetentionPolicy

NOW = _dt.datetime(2024, 3, 10, 12, 0, tzinfo=_dt.UTC)


def _info(n: int, hours_ago: float, status: str = "success") -> SnapshotInfo:
    created = (NOW - _dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return SnapshotInfo(
        id=f"{n:064x}",
        created_at=created,
        status=status,
        schema_version="1",  # type: ignore[arg-type]
        calculation_version="1",
        namespace="n",
        scope_id="s",
        size_bytes=1,
        error_count=0,
        part_count=0,
        record_count=0,
    )


def _kept(decisions) -> set[int]:  # type: ignore[no-untyped-def]
    return {int(d.snapshot_id, 16) for d in decisions if d.keep}


def test_decisions_come_newest_first_whatever_the_input_order() -> None:
    infos = [_info(1, 30), _info(2, 10), _info(3, 20)]
    decisions = decide(infos, RetentionPolicy(keep_last=1), None, NOW)
    assert [int(d.snapshot_id, 16) for d in decisions] == [2, 3, 1]


def test_pointer_target_last_success_and_newest_failure_are_always_kept() -> None:
    infos = [_info(1, 500), _info(2, 400), _info(3, 300, "failed"), _info(4, 1, "partial")]
    decisions = decide(infos, RetentionPolicy(keep_last=1), pointer_id=f"{1:064x}", now=NOW)
    assert _kept(decisions) == {1, 2, 3, 4}
    reasons = {int(d.snapshot_id, 16): d.reasons for d in decisions}
    assert "pointer target" in reasons[1]
    assert "last success" in reasons[2]
    assert "newest failed run" in reasons[3]


def test_keep_daily_uses_utc_days_and_skips_failed_runs() -> None:
    # NOW is 12:00 UTC; 13 hours ago is the previous UTC day.
    infos = [_info(1, 1, "failed"), _info(2, 2), _info(3, 3), _info(4, 13), _info(5, 40)]
    decisions = decide(infos, RetentionPolicy(keep_daily=2), None, NOW)
    daily = {int(d.snapshot_id, 16) for d in decisions if any("daily" in r for r in d.reasons)}
    assert daily == {2, 4}


def test_max_age_drops_only_older_snapshots_and_says_so() -> None:
    infos = [_info(1, 24 * 10), _info(2, 24 * 3), _info(3, 1)]
    decisions = decide(infos, RetentionPolicy(max_age_days=5), None, NOW)
    by_id = {int(d.snapshot_id, 16): d for d in decisions}
    assert _kept(decisions) == {2, 3}
    assert by_id[1].reasons == ("older than 5 days",)


def test_no_rule_keeps_everything() -> None:
    infos = [_info(n, n * 100) for n in range(1, 6)]
    assert _kept(decide(infos, RetentionPolicy(), None, NOW)) == {1, 2, 3, 4, 5}


def test_negative_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_last"):
        decide([], RetentionPolicy(keep_last=-1), None, NOW)


def test_naive_now_means_utc() -> None:
    infos = [_info(1, 24 * 3), _info(2, 1)]
    aware = decide(infos, RetentionPolicy(max_age_days=2), None, NOW)
    naive = decide(infos, RetentionPolicy(max_age_days=2), None, NOW.replace(tzinfo=None))
    assert aware == naive
