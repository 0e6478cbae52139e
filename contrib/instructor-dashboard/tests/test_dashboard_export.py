"""The ``instructor_dashboard`` export: files, parity, determinism, the transform-only
boundary, and the whole path from the local OneRoster server through the CLI."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from snapkit.cli.main import cli
from snapkit.contracts import Scope
from snapkit.errors import NoSnapshotError
from snapkit.export import (
    SnapshotBundle,
    build_export,
    check_parity,
    datasets_for,
    expected_parity,
    export_snapshot,
)
from snapkit.projection import derive_for_project
from snapkit_oneroster.server import serve

PROFILE = "instructor_dashboard"
FILES = [
    "assessment_scores_distribution.csv",
    "assessment_summary.csv",
    "course_summary_metrics.csv",
    "dashboard_metadata.csv",
    "manifest.json",
    "student_progress.csv",
    "student_support_list.csv",
    "student_support_summary.csv",
]


def bundle_of(project: Any, **filters: Any) -> SnapshotBundle:
    manifest = project.current()
    return SnapshotBundle.from_projection_set(
        manifest, derive_for_project(project, manifest, filters=filters or None)
    )


def test_the_profile_writes_seven_csv_files_and_a_manifest(small_class):
    project, derived = small_class
    data, manifest, status = build_export(
        SnapshotBundle(project.current(), derived.results), PROFILE, project.manager
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert status == "complete"
    assert archive.namelist() == FILES
    assert archive.read("student_support_summary.csv").decode() == (
        "category,student_count,percentage\r\n"
        "excelling,3,25\r\n"
        "on_track,6,50\r\n"
        "struggling,1,8.3333\r\n"
        "not_enough_information,2,16.6667\r\n"
        "inactive,3,25\r\n"
    )
    assert archive.read("student_progress.csv").decode().splitlines() == [
        "content_item,students_completed,completion_rate",
        "Quiz 1,8,66.6667",
        "Homework 1,9,75",
        "Quiz 2,7,58.3333",
        "Test 1,9,75",
        "Project 1,0,0",
    ]
    support_list = archive.read("student_support_list.csv").decode().splitlines()
    assert support_list[0] == (
        "student_id,student_name,progress_pct,proficiency_pct,support_category,inactive"
    )
    assert support_list[1] == "stu-01,Ada Adams,100,94.25,excelling,false"
    assert support_list[9] == "stu-09,Ivan Ito,0,,not_enough_information,true"
    assert archive.read("assessment_summary.csv").decode().splitlines()[1] == (
        "Quiz 1,2025-09-01T08:00:00.000Z,2025-09-05T23:59:00.000Z,8,4,0,80,65.5556,100,29.8556"
    )
    assert len(archive.read("assessment_scores_distribution.csv").decode().splitlines()) == 51
    rows = {r.dataset: r.rows for r in manifest.resources}
    assert rows == {
        "assessment_scores_distribution": 50,
        "assessment_summary": 5,
        "course_summary_metrics": 9,
        "dashboard_metadata": 19,
        "student_progress": 5,
        "student_support_list": 12,
        "student_support_summary": 5,
    }
    written = json.loads(archive.read("manifest.json"))
    assert written["snapshot_id"] == project.current().id
    assert written["profile"] == PROFILE
    assert sorted(written["parity"]) == ["assessments", "progress", "student_support", "summary"]


def test_every_dataset_reread_from_the_zip_gives_its_projections_fingerprint(
    small_class, tmp_path: Path
):
    project, derived = small_class
    bundle = SnapshotBundle(project.current(), derived.results)
    target = tmp_path / "export.zip"
    outcome = export_snapshot(bundle, PROFILE, project.manager, target)
    datasets = datasets_for(project.manager, PROFILE)
    assert outcome.manifest.parity == expected_parity(bundle, datasets)
    check = check_parity(target, project.manager, bundle=bundle)
    assert check.ok
    assert check.projections is not None
    assert check.projections.matched == ("assessments", "progress", "student_support", "summary")


def test_the_same_snapshot_and_profile_give_a_byte_identical_zip(make_small_project):
    first = make_small_project()
    second = make_small_project()  # another store, another capture time, the same data
    first.refresh()
    second.refresh()
    assert first.current().id == second.current().id
    assert first.current().created_at != second.current().created_at
    one, _, _ = build_export(bundle_of(first), PROFILE, first.manager)
    two, _, _ = build_export(bundle_of(second), PROFILE, second.manager)
    again, _, _ = build_export(bundle_of(first), PROFILE, first.manager)
    assert one == two == again


def test_filters_change_the_export_and_its_fingerprints(small_class):
    project, _ = small_class
    base = build_export(bundle_of(project), PROFILE, project.manager)[1]
    moved = build_export(bundle_of(project, completion_threshold=75), PROFILE, project.manager)[1]
    assert moved.parity["summary"] != base.parity["summary"]
    assert moved.parity["assessments"] == base.parity["assessments"]


def test_export_runs_with_every_oracle_and_store_fetch_unreachable(
    guarded_small_class, monkeypatch, tmp_path: Path
):
    project, derived, oracles, failing = guarded_small_class
    bundle = SnapshotBundle(project.current(), derived.results)
    expected, _, _ = build_export(bundle, PROFILE, project.manager)
    failing.update(d.key for d in oracles.descriptors)  # every oracle load now raises
    loads_before = dict(oracles.calls)

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("export reached a fetch path")

    store = project.store
    for name in (
        "get",
        "latest",
        "latest_successful",
        "list",
        "open_part",
        "iter_part_lines",
        "begin",
        "as_of",
        "read_pointer",
    ):
        monkeypatch.setattr(store, name, unreachable)
    outcome = export_snapshot(bundle, PROFILE, project.manager, tmp_path / "x.zip")
    assert (tmp_path / "x.zip").read_bytes() == expected
    assert outcome.status == "complete"
    assert check_parity(tmp_path / "x.zip", project.manager, bundle=bundle).ok
    assert oracles.calls == loads_before


def test_a_failed_required_projection_stops_a_fail_closed_dataset(make_small_project):
    from snapkit.errors import ExportError

    project = make_small_project(filters={"inactivity_days": "a week"})
    project.refresh()
    with pytest.raises(ExportError) as caught:
        build_export(bundle_of(project), PROFILE, project.manager)
    assert caught.value.reason == "required_projection_failed"
    # the first fail_closed dataset in file-name order (the distribution before it is
    # allow_partial_with_manifest)
    assert "'assessment_summary'" in caught.value.message


# -- end to end, from the local OneRoster server -------------------------------------------


@pytest.fixture(scope="module")
def oneroster() -> Any:
    with serve(users=400, seed=1, client_secret="dashboard-secret") as server:
        yield server


def first_gradebook_class(server: Any) -> tuple[str, str]:
    """A class that has line items, and the category of its first line item."""
    district = server.district
    first_item = district.ids("lineItems")[0]
    return (
        district.value("lineItems", first_item, "class"),
        district.value("lineItems", first_item, "category"),
    )


@pytest.fixture
def write_config(write_dashboard_config: Any) -> Any:
    """``write_config(folder, server, context)``: the config of one class's dashboard."""

    def write(folder: Path, server: Any, context: str) -> Path:
        path: Path = write_dashboard_config(
            folder, server, namespace="district-1", secret_env="DASHBOARD_SECRET", context=context
        )
        return path

    return write


