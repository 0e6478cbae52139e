"""Refreshes from the local dashboard: exact tables, faults, stale data, diffs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from toastmasters_helpers import part_checksum, section, tm_project

from snapkit.diff import compute_diff, diff_bytes
from snapkit_toastmasters.generator import Dashboard
from snapkit_toastmasters.oracles import HANDOFF
from snapkit_toastmasters.server import ServerHandle, serve


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with serve(Dashboard.generate(3, 150, seed=7)) as handle:
        yield handle


@pytest.fixture
def small() -> Iterator[ServerHandle]:
    with serve(Dashboard.generate(2, 20, seed=3)) as handle:
        yield handle


def test_a_refresh_of_3_districts_of_150_clubs_stores_exactly_the_generated_tables(
    tmp_path: Path, server: ServerHandle
) -> None:
    outcome = tm_project(tmp_path, server).refresh()
    assert outcome.status == "success", outcome.errors
    assert outcome.pointer_moved
    expected = server.dashboard.expected_tables()
    assert len(expected["clubs"]) == 450
    parts = {part.name: part for part in outcome.manifest.parts}
    assert sorted(parts) == sorted(expected)
    for table, rows in expected.items():
        count, checksum = part_checksum(rows)
        assert (parts[table].records, parts[table].sha256) == (count, checksum), table
    assert parts["clubs"].key_column == "club_number"
    assert parts["district_statistics"].key_column == "district_id"
    summary = outcome.manifest.payloads["toastmasters"]
    assert summary["tables"]["clubs"] == 450
    assert server.requests == 9  # three reports of three districts, each fetched once
    assert len(HANDOFF) == 0  # the collected tables were released


def test_the_same_exports_give_the_same_snapshot_id(tmp_path: Path, small: ServerHandle) -> None:
    project = tm_project(tmp_path, small)
    first = project.refresh()
    second = project.refresh()
    assert first.snapshot_id == second.snapshot_id
    timings = second.manifest.run.timings["tm_metadata"]
    assert timings.metrics["requests"] == 6 and timings.metrics["fetched_at"]


def test_a_broken_export_fails_the_snapshot_naming_district_report_and_line(
    tmp_path: Path, small: ServerHandle
) -> None:
    project = tm_project(tmp_path, small)
    good = project.refresh()
    small.advance()
    small.set_faults(truncate_always=True, report="club_performance", district="62")
    outcome = project.refresh()
    assert outcome.status == "failed" and not outcome.pointer_moved
    (error,) = [e for e in outcome.errors if e.oracle == "tm_metadata"]
    assert error.code == "oracle_error"
    assert "district 62, club performance report, line " in error.message
    assert "ends without its 'Month of" in error.message
    assert project.current().id == good.snapshot_id
    assert project.resolve("latest").status == "failed"
    assert not project.resolve("latest").parts


def test_a_missing_column_fails_naming_it_and_the_pointer_stays(
    tmp_path: Path, small: ServerHandle
) -> None:
    project = tm_project(tmp_path, small)
    good = project.refresh()
    small.set_faults(missing_column="Active Members", report="club_performance")
    outcome = project.refresh()
    assert outcome.status == "failed"
    messages = " ".join(e.message for e in outcome.errors)
    assert (
        "district 61, club performance report, line 1: the export has no column "
        "'Active Members'" in messages
    )
    assert project.current().id == good.snapshot_id


def test_server_errors_are_retried_by_the_engine(tmp_path: Path, small: ServerHandle) -> None:
    small.set_faults(server_errors=2)
    outcome = tm_project(tmp_path, small).refresh()
    assert outcome.status == "success", outcome.errors
    assert outcome.manifest.run.timings["tm_metadata"].attempts == 3


def test_server_errors_that_persist_fail_the_refresh_as_transient(
    tmp_path: Path, small: ServerHandle
) -> None:
    small.set_faults(server_errors_always=True, district="62")
    outcome = tm_project(tmp_path, small).refresh()
    assert outcome.status == "failed"
    (error,) = [e for e in outcome.errors if e.oracle == "tm_metadata"]
    assert "district 62, district summary report: the dashboard answered HTTP 500" in error.message
    assert outcome.manifest.run.timings["tm_metadata"].attempts == 3


def test_data_older_than_the_current_snapshot_fails_and_the_pointer_stays(
    tmp_path: Path, small: ServerHandle
) -> None:
    project = tm_project(tmp_path, small)
    small.advance()
    good = project.refresh()
    small.set_faults(stale_days=40)
    outcome = project.refresh()
    assert outcome.status == "failed" and not outcome.pointer_moved
    message = " ".join(e.message for e in outcome.errors)
    assert (
        "district 61: the data is as of 2026-09-12, older than the current snapshot's "
        "(2026-10-22)" in message
    )
    assert project.current().id == good.snapshot_id


def test_a_stale_refresh_after_a_failed_one_is_still_compared_with_the_current_snapshot(
    tmp_path: Path, small: ServerHandle
) -> None:
    project = tm_project(tmp_path, small)
    small.advance()
    good = project.refresh()
    small.set_faults(truncate_always=True, report="club_performance")
    assert project.refresh().status == "failed"
    small.set_faults(stale_days=40)
    outcome = project.refresh()
    assert outcome.status == "failed" and not outcome.pointer_moved
    assert "older than the current snapshot's (2026-10-22)" in " ".join(
        e.message for e in outcome.errors
    )
    assert project.current().id == good.snapshot_id


def _call(previous: Any) -> Any:
    import threading

    from snapkit.contracts import Scope
    from snapkit.refresh import OracleCall

    return OracleCall(
        scope=Scope("toastmasters"),
        settings={},
        inputs={},
        request_token="test-token",
        timeout=30.0,
        attempt=1,
        cancelled=threading.Event(),
        previous=previous,
    )


def test_the_collector_takes_its_baseline_from_the_previous_result_not_a_store(
    small: ServerHandle,
) -> None:
    """No store, no configuration: the engine's ``call.previous`` is all the check needs."""
    from snapkit.refresh import PreviousResult
    from snapkit_toastmasters.errors import StaleDataError
    from snapkit_toastmasters.oracles import Handoff, MetadataOracle

    handoff = Handoff()
    oracle = MetadataOracle(section(small), handoff=handoff)
    metadata = oracle.load(_call(None))
    assert metadata["districts"]["61"]["data_as_of"] == "2026-09-22"
    later = {
        **metadata,
        "districts": {
            **metadata["districts"],
            "61": {**metadata["districts"]["61"], "data_as_of": "2026-09-23"},
        },
    }
    previous = PreviousResult("0" * 64, "2026-09-23T00:00:00Z", True, "1", later)
    with pytest.raises(
        StaleDataError,
        match=r"^district 61: the data is as of 2026-09-22, "
        r"older than the current snapshot's \(2026-09-23\)",
    ):
        oracle.load(_call(previous))
    unchecked = MetadataOracle(section(small, check_as_of=False), handoff=handoff)
    assert unchecked.load(_call(previous)) == metadata
    assert oracle.load(_call(PreviousResult("0" * 64, "2026-09-23T00:00:00Z"))) == metadata


