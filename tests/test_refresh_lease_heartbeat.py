"""Issue 11, defect 10: the refresh lease is renewed from a timer while a refresh runs, so a
live refresh slower than ``lock_stale_after`` is never taken over; a lease lost anyway (taken
by another holder) fails the refresh before it commits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from snapkit.errors import LockHeldError
from snapkit.testing.engine import OraclePlugin, make_project

STALE_AFTER = 1.0


def _project(folder: Path, load: Any) -> Any:
    return make_project(
        folder,
        OraclePlugin().add("slow", load),
        config={"refresh": {"lock_stale_after": STALE_AFTER, "timeout": 60}},
    )


def test_a_refresh_slower_than_lock_stale_after_is_not_taken_over(tmp_path: Path) -> None:
    seen: list[str] = []

    def slow(call: Any) -> dict[str, bool]:
        time.sleep(STALE_AFTER * 2.5)  # one call, no level boundary to beat at
        intruder = make_project(tmp_path).store
        try:
            with intruder.lock("intruder", STALE_AFTER):
                seen.append("taken over")
        except LockHeldError as exc:
            seen.append(str(exc))
        return {"ok": True}

    outcome = _project(tmp_path, slow).refresh()

    assert outcome.status == "success" and outcome.pointer_moved
    assert len(seen) == 1 and "refresh lock is held by" in seen[0]
    assert make_project(tmp_path).store.lock_info() is None  # released at the end


def test_a_refresh_whose_lease_was_taken_over_fails_before_commit(tmp_path: Path) -> None:
    def robbed(call: Any) -> dict[str, bool]:
        time.sleep(0.01)
        # another refresh that judges this one stale (stale_after 0) takes the lease over
        make_project(tmp_path).store.lock("intruder", 0.0)
        return {"ok": True}

    project = _project(tmp_path, robbed)
    with pytest.raises(LockHeldError, match=r"was taken over.*committed nothing"):
        project.refresh()

    store = make_project(tmp_path).store
    assert store.read_pointer() is None
    assert store.list() == []
    info = store.lock_info()
    assert info is not None and info.holder == "intruder"