def test_refresh_a_class_from_the_oneroster_server_and_export_through_the_cli(
    oneroster, tmp_path: Path, monkeypatch, write_config
):
    monkeypatch.setenv("DASHBOARD_SECRET", "dashboard-secret")
    context, _ = first_gradebook_class(oneroster)
    config = write_config(tmp_path, oneroster, context)
    runner = CliRunner()

    refreshed = runner.invoke(cli, ["-c", str(config), "refresh", "--json"])
    assert refreshed.exit_code == 0, refreshed.output
    assert json.loads(refreshed.output)["status"] == "success"

    projected = runner.invoke(cli, ["-c", str(config), "project", "--json"])
    assert projected.exit_code == 0, projected.output
    results = json.loads(projected.output)["projections"]
    assert {k: r["status"] for k, r in results.items()} == dict.fromkeys(
        ["assessments", "proficiency", "progress", "student_support", "summary"], "ready"
    )
    students = results["student_support"]["value"]["students"]
    roster = {
        oneroster.district.value("enrollments", e, "user")
        for e in oneroster.district.ids("enrollments")
        if oneroster.district.value("enrollments", e, "class") == context
        and oneroster.district.value("enrollments", e, "role") == "student"
    }
    assert set(students["student"]) == roster
    assert results["summary"]["value"]["class_title"] == oneroster.district.value(
        "classes", context, "title"
    )

    target = tmp_path / "dashboard.zip"
    exported = runner.invoke(
        cli,
        ["-c", str(config), "export", "--profile", PROFILE, "-o", str(target), "--check-parity"],
    )
    assert exported.exit_code == 0, exported.output
    assert "parity: ok" in exported.output
    assert zipfile.ZipFile(target).namelist() == FILES
    again = tmp_path / "again.zip"
    runner.invoke(cli, ["-c", str(config), "export", "--profile", PROFILE, "-o", str(again)])
    assert again.read_bytes() == target.read_bytes()

    overridden = runner.invoke(
        cli,
        [
            "-c",
            str(config),
            "project",
            "-p",
            "progress",
            "--filter",
            "completion_threshold=101",
            "--json",
        ],
    )
    value = json.loads(overridden.output)["projections"]["progress"]["value"]
    assert value["completion_threshold"] == 101 and value["students_completed"] == 0
    bad_date = runner.invoke(
        cli, ["-c", str(config), "project", "-p", "summary", "--filter", "as_of=yesterday"]
    )
    assert bad_date.exit_code == 1  # the table, then what is wrong with each failed one
    assert "summary: filter 'as_of' must be an ISO date (YYYY-MM-DD)" in bad_date.output

    refused = runner.invoke(
        cli,
        [
            "-c",
            str(config),
            "export",
            "--profile",
            PROFILE,
            "-o",
            str(tmp_path / "refused.zip"),
            "--filter",
            "inactivity_days=a week",
        ],
    )
    assert refused.exit_code == 1
    assert "export failed (required_projection_failed)" in refused.output
    assert not (tmp_path / "refused.zip").exists()


