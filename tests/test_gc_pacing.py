"""With GC pacing on (snapkit's CLI, ``gcpace.enabled()``, ``Project(gc_pacing=True)``),
while refreshes and derivations run, the collector's thresholds are raised (never lowered);
concurrent users share the highest request, and the thresholds in place before come back
when the last one ends unless someone changed them meanwhile (also after a failed refresh).
That pacing is off by default is tested in test_gc_pacing_scope.py."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapkit.contracts import Scope, SnapshotManifest
from snapkit.descriptors import ProjectionDescriptor
from snapkit.gcpace import (
    FULL_COLLECTION_EVERY,
    YOUNG_COLLECTION_EVERY,
    enabled,
    spaced_collections,
)
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.project import Project
from snapkit.projection import derive, derive_all
from snapkit.testing.engine import OraclePlugin
from snapkit.testing.engine import make_project as make_plain_project

ORIGINAL = (701, 11, 12)


@pytest.fixture(autouse=True)
def _thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*ORIGINAL)
    try:
        with enabled():
            yield
    finally:
        gc.set_threshold(*saved)


def make_project(folder: Path, *plugins: object) -> Project:
    """A project that opted in to GC pacing (so its refreshes pace in any thread)."""
    project = make_plain_project(folder, *plugins)
    project.gc_pacing = True
    return project


def test_nested_users_share_the_highest_request_and_the_first_thresholds_come_back() -> None:
    with spaced_collections(old=100):
        assert gc.get_threshold() == (701, 11, 100)
        with spaced_collections(young=5000, old=50):
            assert gc.get_threshold() == (5000, 11, 100)
        assert gc.get_threshold() == (701, 11, 100)
    assert gc.get_threshold() == ORIGINAL


def test_users_that_end_out_of_order_restore_the_thresholds_once_both_are_done() -> None:
    first, second = spaced_collections(old=100), spaced_collections(young=5000)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == (5000, 11, 12)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == ORIGINAL


def test_a_higher_setting_is_kept_and_a_change_made_meanwhile_is_not_undone() -> None:
    gc.set_threshold(900, 11, 500)
    with spaced_collections(young=800, old=100):
        assert gc.get_threshold() == (900, 11, 500)
    assert gc.get_threshold() == (900, 11, 500)
    with spaced_collections(old=100):
        gc.set_threshold(5000, 10, 10)
    assert gc.get_threshold() == (5000, 10, 10)


def test_collection_disabled_by_a_zero_threshold_stays_disabled() -> None:
    gc.set_threshold(0, 11, 12)
    with spaced_collections(young=5000):
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold() == (0, 11, 12)


def test_the_thresholds_come_back_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError), spaced_collections(young=5000):
        raise RuntimeError("no")
    assert gc.get_threshold() == ORIGINAL


def test_projections_are_derived_with_spaced_young_collections() -> None:
    seen: list[tuple[int, int, int]] = []

    def probe(inputs: Any) -> dict[str, Any]:
        seen.append(gc.get_threshold())
        return {}

    class Projections:
        @hookimpl
        def snapkit_register_projections(self, register: Any) -> None:
            register(ProjectionDescriptor(key="probe", factory=lambda settings: probe))

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(Projections(), name="inline")
    assembly = SnapshotManifest(
        scope=Scope("test"), schema_version="1", calculation_version="1", status="success"
    )
    assert derive_all(assembly, manager)["probe"].status == "ready"
    assert derive(assembly, manager.projections.get("probe")).status == "ready"
    assert seen == [(YOUNG_COLLECTION_EVERY, 11, 12)] * 2
    assert gc.get_threshold() == ORIGINAL


# -- refresh: full collections spaced while oracles run ------------------------------------


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
    second = make_project(tmp_path / "b", OraclePlugin().add("rows", records(seen), records=True))
    thread = threading.Thread(target=first.refresh)
    thread.start()
    assert first_running.wait(30)
    second.refresh()
    second_done.set()
    thread.join(30)
    assert seen == [(701, 11, FULL_COLLECTION_EVERY)] * 2
    assert gc.get_threshold() == ORIGINAL
