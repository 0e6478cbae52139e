"""Seed 003's correctness properties that apply to the store and the refresh engine.

Each test is named after its property (``test_property_NN_...``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import pytest

from snapkit.errors import NoSnapshotError, TransientOracleError
from snapkit.store import ListFilter, SnapshotStore
from snapkit.testing.engine import OraclePlugin, make_project

USER_SCHEMA = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}


class Source:
    """A changeable data source for tests: users (records) and settings (a small payload)."""

    def __init__(self) -> None:
        self.users = [{"id": i, "name": f"user {i}"} for i in range(50)]
        self.settings: Any = {"threshold": 40}
        self.fail_with: BaseException | None = None
        self.transient_failures = 0

    def load_users(self, call: Any) -> Any:
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise TransientOracleError("source busy", retry_after=0.01)
        if self.fail_with is not None:
            raise self.fail_with
        return iter(list(self.users))

    def load_settings(self, call: Any) -> Any:
        return self.settings


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
def plugin(source: Source) -> OraclePlugin:
    plugin = OraclePlugin()
    plugin.add(
        "users", source.load_users, records=True, key_column="id", payload_schema=USER_SCHEMA
    )
    plugin.add(
        "settings",
        source.load_settings,
        payload_schema={"type": "object", "required": ["threshold"]},
    )
    return plugin


@pytest.fixture
def project(tmp_path: Any, plugin: OraclePlugin) -> Any:
    return make_project(tmp_path, plugin, config={"refresh": {"backoff": 0.01}})


def test_property_01_read_operations_never_trigger_scraping(
    project: Any, plugin: OraclePlugin
) -> None:
    with pytest.raises(NoSnapshotError):
        project.current()
    assert plugin.calls == {}
    project.refresh()
    calls = dict(plugin.calls)
    current = project.current()
    project.resolve("current")
    project.resolve(current.id[:8])
    project.snapshots()
    assert sum(1 for _ in project.records("current", "users")) == 50
    project.store.latest()
    project.verify()
    assert plugin.calls == calls


def test_property_02_reads_always_serve_latest_successful_snapshot(
    project: Any, source: Source
) -> None:
    first = project.refresh()
    source.fail_with = RuntimeError("source down")
    project.refresh()
    assert project.current().id == first.snapshot_id
    source.fail_with = None
    source.users.append({"id": 999, "name": "new"})
    third = project.refresh()
    assert third.snapshot_id != first.snapshot_id
    assert project.current().id == third.snapshot_id


def test_property_08_successful_refresh_creates_success_snapshot(project: Any) -> None:
    outcome = project.refresh()
    assert outcome.status == "success"
    assert outcome.pointer_moved
    stored = project.store.get(outcome.snapshot_id)
    assert stored.status == "success"
    assert stored.part("users").records == 50
    assert stored.payloads["settings"] == {"threshold": 40}


def test_property_09_failed_refresh_preserves_current_pointer(project: Any, source: Source) -> None:
    good = project.refresh()
    pointer = project.store.read_pointer()
    source.fail_with = RuntimeError("boom")
    failed = project.refresh()
    assert failed.status == "failed"
    assert not failed.pointer_moved
    assert project.store.read_pointer() == pointer
    assert project.store.get(failed.snapshot_id).status == "failed"
    assert project.current().id == good.snapshot_id


def test_property_11_timestamp_metadata_inclusion(project: Any) -> None:
    from snapkit.project import age_seconds

    before = dt.datetime.now(dt.UTC)
    project.refresh()
    current = project.current()
    created = dt.datetime.fromisoformat(current.created_at.replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=1) <= created <= dt.datetime.now(dt.UTC)
    assert 0 <= age_seconds(current) < 60
    assert project.snapshots()[0].created_at == current.created_at


def test_property_12_version_metadata_inclusion(tmp_path: Any, plugin: OraclePlugin) -> None:
    project = make_project(
        tmp_path, plugin, config={"refresh": {"schema_version": "3.1", "calculation_version": "7"}}
    )
    outcome = project.refresh()
    stored = project.store.get(outcome.snapshot_id)
    assert (stored.schema_version, stored.calculation_version) == ("3.1", "7")
    info = project.snapshots()[0]
    assert (info.schema_version, info.calculation_version) == ("3.1", "7")


def test_property_13_failed_snapshots_not_served(project: Any, source: Source) -> None:
    source.fail_with = RuntimeError("down")
    failed = project.refresh()
    with pytest.raises(NoSnapshotError):
        project.current()
    assert project.store.latest_successful() is None
    assert project.store.latest().id == failed.snapshot_id
    listed = project.snapshots(ListFilter(status=("failed",)))
    assert [i.id for i in listed] == [failed.snapshot_id]


def test_property_14_error_logging_in_failed_snapshots(project: Any, source: Source) -> None:
    source.fail_with = ConnectionRefusedError("refused by upstream")
    failed = project.refresh()
    stored = project.store.get(failed.snapshot_id)
    assert [(e.code, e.oracle) for e in stored.errors] == [("oracle_exception", "users")]
    assert "ConnectionRefusedError" in stored.errors[0].message
    status = stored.oracle_status("users")
    assert status is not None and status.status == "failed" and status.source == "error"
    assert stored.parts == ()


def test_property_16_network_retry_logic(
    project: Any, source: Source, plugin: OraclePlugin
) -> None:
    source.transient_failures = 2
    outcome = project.refresh()
    assert outcome.status == "success"
    assert plugin.calls["users"] == 3
    assert outcome.manifest.run.timings["users"].attempts == 3


def test_property_16_gives_up_after_three_attempts(
    project: Any, source: Source, plugin: OraclePlugin
) -> None:
    source.transient_failures = 5
    outcome = project.refresh()
    assert outcome.status == "failed"
    assert plugin.calls["users"] == 3


def test_property_16_permanent_errors_are_not_retried(
    project: Any, source: Source, plugin: OraclePlugin
) -> None:
    source.fail_with = ValueError("bad request")
    project.refresh()
    assert plugin.calls["users"] == 1


def test_property_17_snapshot_store_interface_compliance(project: Any) -> None:
    assert isinstance(project.store, SnapshotStore)


def test_property_19_dual_query_support(project: Any, source: Source) -> None:
    good = project.refresh()
    source.fail_with = RuntimeError("down")
    bad = project.refresh()
    assert project.store.latest_successful().id == good.snapshot_id
    assert project.store.latest().id == bad.snapshot_id
    assert project.resolve("latest").id == bad.snapshot_id


def test_property_20_current_pointer_maintenance(project: Any, source: Source) -> None:
    first = project.refresh()
    pointer1 = project.store.read_pointer()
    assert pointer1.snapshot_id == first.snapshot_id
    source.users.pop()
    second = project.refresh()
    pointer2 = project.store.read_pointer()
    assert pointer2.snapshot_id == second.snapshot_id
    assert pointer2.generation == pointer1.generation + 1
    moves = [h for h in project.store.history() if h.event == "pointer_moved"]
    assert [m.snapshot_id for m in moves] == [first.snapshot_id, second.snapshot_id]


def test_property_21_snapshot_listing_supports_filters_and_limit(
    project: Any, source: Source
) -> None:
    ids = []
    for n in range(3):
        source.users.append({"id": 1000 + n, "name": "x"})
        ids.append(project.refresh().snapshot_id)
    source.fail_with = RuntimeError("down")
    failed = project.refresh().snapshot_id
    everything = project.snapshots()
    assert [i.id for i in everything] == [failed, *reversed(ids)]
    assert [i.id for i in project.snapshots(limit=2)] == [failed, ids[2]]
    assert [i.id for i in project.snapshots(ListFilter(status=("success",)), 1)] == [ids[2]]
    assert project.snapshots(ListFilter(namespace="elsewhere")) == []
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert project.snapshots(ListFilter(since=future)) == []


def test_property_22_schema_validation_checks_every_record(project: Any, source: Source) -> None:
    source.users[37] = {"id": "not-an-int", "name": "Ada Lovelace"}
    outcome = project.refresh()
    assert outcome.status == "failed"
    error = outcome.errors[0]
    assert error.code == "validation_error"
    assert "record 37" in error.message and "$.id" in error.message
    assert "Ada" not in error.message and "not-an-int" not in error.message


def test_property_23_validation_rejection_keeps_pointer(project: Any, source: Source) -> None:
    good = project.refresh()
    source.settings = {"no_threshold": True}
    bad = project.refresh()
    assert bad.status == "failed"
    assert bad.errors[0].code == "validation_error"
    assert project.current().id == good.snapshot_id


def test_property_25_snapshot_id_correlation(project: Any, caplog: Any) -> None:
    seen: list[Any] = []

    class Audit:
        @staticmethod
        def snapkit_snapshot_committed(event: Any) -> None:
            seen.append(event)

        @staticmethod
        def snapkit_refresh_finished(event: Any) -> None:
            seen.append(event)

    project.manager.register(Audit(), name="audit")
    with caplog.at_level(logging.INFO, logger="snapkit"):
        outcome = project.refresh()
    assert [e.snapshot_id for e in seen] == [outcome.snapshot_id] * 2
    assert any(outcome.snapshot_id[:12] in r.getMessage() for r in caplog.records)


def test_property_28_version_preservation(
    tmp_path: Any, plugin: OraclePlugin, source: Source
) -> None:
    old = make_project(tmp_path, plugin, config={"refresh": {"calculation_version": "1"}})
    first = old.refresh()
    new = make_project(tmp_path, plugin, config={"refresh": {"calculation_version": "2"}})
    source.users.pop()
    second = new.refresh()
    assert new.store.get(first.snapshot_id).calculation_version == "1"
    assert new.store.get(second.snapshot_id).calculation_version == "2"


def test_same_data_gives_same_snapshot_id(project: Any) -> None:
    first = project.refresh()
    again = project.refresh()
    assert first.snapshot_id == again.snapshot_id


def test_optional_oracle_failure_gives_partial_and_keeps_pointer(
    tmp_path: Any, source: Source
) -> None:
    plugin = OraclePlugin()
    plugin.add("users", source.load_users, records=True, key_column="id")
    plugin.add("extras", lambda call: (_ for _ in ()).throw(RuntimeError("x")), optional=True)
    project = make_project(tmp_path, plugin)
    outcome = project.refresh()
    assert outcome.status == "partial"
    assert not outcome.pointer_moved
    status = outcome.manifest.oracle_status("extras")
    assert (status.status, status.source) == ("skipped_optional", "skipped_optional")
    moving = make_project(
        tmp_path / "b", plugin, config={"refresh": {"partial_moves_pointer": True}}
    )
    assert moving.refresh().pointer_moved


def test_dependent_oracle_sees_its_inputs_and_runs_after_them(tmp_path: Any) -> None:
    order: list[str] = []
    plugin = OraclePlugin()
    plugin.add("base", lambda call: order.append("base") or {"n": 2})
    plugin.add(
        "derived",
        lambda call: order.append("derived") or {"double": call.inputs["base"].payload["n"] * 2},
        requires=["base"],
    )
    project = make_project(tmp_path, plugin)
    outcome = project.refresh(["derived"])
    assert order == ["base", "derived"]
    assert outcome.manifest.payloads["derived"] == {"double": 4}


def test_oracle_that_hangs_times_out_and_fails_cleanly(tmp_path: Any) -> None:
    release = threading.Event()

    def hang(call: Any) -> Any:
        release.wait(5)
        return {"late": True}

    plugin = OraclePlugin().add("slow", hang)
    project = make_project(tmp_path, plugin, config={"refresh": {"timeout": 0.2}})
    try:
        outcome = project.refresh()
    finally:
        release.set()
    assert outcome.status == "failed"
    assert outcome.errors[0].code == "oracle_timeout"


def test_oracle_returning_garbage_fails_with_a_typed_error(tmp_path: Any) -> None:
    plugin = OraclePlugin()
    plugin.add("records", lambda call: 42, records=True)
    plugin.add("nan", lambda call: {"x": float("nan")})
    project = make_project(tmp_path, plugin)
    outcome = project.refresh()
    assert outcome.status == "failed"
    assert {e.code for e in outcome.errors} == {"invalid_payload"}
    assert project.store.read_pointer() is None


def test_a_record_stream_that_keeps_delivering_is_not_timed_out(tmp_path: Any) -> None:
    import time as _time

    def trickle(call: Any) -> Any:
        for batch in range(6):
            _time.sleep(0.1)
            yield from ({"id": batch * 2000 + i} for i in range(2000))

    plugin = OraclePlugin().add("slow_stream", trickle, records=True, key_column="id")
    project = make_project(tmp_path, plugin, config={"refresh": {"timeout": 0.35}})
    outcome = project.refresh()
    assert outcome.status == "success"
    assert outcome.manifest.part("slow_stream").records == 12000


def test_a_record_stream_that_stalls_times_out(tmp_path: Any) -> None:
    release = threading.Event()

    def stall(call: Any) -> Any:
        yield from ({"id": i} for i in range(2000))
        release.wait(5)
        yield {"id": -1}

    plugin = OraclePlugin().add("stalls", stall, records=True, key_column="id")
    project = make_project(tmp_path, plugin, config={"refresh": {"timeout": 0.3}})
    try:
        outcome = project.refresh()
    finally:
        release.set()
    assert outcome.status == "failed"
    assert outcome.errors[0].code == "oracle_timeout"
    assert "sent no records" in outcome.errors[0].message


def test_reported_run_figures_are_kept_in_the_run_and_leave_the_id_alone(tmp_path: Any) -> None:
    calls = {"n": 0}

    def counted(call: Any) -> Any:
        calls["n"] += 1
        call.report(api_calls=calls["n"] * 10, source_host="local")
        if call.attempt == 1 and calls["n"] == 1:
            raise TransientOracleError("busy")
        return {"rows": 3}

    plugin = OraclePlugin().add("counted", counted)
    project = make_project(tmp_path, plugin, config={"refresh": {"backoff": 0.01}})
    first = project.refresh()
    metrics = first.manifest.run.timings["counted"].metrics
    assert metrics == {"api_calls": 10 + 20, "source_host": "local"}
    second = project.refresh()
    assert second.manifest.run.timings["counted"].metrics["api_calls"] == 30
    assert first.snapshot_id == second.snapshot_id
    stored = project.store.get(first.snapshot_id)
    assert stored.run is not None
