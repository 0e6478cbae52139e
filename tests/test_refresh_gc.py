"""While oracles run, full garbage collections are rarer; the thresholds come back after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapkit.gcpace import FULL_COLLECTION_EVERY
from snapkit.testing.engine import OraclePlugin, make_project

ORIGINAL = (701, 11, 12)


@pytest.fixture(autouse=True)
def _thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*ORIGINAL)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def records(seen: list[tuple[int, int, int]]) -> Any:
    def load(call: Any) -> Iterator[dict[str, Any]]:
        seen.append(gc.get_threshold())
        for n in range(3):
            yield {"id": n}

    return load


def test_oracles_run_with_fewer_full_collections_and_the_thresholds_come_back(
    tmp_path: Path,
) -> None:
    seen: list[tuple[int, int, int]] = []
    project = make_project(tmp_path, OraclePlugin().add("rows", records(seen), records=True))
    assert project.refresh().status == "success"
    assert seen == [(701, 11, FULL_COLLECTION_EVERY)]
    assert gc.get_threshold() == ORIGINAL


def test_thresholds_come_back_after_a_failed_refresh(tmp_path: Path) -> None:
    def broken(call: Any) -> Any:
        raise RuntimeError("no")

    project = make_project(tmp_path, OraclePlugin().add("broken", broken))
    assert project.refresh().status == "failed"
    assert gc.get_threshold() == ORIGINAL


def test_a_higher_threshold_is_kept_and_a_change_made_meanwhile_is_not_undone(
    tmp_path: Path,
) -> None:
    gc.set_threshold(700, 10, FULL_COLLECTION_EVERY * 3)
    seen: list[tuple[int, int, int]] = []
    project = make_project(tmp_path, OraclePlugin().add("rows", records(seen), records=True))
    project.refresh()
    assert seen == [(700, 10, FULL_COLLECTION_EVERY * 3)]

    def changes_them(call: Any) -> dict[str, Any]:
        gc.set_threshold(5000, 10, 10)
        return {}

    gc.set_threshold(*ORIGINAL)
    make_project(tmp_path / "b", OraclePlugin().add("host", changes_them)).refresh()
    assert gc.get_threshold() == (5000, 10, 10)


def test_concurrent_refreshes_restore_the_thresholds_when_the_last_one_ends(
    tmp_path: Path,
) -> None:
    first_running, second_done = threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def waits(call: Any) -> dict[str, Any]:
        first_running.set()
        assert second_done.wait(30)
        seen.append(gc.get_threshold())
        return {}

    first = make_project(tmp_path / "a", OraclePlugin().add("waits", waits))
    second = make_project(tmp_path / "b", OraclePlugin().add("rows", records(seen),
                                                                 records=True))
    thread = threading.Thread(target=first.refresh)
    thread.start()
    assert first_running.wait(30)
    second.refresh()
    second_done.set()
    thread.join(30)
    assert seen == [(701, 11, FULL_COLLECTION_EVERY)] * 2
    assert gc.get_threshold() == ORIGINAL
