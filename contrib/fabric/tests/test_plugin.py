"""The Fabric plugin end to end through snapkit: oracle, refresh, diff engine, CLI, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from snapkit.contracts import Scope, SnapshotManifest
from snapkit.diff import MemoryParts, compute_diff, diff_bytes
from snapkit.errors import DiffError, OracleError
from snapkit.manager import PluginManager, PluginSelection
from snapkit.testing import assert_plugin_installed
from snapkit.testing.engine import make_project
from snapkit_fabric import FabricDiffError, FabricSnapshotError
from snapkit_fabric import plugin as fabric
from snapkit_fabric.plugin import FabricReportOracle, fabric_diff, report_of

SECTIONS = ["execution_summary", "engine_health", "proxy_profile_stability", "determinism"]


@pytest.fixture
def manager() -> PluginManager:
    manager = PluginManager(PluginSelection(autoload=False))
    assert manager.register(fabric, name="fabric")
    return manager


def snap(report: Any | None) -> SnapshotManifest:
    payloads = {} if report is None else {"fabric_report": report}
    return SnapshotManifest(Scope("fabric"), "1", "1", "success", payloads=payloads)


def test_the_plugin_is_installed_through_its_entry_point() -> None:
    assert_plugin_installed("fabric")


def test_seed_example_through_the_diff_engine(
    manager: PluginManager, report_from: Any, report_to: Any, expected_changes: Any
) -> None:
    a, b = snap(report_from), snap(report_to)
    diff = compute_diff(manager, MemoryParts(), a, b)
    assert [s.name for s in diff.sections] == SECTIONS  # the seed's order
    seed = fabric_diff(diff)
    assert seed == {"from_snapshot": a.id, "to_snapshot": b.id, "changes": expected_changes}
    # the seed's structure and ordering, key for key
    assert json.dumps(seed["changes"]) == json.dumps(expected_changes)
    assert list(seed) == ["from_snapshot", "to_snapshot", "changes"]
    counts = {s.name: (s.added, s.removed, s.changed) for s in diff.sections}
    assert counts == {
        "execution_summary": (0, 0, 3),
        "engine_health": (0, 0, 2),
        "proxy_profile_stability": (0, 0, 2),
        "determinism": (1, 1, 0),
    }


def test_the_seed_describes_the_example_changes(report_from: Any, report_to: Any) -> None:
    before, after = report_from["execution_summary"], report_to["execution_summary"]
    assert after["completed"] - before["completed"] == 10
    engines = report_from["engine_health"], report_to["engine_health"]
    assert engines[1]["ffmpeg"]["failures"] - engines[0]["ffmpeg"]["failures"] == 2
    profiles = report_from["proxy_profile_stability"], report_to["proxy_profile_stability"]
    assert profiles[1]["resolve_prores"]["jobs"] - profiles[0]["resolve_prores"]["jobs"] == 5
    assert report_from["determinism"]["non_deterministic_jobs"] == ["job-042"]
    assert report_to["determinism"]["non_deterministic_jobs"] == ["job-099"]


def test_the_diff_is_deterministic_and_never_modifies_reports(
    manager: PluginManager, report_from: Any, report_to: Any
) -> None:
    frozen = json.dumps(report_from), json.dumps(report_to)
    reordered = json.loads(json.dumps(report_to), object_pairs_hook=lambda p: dict(p[::-1]))
    first = diff_bytes(compute_diff(manager, MemoryParts(), snap(report_from), snap(report_to)))
    second = diff_bytes(compute_diff(manager, MemoryParts(), snap(report_from), snap(reordered)))
    assert first == second
    assert (json.dumps(report_from), json.dumps(report_to)) == frozen


def test_missing_data_counts_as_zero_and_lists_are_sorted(manager: PluginManager) -> None:
    a = snap(
        {
            "engine_health": {"resolve": {"jobs": 3, "failures": 1, "failure_rate": 0.3333}},
            "determinism": {"non_deterministic_jobs": ["j-2", "j-1"]},
        }
    )
    b = snap(
        {
            "engine_health": {"ffmpeg": {"jobs": 2, "failures": 0, "failure_rate": 0.0}},
            "proxy_profile_stability": {"p": {"jobs": 1, "failure_rate": 0.5}},
        }
    )
    sections = {s.name: s for s in compute_diff(manager, MemoryParts(), a, b).sections}
    engines = sections["engine_health"]
    assert list(engines.data) == ["ffmpeg", "resolve"]
    assert engines.data["resolve"] == {
        "jobs_delta": -3,
        "failures_delta": -1,
        "failure_rate_delta": -0.3333,
    }
    assert (engines.added, engines.removed) == (1, 1)
    assert sections["execution_summary"].data == {
        "completed_delta": 0,
        "failed_delta": 0,
        "validation_failed_delta": 0,
        "total_jobs_delta": 0,
    }
    assert sections["determinism"].data["resolved_non_deterministic_jobs"] == ["j-1", "j-2"]
    assert sections["proxy_profile_stability"].data == {
        "p": {"jobs_delta": 1, "failure_rate_delta": 0.5}
    }


def test_max_items_truncates_job_lists(manager: PluginManager) -> None:
    a = snap({"determinism": {"non_deterministic_jobs": []}})
    b = snap({"determinism": {"non_deterministic_jobs": [f"job-{i:03}" for i in range(9)]}})
    diff = compute_diff(manager, MemoryParts(), a, b, sections=["determinism"], max_items=2)
    (section,) = diff.sections
    assert section.added == 9 and section.truncated
    assert section.data["new_non_deterministic_jobs"] == ["job-000", "job-001"]


def test_sections_apply_only_when_both_snapshots_carry_a_report(
    manager: PluginManager, report_from: Any
) -> None:
    diff = compute_diff(manager, MemoryParts(), snap(report_from), snap(None))
    assert diff.sections == ()
    with pytest.raises(DiffError, match="does not apply"):
        compute_diff(
            manager, MemoryParts(), snap(report_from), snap(None), sections=["determinism"]
        )


def test_missing_snapshots_and_reports_raise_typed_errors(report_from: Any) -> None:
    with pytest.raises(FabricDiffError, match="snapshot b is missing"):
        report_of(None, "b")
    with pytest.raises(FabricDiffError, match="carries no Fabric report") as info:
        report_of(snap(None))
    assert isinstance(info.value, DiffError)  # the CLI prints it in one line
    with pytest.raises(FabricDiffError):
        fabric_diff(None)
    with pytest.raises(FabricDiffError, match="no 'execution_summary' section"):
        fabric_diff(
            compute_diff(
                PluginManager(PluginSelection(autoload=False)),
                MemoryParts(),
                snap(report_from),
                snap(report_from),
            )
        )


def test_a_malformed_report_is_a_typed_diff_error(manager: PluginManager) -> None:
    a = snap({"execution_summary": {"completed": "ten"}})
    with pytest.raises(FabricDiffError, match=r"execution_summary\.completed") as info:
        compute_diff(manager, MemoryParts(), a, snap({}))
    assert isinstance(info.value, DiffError)


def test_the_oracle_reads_a_file_or_a_command(tmp_path: Path, data_dir: Path) -> None:
    report = data_dir / "report_from.json"
    assert (
        FabricReportOracle({"path": "report_from.json"}, data_dir).load(None)["execution_summary"][
            "total_jobs"
        ]
        == 100
    )
    command = [sys.executable, "-c", f"print(open({str(report)!r}).read())"]
    loaded = FabricReportOracle({"command": command, "timeout": 30}).load(None)
    assert loaded == json.loads(report.read_text())
    with pytest.raises(FabricSnapshotError) as info:
        FabricReportOracle({"path": str(tmp_path / "missing.json")}).load(None)
    assert isinstance(info.value, OracleError)
    with pytest.raises(FabricSnapshotError, match="exactly one"):
        FabricReportOracle({})


def test_refresh_and_diff_the_seed_reports_in_a_file_store(
    tmp_path: Path, data_dir: Path, expected_changes: Any
) -> None:
    shutil.copy(data_dir / "report_from.json", tmp_path / "report.json")
    project = make_project(
        tmp_path, fabric, config={"oracles": {"fabric_report": {"path": "report.json"}}}
    )
    first = project.refresh()
    assert first.status == "success"
    assert first.manifest.payloads["fabric_report"]["execution_summary"]["completed"] == 90
    assert first.manifest.parts == ()  # small payload: inline in the manifest
    shutil.copy(data_dir / "report_to.json", tmp_path / "report.json")
    assert project.refresh().status == "success"
    from snapkit.diff import diff_project

    diff = diff_project(project, "current~1", "current")
    assert fabric_diff(diff)["changes"] == expected_changes


def test_snapkit_diff_cli_on_the_seed_reports(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "snapkit.toml").write_text(
        '[store]\nkind = "file"\npath = "data"\n[scope]\nnamespace = "fabric"\n'
        '[plugins]\nenabled = ["file-store", "fabric"]\n'
        '[oracles.fabric_report]\npath = "report.json"\n'
    )
    snapkit = Path(sys.executable).with_name("snapkit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(snapkit), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    for name in ("report_from.json", "report_to.json"):
        shutil.copy(data_dir / name, tmp_path / "report.json")
        assert run("refresh").returncode == 0
    text = run("diff", "current~1", "current")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:5]] == SECTIONS
    assert "new_non_deterministic_jobs: job-099" in text.stdout
    assert "resolved_non_deterministic_jobs: job-042" in text.stdout
    data = json.loads(run("diff", "current~1", "current", "--json").stdout)
    assert data["sections"][0]["data"]["completed_delta"] == 10
    missing = run("diff", "current~2", "current")
    assert missing.returncode == 3
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("Error: ")
