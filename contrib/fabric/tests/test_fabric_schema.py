"""The report JSON Schema: permissive where the seed is silent, strict on what the diff reads."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fabric_strategies import reports
from hypothesis import given
from jsonschema import Draft202012Validator

from snapkit_fabric import (
    REPORT_SCHEMA,
    FabricDiffError,
    FabricSnapshotError,
    diff_reports,
    report_schema_errors,
    validate_report,
)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(REPORT_SCHEMA)


def test_seed_example_reports_match_the_schema(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    assert report_schema_errors(report_from) == []
    assert report_schema_errors(report_to) == []


def test_empty_report_matches_the_schema() -> None:
    validate_report({})


def test_extra_keys_at_every_level_match_the_schema() -> None:
    validate_report(
        {
            "schema": 2,
            "execution_summary": {"completed": 1, "queued": 4},
            "engine_health": {"ffmpeg": {"jobs": 1, "p95": 3.5}},
            "proxy_profile_stability": {"p": {"jobs": 1, "owner": "ops"}},
            "determinism": {"non_deterministic_jobs": [], "window": "7d"},
        }
    )


@given(reports)
def test_generated_reports_match_the_schema(report: dict[str, Any]) -> None:
    assert report_schema_errors(report) == []


MALFORMED = [
    {"execution_summary": []},
    {"execution_summary": None},
    {"execution_summary": {"total_jobs": 1.5}},
    {"execution_summary": {"failed": True}},
    {"engine_health": []},
    {"engine_health": {"ffmpeg": None}},
    {"engine_health": {"ffmpeg": {"failures": "2"}}},
    {"engine_health": {"ffmpeg": {"failure_rate": None}}},
    {"proxy_profile_stability": {"p": {"jobs": [1]}}},
    {"determinism": {"non_deterministic_jobs": "job-1"}},
    {"determinism": {"non_deterministic_jobs": [None]}},
]


@pytest.mark.parametrize("report", MALFORMED)
def test_schema_and_sections_reject_the_same_malformed_reports(report: dict[str, Any]) -> None:
    with pytest.raises(FabricSnapshotError, match=r"\$\."):
        validate_report(report)
    with pytest.raises(FabricDiffError):
        diff_reports(report, {})


def test_non_finite_rate_is_rejected_by_the_diff() -> None:
    with pytest.raises(FabricDiffError, match="NaN"):
        diff_reports({"engine_health": {"ffmpeg": {"failure_rate": math.nan}}}, {})


def test_validation_error_names_the_source() -> None:
    with pytest.raises(FabricSnapshotError, match="nightly export is not a valid Fabric report"):
        validate_report([], source="nightly export")
