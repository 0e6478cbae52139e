"""The example snapshot pair and diff from the package's README, reproduced exactly."""

from __future__ import annotations

import json
from typing import Any

from snapkit_fabric import (
    determinism,
    diff_reports,
    engine_health,
    execution_summary,
    load_report_from_file,
    proxy_profile_stability,
    snapshot_id,
)


def test_seed_example_diff_equals_the_seed_changes_with_the_seed_key_order(
    report_from: dict[str, Any], report_to: dict[str, Any], expected_changes: dict[str, Any]
) -> None:
    diff = diff_reports(report_from, report_to)

    # json.dumps without sort_keys compares values and key order at every level.
    assert json.dumps(diff["changes"]) == json.dumps(expected_changes)
    assert list(diff) == ["from_snapshot", "to_snapshot", "changes"]


def test_seed_example_diff_names_both_snapshots_by_their_content_ids(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    diff = diff_reports(report_from, report_to)

    assert diff["from_snapshot"] == snapshot_id(report_from)
    assert diff["to_snapshot"] == snapshot_id(report_to)
    assert diff["from_snapshot"] != diff["to_snapshot"]


def test_seed_example_ten_more_completed_and_two_failures_give_twelve_more_jobs(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    assert execution_summary(report_from, report_to) == {
        "completed_delta": 10,
        "failed_delta": 2,
        "validation_failed_delta": 0,
        "total_jobs_delta": 12,
    }


def test_seed_example_two_new_failures_are_on_ffmpeg(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    engines = engine_health(report_from, report_to)

    assert list(engines) == ["ffmpeg", "resolve"]
    assert engines["ffmpeg"] == {
        "jobs_delta": 10,
        "failures_delta": 2,
        "failure_rate_delta": 0.0143,
    }
    assert engines["resolve"] == {
        "jobs_delta": 2,
        "failures_delta": 0,
        "failure_rate_delta": -0.003,
    }


def test_seed_example_resolve_prores_gains_five_jobs(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    profiles = proxy_profile_stability(report_from, report_to)

    assert list(profiles) == ["proxy_prores_proxy", "resolve_prores"]
    assert profiles["resolve_prores"] == {"jobs_delta": 5, "failure_rate_delta": -0.01}
    assert profiles["proxy_prores_proxy"] == {"jobs_delta": 7, "failure_rate_delta": 0.01}


def test_seed_example_job_042_resolved_and_job_099_new(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    assert determinism(report_from, report_to) == {
        "new_non_deterministic_jobs": ["job-099"],
        "resolved_non_deterministic_jobs": ["job-042"],
    }


def test_seed_example_fixtures_load_as_valid_reports(data_dir: Any) -> None:
    before = load_report_from_file(data_dir / "report_from.json")
    after = load_report_from_file(data_dir / "report_to.json")

    assert before["execution_summary"]["total_jobs"] == 100
    assert after["execution_summary"]["total_jobs"] == 112
