"""``OracleCall.previous``: what the current snapshot holds for an oracle, read once per refresh.

An oracle sees ``None`` when there is no current snapshot (or it cannot be read), otherwise
the pointer's target -- its id, capture time and this oracle's payload or part summary --
whatever failed since. The value never enters the new snapshot, and the Assembler (no store)
passes ``None``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from snapkit.assemble import Assembler
from snapkit.errors import OracleError, TransientOracleError
from snapkit.refresh import PreviousResult
from snapkit.testing.engine import OraclePlugin, make_project

ROW_SCHEMA = {"type": "object", "required": ["id"]}


class Source:
    """A source whose oracles remember the ``call.previous`` of every call."""

    def __init__(self) -> None:
        self.rows = [{"id": i} for i in range(10)]
        self.settings: dict[str, Any] = {"as_of": "2026-10-01"}
        self.rows_fail = False
        self.seen: dict[str, list[PreviousResult | None]] = {"rows": [], "settings": []}

    def load_rows(self, call: Any) -> Any:
        self.seen["rows"].append(call.previous)
        if self.rows_fail:
            raise OracleError("the source is down")
        return iter(list(self.rows))

    def load_settings(self, call: Any) -> Any:
        self.seen["settings"].append(call.previous)
        return dict(self.settings)


@pytest.fixture
def source() -> Source:
    return Source()


def _project(folder: Path, source: Source) -> Any:
    plugin = OraclePlugin()
    plugin.add("rows", source.load_rows, records=True, key_column="id", payload_schema=ROW_SCHEMA)
    plugin.add("settings", source.load_settings)
    return make_project(folder, plugin, config={"refresh": {"backoff": 0.01}})


@pytest.fixture
def project(tmp_path: Path, source: Source) -> Any:
    return _project(tmp_path, source)


def test_the_first_refresh_sees_no_previous_result(project: Any, source: Source) -> None:
    assert project.refresh().status == "success"
    assert source.seen == {"rows": [None], "settings": [None]}


def test_the_next_refresh_sees_the_current_payload_and_part_summary(
    project: Any, source: Source
) -> None:
    first = project.refresh()
    source.settings = {"as_of": "2026-11-01"}
    source.rows.append({"id": 10})
    project.refresh()
    settings, rows = source.seen["settings"][-1], source.seen["rows"][-1]
    assert settings == PreviousResult(
        snapshot_id=first.snapshot_id,
        created_at=first.manifest.created_at,
        loaded=True,
        version="1",
        payload={"as_of": "2026-10-01"},
        part=None,
    )
    part = first.manifest.part("rows")
    assert rows is not None and rows.snapshot_id == first.snapshot_id
    assert (rows.loaded, rows.payload) == (True, None)
    assert rows.part == part and (rows.part.records, rows.part.sha256) == (10, part.sha256)


def test_a_failed_refresh_does_not_change_what_the_next_one_sees(
    project: Any, source: Source
) -> None:
    good = project.refresh()
    source.settings = {"as_of": "2026-11-01"}
    source.rows_fail = True
    failed = project.refresh()
    assert failed.status == "failed" and not failed.pointer_moved
    source.rows_fail = False
    project.refresh()
    after_failure = source.seen["settings"][-1]
    assert after_failure is not None
    assert after_failure.snapshot_id == good.snapshot_id != failed.snapshot_id
    assert after_failure.payload == {"as_of": "2026-10-01"}


def test_the_previous_result_does_not_enter_the_snapshot(project: Any, source: Source) -> None:
    first = project.refresh()
    second = project.refresh()
    assert source.seen["settings"] == [None, source.seen["settings"][1]]
    assert source.seen["settings"][1] is not None
    assert second.snapshot_id == first.snapshot_id
    assert "previous" not in second.manifest.payloads["settings"]


def test_an_oracle_new_since_the_current_snapshot_sees_it_without_a_result(
    tmp_path: Path, source: Source
) -> None:
    plugin = OraclePlugin()
    plugin.add("settings", source.load_settings)
    seen: list[PreviousResult | None] = []
    plugin.add("extra", lambda call: seen.append(call.previous) or {"n": 1})
    project = make_project(tmp_path, plugin, config={"refresh": {"oracles": ["settings"]}})
    first = project.refresh()
    project.refresh(oracles=["settings", "extra"])
    assert seen == [PreviousResult(first.snapshot_id, first.manifest.created_at)]
    assert seen[0] is not None and not seen[0].loaded and seen[0].version is None


def test_changing_the_previous_payload_does_not_change_what_a_retry_sees(tmp_path: Path) -> None:
    payloads: list[Any] = []
    tries = [0]

    def load(call: Any) -> Any:
        tries[0] += 1
        if call.previous is not None:
            payloads.append(dict(call.previous.payload))
            call.previous.payload["as_of"] = "changed"
            if tries[0] == 2:
                raise TransientOracleError("busy", retry_after=0.01)
        return {"as_of": "2026-10-01"}

    plugin = OraclePlugin().add("settings", load)
    project = make_project(tmp_path, plugin, config={"refresh": {"backoff": 0.01}})
    project.refresh()
    outcome = project.refresh()
    assert outcome.manifest.run.timings["settings"].attempts == 2
    assert payloads == [{"as_of": "2026-10-01"}, {"as_of": "2026-10-01"}]
    assert project.current().payloads["settings"] == {"as_of": "2026-10-01"}


def test_one_refresh_reads_the_current_snapshot_once_and_no_part(
    project: Any, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.refresh()
    store = project.store
    reads: list[str] = []
    for name in ("latest_successful", "open_part", "iter_part_lines", "iter_part_blocks"):
        real = getattr(store, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            reads.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, spy)
    source.rows = source.rows[:2]  # the shrink check compares with the same read
    outcome = project.refresh()
    assert outcome.status == "failed"
    assert [e.code for e in outcome.errors] == ["table_shrank"]
    assert reads == ["latest_successful"]
    assert source.seen["rows"][-1] is not None


def test_an_unreadable_current_snapshot_gives_none_and_a_warning(
    tmp_path: Path, source: Source, caplog: pytest.LogCaptureFixture
) -> None:
    first = _project(tmp_path, source).refresh()
    damaged = [
        path
        for path in (tmp_path / "store").rglob("*")
        if path.is_file() and first.snapshot_id in path.name
    ]
    assert damaged
    for path in damaged:
        path.write_text("{ not a manifest")
    project = _project(tmp_path, source)  # a new handle: nothing of the manifest cached
    with caplog.at_level(logging.WARNING, logger="snapkit.refresh"):
        outcome = project.refresh()
    assert outcome.status == "success", outcome.errors
    assert source.seen["settings"][-1] is None and source.seen["rows"][-1] is None
    assert "the current snapshot cannot be read" in caplog.text
    assert "oracles see no previous result" in caplog.text


def test_the_assembler_passes_no_previous_result(project: Any, source: Source) -> None:
    project.refresh()
    assembler = Assembler(
        project.manager, settings=project.config.refresh, oracle_settings=project.oracle_settings
    )
    bundle = assembler.get_or_build(project.config.scope, "request-1")
    assert bundle.manifest.status == "success"
    assert source.seen["settings"][-1] is None and source.seen["rows"][-1] is None