def test_the_as_of_check_can_be_turned_off(tmp_path: Path, small: ServerHandle) -> None:
    project = tm_project(tmp_path, small, check_as_of=False)
    small.advance()
    project.refresh()
    small.set_faults(stale_days=40)
    assert project.refresh().status == "success"


def test_a_stale_date_without_a_current_snapshot_is_accepted(
    tmp_path: Path, small: ServerHandle
) -> None:
    small.set_faults(stale_days=40)
    outcome = tm_project(tmp_path, small).refresh()
    assert outcome.status == "success", outcome.errors
    assert outcome.manifest.payloads["tm_metadata"]["data_as_of"] == "2026-08-13"


def test_a_month_asked_for_is_fetched_and_checked(tmp_path: Path, small: ServerHandle) -> None:
    small.advance(2)
    outcome = tm_project(tmp_path, small, month_end="2026-08-31").refresh()
    assert outcome.status == "success", outcome.errors
    meta = outcome.manifest.payloads["tm_metadata"]
    assert (meta["month_end"], meta["data_as_of"]) == ("2026-08-31", "2026-08-22")
    expected = small.dashboard.expected_tables(month=1)
    part = outcome.manifest.part("clubs")
    assert (part.records, part.sha256) == part_checksum(expected["clubs"])


def test_the_diff_between_two_months_shows_a_clubs_member_change_with_its_delta(
    tmp_path: Path, small: ServerHandle
) -> None:
    import snapkit_diff_sections.plugin as diff_sections

    project = tm_project(tmp_path, small)
    project.manager.register(diff_sections, name="diff-sections")
    september = project.refresh()
    before = {c["club_number"]: c for c in small.dashboard.expected_tables()["clubs"]}
    small.advance()
    october = project.refresh()
    after = {c["club_number"]: c for c in small.dashboard.expected_tables()["clubs"]}
    diff = compute_diff(
        project.manager, project.store, september.manifest, october.manifest, sections=["table"]
    )
    tables = json.loads(diff_bytes(diff))["sections"][0]["data"]["tables"]
    changed = {row["key"]: row["fields"] for row in tables["clubs"]["changed"]}
    moved = [n for n in sorted(before) if before[n]["active_members"] != after[n]["active_members"]]
    assert moved
    club = moved[0]
    assert changed[club]["active_members"] == {
        "from": before[club]["active_members"],
        "to": after[club]["active_members"],
        "delta": after[club]["active_members"] - before[club]["active_members"],
    }
    districts = {row["key"]: row["fields"] for row in tables["district_statistics"]["changed"]}
    totals = {
        s["district_id"]: s["membership_total"]
        for s in small.dashboard.expected_tables()["district_statistics"]
    }
    earlier = {
        s["district_id"]: s["membership_total"]
        for s in small.dashboard.expected_tables(month=2)["district_statistics"]
    }
    moved_districts = [d for d in totals if totals[d] != earlier[d]]
    assert moved_districts
    for district in moved_districts:
        assert districts[district]["membership_total"] == {
            "from": earlier[district],
            "to": totals[district],
            "delta": totals[district] - earlier[district],
        }


def test_reads_never_fetch(tmp_path: Path, small: ServerHandle) -> None:
    """Seed 003, property 1: read operations never trigger scraping."""
    from snapkit.projection import derive_for_project

    project = tm_project(tmp_path, small)
    project.refresh()
    requests = small.requests
    current = project.current()
    list(project.records("current", "clubs"))
    derive_for_project(project, current)
    project.search("clubs", "status=low")
    assert small.requests == requests


def test_an_empty_district_fails_the_refresh_with_the_reason(tmp_path: Path) -> None:
    from snapkit.errors import NoSnapshotError

    with serve(Dashboard({"61": 5, "62": 0})) as server:
        project = tm_project(tmp_path, server)
        outcome = project.refresh()
    assert outcome.status == "failed"
    message = " ".join(e.message for e in outcome.errors)
    assert "district 62, club performance report, line 2: the report lists no clubs" in message
    with pytest.raises(NoSnapshotError):
        project.current()
