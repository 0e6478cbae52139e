"""Behaviour of each diff section: deltas, missing data, rounding, ordering, errors."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from snapkit_fabric import (
    SECTIONS,
    FabricDiffError,
    FabricExportError,
    canonical_json,
    determinism,
    diff_reports,
    engine_health,
    execution_summary,
    proxy_profile_stability,
)

ZERO_SUMMARY = {
    "completed_delta": 0,
    "failed_delta": 0,
    "validation_failed_delta": 0,
    "total_jobs_delta": 0,
}


def test_sections_are_listed_in_the_seed_order() -> None:
    assert list(SECTIONS) == [
        "execution_summary",
        "engine_health",
        "proxy_profile_stability",
        "determinism",
    ]


def test_empty_reports_give_zero_summary_and_empty_sections() -> None:
    assert execution_summary({}, {}) == ZERO_SUMMARY
    assert engine_health({}, {}) == {}
    assert proxy_profile_stability({}, {}) == {}
    assert determinism({}, {}) == {
        "new_non_deterministic_jobs": [],
        "resolved_non_deterministic_jobs": [],
    }


def test_empty_to_populated_gives_the_populated_values_as_deltas(
    report_to: dict[str, Any],
) -> None:
    changes = diff_reports({}, report_to)["changes"]

    assert changes["execution_summary"] == {
        "completed_delta": 100,
        "failed_delta": 10,
        "validation_failed_delta": 2,
        "total_jobs_delta": 112,
    }
    assert changes["engine_health"]["ffmpeg"] == {
        "jobs_delta": 80,
        "failures_delta": 9,
        "failure_rate_delta": 0.1143,
    }
    assert changes["determinism"]["new_non_deterministic_jobs"] == ["job-099"]


def test_populated_to_empty_gives_negated_values_as_deltas(report_from: dict[str, Any]) -> None:
    changes = diff_reports(report_from, {})["changes"]

    assert changes["execution_summary"]["total_jobs_delta"] == -100
    assert changes["proxy_profile_stability"]["resolve_prores"] == {
        "jobs_delta": -50,
        "failure_rate_delta": -0.04,
    }
    assert changes["determinism"]["resolved_non_deterministic_jobs"] == ["job-042"]


def test_profile_only_in_to_is_computed_from_zero() -> None:
    after = {"proxy_profile_stability": {"h264_low": {"jobs": 3, "failure_rate": 0.25}}}

    assert proxy_profile_stability({}, after) == {
        "h264_low": {"jobs_delta": 3, "failure_rate_delta": 0.25}
    }


def test_profile_only_in_from_is_computed_to_zero() -> None:
    before = {"proxy_profile_stability": {"h264_low": {"jobs": 3, "failure_rate": 0.25}}}

    assert proxy_profile_stability(before, {"proxy_profile_stability": {}}) == {
        "h264_low": {"jobs_delta": -3, "failure_rate_delta": -0.25}
    }


def test_engine_missing_on_one_side_counts_as_zero() -> None:
    before = {"engine_health": {"ffmpeg": {"jobs": 4, "failures": 1, "failure_rate": 0.25}}}
    after = {"engine_health": {"resolve": {"jobs": 2, "failures": 0, "failure_rate": 0.0}}}

    assert engine_health(before, after) == {
        "ffmpeg": {"jobs_delta": -4, "failures_delta": -1, "failure_rate_delta": -0.25},
        "resolve": {"jobs_delta": 2, "failures_delta": 0, "failure_rate_delta": 0.0},
    }


def test_field_missing_on_one_side_counts_as_zero() -> None:
    before = {
        "execution_summary": {"completed": 5},
        "engine_health": {"ffmpeg": {"jobs": 4}},
    }
    after = {
        "execution_summary": {"failed": 1},
        "engine_health": {"ffmpeg": {"failure_rate": 0.5}},
    }

    assert execution_summary(before, after) == {
        "completed_delta": -5,
        "failed_delta": 1,
        "validation_failed_delta": 0,
        "total_jobs_delta": 0,
    }
    assert engine_health(before, after) == {
        "ffmpeg": {"jobs_delta": -4, "failures_delta": 0, "failure_rate_delta": 0.5}
    }


def test_engine_and_profile_keys_are_sorted_whatever_the_input_order() -> None:
    before = {"engine_health": {"zeta": {}, "alpha": {}}, "proxy_profile_stability": {"b": {}}}
    after = {"engine_health": {"mid": {}}, "proxy_profile_stability": {"c": {}, "a": {}}}

    assert list(engine_health(before, after)) == ["alpha", "mid", "zeta"]
    assert list(proxy_profile_stability(before, after)) == ["a", "b", "c"]


def test_job_id_lists_are_sorted_and_free_of_duplicates() -> None:
    before = {"determinism": {"non_deterministic_jobs": ["job-9", "job-1", "job-5", "job-1"]}}
    after = {"determinism": {"non_deterministic_jobs": ["job-7", "job-5", "job-3", "job-7"]}}

    assert determinism(before, after) == {
        "new_non_deterministic_jobs": ["job-3", "job-7"],
        "resolved_non_deterministic_jobs": ["job-1", "job-9"],
    }


def test_determinism_count_field_is_not_diffed() -> None:
    before = {"determinism": {"non_deterministic_jobs": ["a"], "count": 1}}
    after = {"determinism": {"non_deterministic_jobs": ["a"], "count": 7}}

    assert determinism(before, after) == {
        "new_non_deterministic_jobs": [],
        "resolved_non_deterministic_jobs": [],
    }


def _rate_report(rate: float) -> dict[str, Any]:
    return {"engine_health": {"ffmpeg": {"failure_rate": rate}}}


def _rate_delta(before: float, after: float) -> float:
    delta = engine_health(_rate_report(before), _rate_report(after))
    return delta["ffmpeg"]["failure_rate_delta"]


def test_float_noise_of_point_one_plus_point_two_rounds_to_zero() -> None:
    assert 0.1 + 0.2 != 0.3
    assert _rate_delta(0.3, 0.1 + 0.2) == 0.0
    assert _rate_delta(0.1, 0.1 + 0.2) == 0.2
    assert _rate_delta(0.1 + 0.2, 0.1) == -0.2


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # Rounding each side first would give 0.0002 here, and 0.0 below.
        (0.12344, 0.12356, 0.0001),
        (0.00006, 0.00014, 0.0001),
    ],
)
def test_float_delta_is_rounded_once_on_the_unrounded_difference(
    before: float, after: float, expected: float
) -> None:
    assert round(after, 4) - round(before, 4) != expected
    assert _rate_delta(before, after) == expected


def test_float_delta_has_four_decimal_places() -> None:
    assert _rate_delta(0.0, 1 / 3) == 0.3333
    assert _rate_delta(1 / 3, 0.0) == -0.3333


def test_negative_zero_delta_is_written_as_zero() -> None:
    delta = _rate_delta(0.00001, 0.0)

    assert delta == 0.0
    assert math.copysign(1.0, delta) == 1.0
    assert canonical_json(delta) == b"0.0"


def test_integer_rates_give_float_deltas() -> None:
    delta = _rate_delta(0, 1)

    assert isinstance(delta, float)
    assert delta == 1.0


def test_integral_float_counts_give_integer_deltas() -> None:
    delta = execution_summary({"execution_summary": {"completed": 3.0}}, {})

    assert delta["completed_delta"] == -3
    assert isinstance(delta["completed_delta"], int)


def test_output_has_no_interpretation_words(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    text = canonical_json(diff_reports(report_from, report_to)).decode().lower()

    for word in ("good", "bad", "improved", "degraded", "better", "worse", "alert"):
        assert word not in text


def test_diff_does_not_modify_its_inputs(
    report_from: dict[str, Any], report_to: dict[str, Any]
) -> None:
    before, after = copy.deepcopy(report_from), copy.deepcopy(report_to)

    diff_reports(report_from, report_to)

    assert report_from == before
    assert report_to == after
    assert json.dumps(report_from) == json.dumps(before)


def test_extra_keys_in_reports_are_ignored() -> None:
    before = {"engine_health": {"ffmpeg": {"jobs": 1, "p95_seconds": 12.5}}, "extra": [1, 2]}
    after = {"engine_health": {"ffmpeg": {"jobs": 2, "p95_seconds": 14.0}}}

    assert engine_health(before, after) == {
        "ffmpeg": {"jobs_delta": 1, "failures_delta": 0, "failure_rate_delta": 0.0}
    }


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"execution_summary": []}, "execution_summary must be an object"),
        ({"execution_summary": None}, "execution_summary must be an object"),
        ({"execution_summary": {"completed": "10"}}, "execution_summary.completed"),
        ({"execution_summary": {"failed": 1.5}}, "execution_summary.failed"),
        ({"execution_summary": {"failed": True}}, "execution_summary.failed"),
        ({"engine_health": {"ffmpeg": 3}}, "engine_health.ffmpeg must be an object"),
        ({"engine_health": {"ffmpeg": {"jobs": None}}}, "engine_health.ffmpeg.jobs"),
        ({"engine_health": {"ffmpeg": {"failure_rate": "0.1"}}}, "failure_rate"),
        ({"engine_health": {"ffmpeg": {"failure_rate": math.nan}}}, "finite"),
        ({"engine_health": {"ffmpeg": {"failure_rate": math.inf}}}, "finite"),
        ({"proxy_profile_stability": {"p": {"failure_rate": False}}}, "failure_rate"),
        ({"determinism": {"non_deterministic_jobs": "job-1"}}, "list of job ids"),
        ({"determinism": {"non_deterministic_jobs": [42]}}, "non_deterministic_jobs[0]"),
    ],
)
@pytest.mark.parametrize("side", ["from", "to"])
def test_malformed_report_raises_diff_error_naming_side_and_path(
    report: dict[str, Any], message: str, side: str
) -> None:
    pair = (report, {}) if side == "from" else ({}, report)

    errors = []
    for section in SECTIONS.values():
        try:
            section(*pair)
        except FabricDiffError as exc:
            errors.append(str(exc))
    assert len(errors) == 1
    assert message in errors[0]
    assert errors[0].startswith(f"{side} report")
    with pytest.raises(FabricDiffError):
        diff_reports(*pair)


@pytest.mark.parametrize("bad", [None, [], "report", 3])
def test_report_that_is_not_a_dict_raises_diff_error(bad: Any) -> None:
    with pytest.raises(FabricDiffError, match="from report"):
        diff_reports(bad, {})
    with pytest.raises(FabricDiffError, match="to report"):
        diff_reports({}, bad)
    with pytest.raises(FabricDiffError, match="to report"):
        execution_summary({}, bad)


def test_rate_change_too_large_for_a_float_raises_diff_error() -> None:
    with pytest.raises(FabricDiffError, match="too large"):
        _rate_delta(-1.7e308, 1.7e308)


def test_diff_error_is_a_fabric_export_error() -> None:
    with pytest.raises(FabricExportError):
        diff_reports(None, {})  # type: ignore[arg-type]
