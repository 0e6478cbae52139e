"""While refreshes and derivations run, the collector's thresholds are raised (never
lowered); concurrent users share the highest request, and the thresholds in place before
come back when the last one ends unless someone changed them meanwhile."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from snapkit.contracts import Scope, SnapshotManifest
from snapkit.descriptors import ProjectionDescriptor
from snapkit.gcpace import YOUNG_COLLECTION_EVERY, spaced_collections
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.projection import derive, derive_all

ORIGINAL = (701, 11, 12)


@pytest.fixture(autouse=True)
def _thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*ORIGINAL)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


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
    assembly = SnapshotManifest(scope=Scope("test"), schema_version="1",
                                calculation_version="1", status="success")
    assert derive_all(assembly, manager)["probe"].status == "ready"
    assert derive(assembly, manager.projections.get("probe")).status == "ready"
    assert seen == [(YOUNG_COLLECTION_EVERY, 11, 12)] * 2
    assert gc.get_threshold() == ORIGINAL
