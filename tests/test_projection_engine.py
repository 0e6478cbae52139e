"""The projection engine: readiness statuses, reason codes, isolation, filters, events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapkit.contracts import PartRef, Scope, SnapshotManifest
from snapkit.descriptors import ProjectionDescriptor
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.projection import DerivationError, derive, derive_all, store_reader
from snapkit.testing.engine import OraclePlugin, make_project
from snapkit.testing.recorder import HookRecorder

SECRET = "Alice Secretname"


class Projections:
    """An inline plugin registering the given projection descriptors."""

    def __init__(self, *descriptors: ProjectionDescriptor) -> None:
        self.descriptors = descriptors

    @hookimpl
    def snapkit_register_projections(self, register: Callable[[Any], None]) -> None:
        for descriptor in self.descriptors:
            register(descriptor)


def projection(
    key: str,
    derive_fn: Callable[[Any], Any],
    requires: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> ProjectionDescriptor:
    return ProjectionDescriptor(
        key=key, factory=lambda settings: derive_fn, requires=requires, optional=optional
    )


def count_users(inputs: Any) -> dict[str, Any]:
    return {
        "users": sum(1 for _ in inputs.records("users")),
        "threshold": inputs.filter("threshold", 50),
    }


def roster_size(inputs: Any) -> dict[str, Any]:
    extra = len(inputs.payload("extra")) if inputs.has("extra") else None
    return {"users": len(inputs.table("users")), "extra": extra}


def explode(inputs: Any) -> Any:
    raise KeyError(SECRET)  # a message quoting a payload value


STANDARD = (
    projection("count", count_users, requires=("users",)),
    projection("roster", roster_size, requires=("users",), optional=("extra",)),
    projection("exploding", explode, requires=("users",)),
    projection("needs_grades", count_users, requires=("users", "grades")),
)


def oracles(*, extra: bool = True, grades_fail: bool = False) -> OraclePlugin:
    plugin = OraclePlugin()
    plugin.add(
        "users",
        lambda call: [{"id": 1, "name": SECRET}, {"id": 2, "name": "Bob"}],
        records=True,
        key_column="id",
    )
    if extra:
        plugin.add("extra", lambda call: ["x", "y", "z"], optional=True)

    def grades(call: Any) -> Any:
        if grades_fail:
            raise RuntimeError("down")
        return {"a": 1}

    plugin.add("grades", grades)
    return plugin


def refreshed(
    folder: Path,
    plugin: OraclePlugin,
    *projections: ProjectionDescriptor,
    filters: dict[str, Any] | None = None,
) -> tuple[Any, SnapshotManifest]:
    project = make_project(
        folder,
        plugin,
        Projections(*(projections or STANDARD)),
        config={"scope": {"namespace": "test", "filters": filters or {}}},
    )
    outcome = project.refresh()
    return project, outcome.manifest


def test_every_projection_gets_a_status_and_one_failure_does_not_stop_the_others(tmp_path: Path):
    project, manifest = refreshed(tmp_path, oracles())
    derived = derive_all(manifest, project.manager, store=project.store)
    assert derived.statuses() == {
        "count": "ready",
        "exploding": "failed",
        "needs_grades": "ready",
        "roster": "ready",
    }
    assert derived["count"].value == {"users": 2, "threshold": 50}
    assert derived["count"].oracles == ("users",)
    assert derived["exploding"].reason == "derivation_error"
    assert derived["exploding"].value is None


def test_a_raising_projection_reports_the_exception_type_never_its_message(tmp_path: Path):
    project, manifest = refreshed(tmp_path, oracles())
    result = derive_all(manifest, project.manager, store=project.store)["exploding"]
    assert "KeyError" in (result.message or "")
    assert SECRET not in (result.message or "")


def test_missing_required_oracle_that_failed_makes_the_projection_failed(tmp_path: Path):
    plugin = oracles(grades_fail=True)
    descriptors = (*STANDARD,)
    project = make_project(
        tmp_path,
        plugin,
        Projections(*descriptors),
        config={"refresh": {"oracles": ["users", "extra", "grades"]}},
    )
    manifest = project.refresh().manifest
    assert manifest.status == "failed"  # grades is required by the refresh too
    derived = derive_all(manifest, project.manager, store=project.store)
    assert derived["needs_grades"].status == "failed"
    assert derived["needs_grades"].reason == "missing_required_oracle"
    # a failed snapshot keeps no payloads: every projection that needs users fails too
    assert derived["count"].reason == "missing_required_oracle"


def test_a_required_oracle_not_in_the_snapshot_yet_makes_the_projection_unavailable(tmp_path: Path):
    project, manifest = refreshed(tmp_path, oracles())
    loading = SnapshotManifest(
        scope=manifest.scope,
        schema_version="1",
        calculation_version="1",
        status="partial",
        parts=manifest.parts,
    )  # only users has arrived so far
    derived = derive_all(loading, project.manager, store=project.store)
    assert derived["needs_grades"].status == "unavailable"
    assert derived["needs_grades"].reason == "required_oracle_not_loaded"
    assert derived["count"].status == "ready"  # what is ready is shown while the rest loads


def test_a_missing_optional_oracle_gives_partial_with_a_value(tmp_path: Path):
    project, manifest = refreshed(
        tmp_path,
        oracles(extra=False),
        projection("roster", roster_size, requires=("users",), optional=("extra",)),
    )
    result = derive_all(manifest, project.manager, store=project.store)["roster"]
    assert (result.status, result.reason) == ("partial", "missing_optional_oracle")
    assert result.value == {"users": 2, "extra": None}


def test_derivation_error_carries_the_projections_own_reason(tmp_path: Path):
    def refuse(inputs: Any) -> Any:
        raise DerivationError("threshold out of range", reason="invalid_filter")

    project, manifest = refreshed(tmp_path, oracles(), projection("p", refuse, ("users",)))
    result = derive_all(manifest, project.manager, store=project.store)["p"]
    assert (result.status, result.reason) == ("failed", "invalid_filter")
    assert result.message == "threshold out of range"


def test_reading_an_undeclared_oracle_fails_the_projection(tmp_path: Path):
    project, manifest = refreshed(
        tmp_path, oracles(), projection("sneaky", lambda i: i.payload("grades"), ("users",))
    )
    result = derive_all(manifest, project.manager, store=project.store)["sneaky"]
    assert (result.status, result.reason) == ("failed", "undeclared_oracle")


def test_a_value_that_is_not_json_fails_with_invalid_value(tmp_path: Path):
    project, manifest = refreshed(
        tmp_path, oracles(), projection("odd", lambda i: {"x": float("nan")}, ("users",))
    )
    result = derive_all(manifest, project.manager, store=project.store)["odd"]
    assert (result.status, result.reason) == ("failed", "invalid_value")


def test_scope_filters_reach_every_projection_and_overrides_apply_on_top(tmp_path: Path):
    seen: list[dict[str, Any]] = []

    def record(inputs: Any) -> Any:
        seen.append(dict(inputs.filters))
        return None

    project, manifest = refreshed(
        tmp_path,
        oracles(),
        projection("a", record, ("users",)),
        projection("b", record, ("grades",)),
        filters={"threshold": 40, "window": 7},
    )
    derived = derive_all(manifest, project.manager, store=project.store, filters={"window": 14})
    assert seen == [{"threshold": 40, "window": 14}] * 2
    assert derived.filters == {"threshold": 40, "window": 14}


def test_records_are_read_once_per_run_when_projections_share_a_table(tmp_path: Path):
    project, manifest = refreshed(
        tmp_path,
        oracles(),
        projection("a", roster_size, ("users",), ("extra",)),
        projection("b", roster_size, ("users",), ("extra",)),
    )
    reads: list[str] = []
    base = store_reader(project.store)

    def reader(part: PartRef) -> Any:
        reads.append(part.name)
        return base(part)

    derived = derive_all(manifest, project.manager, reader=reader)
    assert derived.statuses() == {"a": "ready", "b": "ready"}
    assert reads == ["users"]


def test_derivation_works_on_an_in_memory_assembly_without_a_store():
    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(
        Projections(projection("echo", lambda i: i.payload("config"), ("config",))), name="inline"
    )
    assembly = SnapshotManifest(
        scope=Scope("test"),
        schema_version="1",
        calculation_version="1",
        status="partial",
        payloads={"config": {"mode": "fast"}},
    )
    derived = derive_all(assembly, manager)
    assert derived["echo"].value == {"mode": "fast"}
    assert derived.snapshot_id == assembly.id


def test_one_projection_can_be_derived_alone():
    assembly = SnapshotManifest(
        scope=Scope("test", filters={"k": 1}),
        schema_version="1",
        calculation_version="1",
        status="success",
        payloads={"config": 3},
    )
    result = derive(
        assembly, projection("one", lambda i: i.payload("config") + i.filter("k"), ("config",))
    )
    assert (result.status, result.value) == ("ready", 4)


def test_each_projection_is_announced_with_ids_and_status_but_no_values(tmp_path: Path):
    project, manifest = refreshed(tmp_path, oracles())
    recorder = HookRecorder(project.manager)
    try:
        derive_all(manifest, project.manager, store=project.store)
    finally:
        recorder.close()
    announced = recorder.events("snapkit_projection_status")
    assert [(e.projection, e.status, e.reason) for e in announced] == [
        ("count", "ready", None),
        ("exploding", "failed", "derivation_error"),
        ("needs_grades", "ready", None),
        ("roster", "ready", None),
    ]
    assert all(e.snapshot_id == manifest.id for e in announced)
    assert SECRET not in repr(announced)


def test_an_unknown_projection_key_is_an_error(tmp_path: Path):
    from snapkit.errors import UnknownKeyError

    project, manifest = refreshed(tmp_path, oracles())
    with pytest.raises(UnknownKeyError):
        derive_all(manifest, project.manager, store=project.store, keys=["nope"])


def _index_counting(calls: list[int]) -> Callable[[Any], Any]:
    def index(inputs: Any) -> dict[str, Any]:
        def build(inputs: Any) -> int:
            calls.append(1)
            return len(inputs.table("users"))

        return {
            "users": inputs.shared("test.index", build),
            "threshold": inputs.filter("threshold", 50),
        }

    return index


def test_a_table_cache_keeps_shared_intermediates_between_runs_of_one_snapshot(tmp_path: Path):
    from snapkit.projection import TableCache

    calls: list[int] = []
    index = _index_counting(calls)
    project, manifest = refreshed(
        tmp_path, oracles(), projection("a", index, ("users",)), projection("b", index, ("users",))
    )
    cache = TableCache()
    first = derive_all(manifest, project.manager, store=project.store, cache=cache)
    again = derive_all(manifest, project.manager, store=project.store, cache=cache)
    assert first.results == again.results and first.value("a")["users"] == 2
    assert len(calls) == 1  # once per run without a cache; once in all with one
    derive_all(
        manifest, project.manager, store=project.store, cache=cache, filters={"threshold": 10}
    )  # other filters: computed anew
    assert len(calls) == 2
    derive_all(manifest, project.manager, store=project.store)
    derive_all(manifest, project.manager, store=project.store, cache=TableCache(keep_shared=False))
    assert len(calls) == 4


def test_a_kept_intermediate_is_not_reused_for_another_snapshot(tmp_path: Path):
    from snapkit.projection import TableCache

    calls: list[int] = []
    users = [{"id": 1, "name": "A"}]
    plugin = OraclePlugin()
    plugin.add("users", lambda call: list(users), records=True, key_column="id")
    project, first = refreshed(
        tmp_path, plugin, projection("a", _index_counting(calls), ("users",))
    )
    users.append({"id": 2, "name": "B"})
    second = project.refresh().manifest
    cache = TableCache()
    values = [
        derive_all(m, project.manager, store=project.store, cache=cache).value("a")
        for m in (first, second, first)
    ]
    assert [v["users"] for v in values] == [1, 2, 1]
    assert len(calls) == 2
