"""Seed 003's correctness properties that concern validation, versions and failed refreshes,
held by the Toastmasters collector (each test is named for its property)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from toastmasters_helpers import section, tm_project

import snapkit_toastmasters.oracles as oracles
import snapkit_toastmasters.plugin as plugin
from snapkit.contracts import parse_time
from snapkit.diff import compute_diff
from snapkit.project import Project
from snapkit.testing.engine import make_project
from snapkit_toastmasters.collect import Collected
from snapkit_toastmasters.generator import Dashboard
from snapkit_toastmasters.schema import TABLE_SCHEMAS
from snapkit_toastmasters.server import ServerHandle, serve


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with serve(Dashboard.generate(2, 25, seed=11)) as handle:
        yield handle


def versioned(folder: Path, server: ServerHandle, schema: str, calculation: str) -> Project:
    config = {
        "oracles": {"toastmasters": section(server)},
        "refresh": {"backoff": 0.0, "schema_version": schema, "calculation_version": calculation},
    }
    return make_project(folder, plugin, config=config)


def test_property_8_a_successful_refresh_creates_a_success_snapshot(
    tmp_path: Path, server: ServerHandle
) -> None:
    project = tm_project(tmp_path, server)
    outcome = project.refresh()
    assert outcome.status == "success" and outcome.pointer_moved
    assert project.current().id == outcome.snapshot_id
    assert project.current().status == "success"


FAILURES = {
    "truncated export": {"truncate_always": True, "report": "district_performance"},
    "missing column": {"missing_column": "Club Status"},
    "persistent 500s": {"server_errors_always": True},
}


@pytest.mark.parametrize("fault", sorted(FAILURES))
def test_property_9_a_failed_refresh_records_a_failed_snapshot_and_keeps_the_pointer(
    tmp_path: Path, server: ServerHandle, fault: str
) -> None:
    project = tm_project(tmp_path, server)
    good = project.refresh()
    server.advance()
    server.set_faults(**FAILURES[fault])
    failed = project.refresh()
    assert failed.status == "failed" and not failed.pointer_moved
    assert project.current().id == good.snapshot_id
    assert project.resolve("latest").id == failed.snapshot_id
    store = tmp_path / "store"
    assert not [p for p in store.rglob("*") if "tmp" in p.name.lower() and p.is_file()]
    assert project.verify().ok


def test_property_11_snapshots_carry_their_creation_and_fetch_times(
    tmp_path: Path, server: ServerHandle
) -> None:
    outcome = tm_project(tmp_path, server).refresh()
    manifest = outcome.manifest
    created = parse_time(manifest.created_at)
    fetched = parse_time(manifest.run.timings["tm_metadata"].metrics["fetched_at"])
    assert fetched <= created
    metadata = manifest.payloads["tm_metadata"]
    assert (metadata["source"], metadata["data_as_of"]) == ("toastmasters-dashboard", "2026-09-22")


def test_property_12_snapshots_carry_schema_and_calculation_versions(
    tmp_path: Path, server: ServerHandle
) -> None:
    outcome = versioned(tmp_path, server, "3", "7").refresh()
    manifest = outcome.manifest
    assert (manifest.schema_version, manifest.calculation_version) == ("3", "7")
    metadata = manifest.payloads["tm_metadata"]
    assert (metadata["schema_version"], metadata["calculation_version"]) == ("1", "1")
    assert {s.key: s.version for s in manifest.oracles}["tm_clubs"] == "0.1.0"


def test_property_13_failed_snapshots_are_not_served(tmp_path: Path, server: ServerHandle) -> None:
    project = tm_project(tmp_path, server)
    good = project.refresh()
    server.set_faults(missing_column="Mem. Base")
    project.refresh()
    assert project.current().id == good.snapshot_id
    rows = list(project.records("current", "clubs"))
    assert len(rows) == 50
    assert project.snapshots()[0].status == "failed"


def test_property_14_a_failed_snapshot_holds_the_detailed_error(
    tmp_path: Path, server: ServerHandle
) -> None:
    project = tm_project(tmp_path, server)
    server.set_faults(truncate_always=True, report="club_performance", district="62")
    failed = project.refresh()
    manifest = project.resolve("latest")
    assert manifest.id == failed.snapshot_id
    (error,) = [e for e in manifest.errors if e.oracle == "tm_metadata"]
    assert error.code == "oracle_error"
    assert error.message.startswith(
        "oracle 'tm_metadata': district 62, club performance report, line "
    )
    dependents = {e.oracle for e in manifest.errors if e.code == "dependency_failed"}
    assert {"tm_clubs", "tm_districts"} <= dependents


def test_property_16_network_errors_are_retried(tmp_path: Path, server: ServerHandle) -> None:
    server.set_faults(server_errors=1)
    outcome = tm_project(tmp_path, server).refresh()
    assert outcome.status == "success"
    assert outcome.manifest.run.timings["tm_metadata"].attempts == 2


def test_property_22_every_stored_record_matches_its_tables_json_schema(
    tmp_path: Path, server: ServerHandle
) -> None:
    project = tm_project(tmp_path, server)
    project.refresh()
    for table, schema in TABLE_SCHEMAS.items():
        validator = jsonschema.Draft202012Validator(schema)
        rows = list(project.records("current", table))
        assert rows, table
        for row in rows:
            validator.validate(row)
    descriptors = {d.key: d for d in project.manager.oracles}
    assert descriptors["tm_clubs"].payload_schema == TABLE_SCHEMAS["clubs"]


def test_property_23_a_record_missing_a_required_field_is_rejected_and_the_pointer_stays(
    tmp_path: Path, server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tm_project(tmp_path, server)
    good = project.refresh()
    real = oracles.collect

    def without_status(*args: Any, **kwargs: Any) -> Collected:
        collected = real(*args, **kwargs)
        clubs = tuple(
            {k: v for k, v in row.items() if k != "status"} for row in collected.tables["clubs"]
        )
        return Collected(
            {**collected.tables, "clubs": clubs}, collected.metadata, collected.exports
        )

    monkeypatch.setattr(oracles, "collect", without_status)
    server.advance()
    failed = project.refresh()
    assert failed.status == "failed"
    (error,) = [e for e in failed.errors if e.oracle == "tm_clubs"]
    assert error.code == "validation_error" and "status" in error.message
    assert project.current().id == good.snapshot_id


def test_property_28_a_historical_snapshot_keeps_its_versions(
    tmp_path: Path, server: ServerHandle
) -> None:
    old = versioned(tmp_path, server, "1", "1").refresh()
    server.advance()
    versioned(tmp_path, server, "2", "2").refresh()
    again = versioned(tmp_path, server, "2", "2").resolve(old.snapshot_id)
    assert (again.schema_version, again.calculation_version) == ("1", "1")
    assert again.payloads["tm_metadata"]["calculation_version"] == "1"


def test_property_29_new_snapshots_use_the_current_versions(
    tmp_path: Path, server: ServerHandle
) -> None:
    versioned(tmp_path, server, "1", "1").refresh()
    server.advance()
    new = versioned(tmp_path, server, "2", "5").refresh()
    assert (new.manifest.schema_version, new.manifest.calculation_version) == ("2", "5")


def test_property_30_a_diff_across_versions_shows_the_version_change(
    tmp_path: Path, server: ServerHandle
) -> None:
    import snapkit_diff_sections.plugin as diff_sections

    old = versioned(tmp_path, server, "1", "1").refresh()
    server.advance()
    project = versioned(tmp_path, server, "1", "2")
    project.manager.register(diff_sections, name="diff-sections")
    new = project.refresh()
    diff = compute_diff(
        project.manager, project.store, old.manifest, new.manifest, sections=["summary"]
    )
    facts = diff.sections[0].data["snapshot"]
    assert facts["calculation_version"] == {"from": "1", "to": "2"}


def test_property_10_the_cli_and_the_python_api_run_the_same_refresh(
    tmp_path: Path, server: ServerHandle
) -> None:
    config = tmp_path / "snapkit.toml"
    districts = ", ".join(f'"{d}"' for d in sorted(server.dashboard.districts))
    config.write_text(
        f'[store]\nkind = "file"\npath = "cli-store"\n\n[refresh]\nbackoff = 0.0\n\n'
        f'[oracles.toastmasters]\nbase_url = "{server.base_url}"\ndistricts = [{districts}]\n'
        f'program_year = "2026-2027"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    done = subprocess.run(
        [sys.executable, "-m", "snapkit", "-c", str(config), "refresh", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    cli_id = json.loads(done.stdout)["snapshot_id"]
    api = Project.load(config).refresh()
    assert api.snapshot_id == cli_id