def test_a_grading_category_scope_narrows_the_line_items(
    oneroster, tmp_path: Path, monkeypatch, write_config
):
    from snapkit.project import Project

    monkeypatch.setenv("DASHBOARD_SECRET", "dashboard-secret")
    context, category = first_gradebook_class(oneroster)
    project = Project.load(write_config(tmp_path, oneroster, context))
    outcome = project.refresh(scope=Scope("district-1", context, category))
    assert outcome.status == "success", outcome.errors
    derived = derive_for_project(project, outcome.manifest)
    items = derived["assessments"].value["line_items"]
    district = oneroster.district
    expected = {
        i
        for i in district.ids("lineItems")
        if district.value("lineItems", i, "class") == context
        and district.value("lineItems", i, "category") == category
    }
    assert {i["line_item"] for i in items} == expected
    assert derived["summary"].value["grading_category_title"] == district.value(
        "categories", category, "title"
    )


def test_a_wrong_secret_fails_the_refresh_and_no_export_is_possible(
    oneroster, tmp_path: Path, monkeypatch, write_config
):
    monkeypatch.setenv("DASHBOARD_SECRET", "wrong")
    context, _ = first_gradebook_class(oneroster)
    config = write_config(tmp_path, oneroster, context)
    result = CliRunner().invoke(cli, ["-c", str(config), "refresh"])
    assert result.exit_code == 1
    exported = CliRunner().invoke(
        cli, ["-c", str(config), "export", "--profile", PROFILE, "-o", str(tmp_path / "x.zip")]
    )
    assert isinstance(exported.exception, NoSnapshotError)  # the CLI exits 3
    assert not (tmp_path / "x.zip").exists()
