"""Properties of the Fabric diff that hold for every pair of reports."""

from __future__ import annotations

import copy
import math
import random
from typing import Any

from fabric_strategies import reorder_keys, reports
from hypothesis import given
from hypothesis import strategies as st

from snapkit_fabric import (
    FLOAT_PRECISION,
    canonical_json,
    diff_reports,
    snapshot_id,
)

SEED_FIELDS = {
    "execution_summary": [
        "completed_delta",
        "failed_delta",
        "validation_failed_delta",
        "total_jobs_delta",
    ],
    "engine": ["jobs_delta", "failures_delta", "failure_rate_delta"],
    "profile": ["jobs_delta", "failure_rate_delta"],
    "determinism": ["new_non_deterministic_jobs", "resolved_non_deterministic_jobs"],
}


def negated(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes of the reversed pair: numbers negated, new and resolved swapped."""

    def negate_numbers(entry: dict[str, Any]) -> dict[str, Any]:
        # 0 - x rather than -x, so that zero stays 0.0 and never becomes -0.0.
        return {field: 0 - value for field, value in entry.items()}

    return {
        "execution_summary": negate_numbers(changes["execution_summary"]),
        "engine_health": {k: negate_numbers(v) for k, v in changes["engine_health"].items()},
        "proxy_profile_stability": {
            k: negate_numbers(v) for k, v in changes["proxy_profile_stability"].items()
        },
        "determinism": {
            "new_non_deterministic_jobs": changes["determinism"]["resolved_non_deterministic_jobs"],
            "resolved_non_deterministic_jobs": changes["determinism"]["new_non_deterministic_jobs"],
        },
    }


def float_deltas(changes: dict[str, Any]) -> list[float]:
    entries = [*changes["engine_health"].values(), *changes["proxy_profile_stability"].values()]
    return [entry["failure_rate_delta"] for entry in entries]


@given(reports)
def test_diff_of_a_report_with_itself_has_no_changes(report: dict[str, Any]) -> None:
    diff = diff_reports(report, copy.deepcopy(report))
    changes = diff["changes"]

    assert diff["from_snapshot"] == diff["to_snapshot"]
    assert set(changes["execution_summary"].values()) == {0}
    for entry in [*changes["engine_health"].values(), *changes["proxy_profile_stability"].values()]:
        assert set(entry.values()) == {0}
    assert changes["determinism"] == {
        "new_non_deterministic_jobs": [],
        "resolved_non_deterministic_jobs": [],
    }


@given(reports, reports)
def test_reversed_pair_negates_deltas_and_swaps_new_and_resolved(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    forward = diff_reports(a, b)
    backward = diff_reports(b, a)

    assert backward["from_snapshot"] == forward["to_snapshot"]
    assert backward["to_snapshot"] == forward["from_snapshot"]
    assert backward["changes"] == negated(forward["changes"])
    assert canonical_json(backward["changes"]) == canonical_json(negated(forward["changes"]))


@given(reports, reports, st.randoms(use_true_random=False))
def test_output_bytes_do_not_depend_on_input_key_order(
    a: dict[str, Any], b: dict[str, Any], rnd: random.Random
) -> None:
    reordered_a, reordered_b = reorder_keys(a, rnd), reorder_keys(b, rnd)

    assert snapshot_id(reordered_a) == snapshot_id(a)
    assert canonical_json(diff_reports(reordered_a, reordered_b)) == canonical_json(
        diff_reports(a, b)
    )


@given(reports, reports, st.randoms(use_true_random=False))
def test_section_output_does_not_depend_on_job_id_list_order(
    a: dict[str, Any], b: dict[str, Any], rnd: random.Random
) -> None:
    shuffled_b = copy.deepcopy(b)
    rnd.shuffle(shuffled_b.get("determinism", {}).get("non_deterministic_jobs", []))

    assert diff_reports(a, shuffled_b)["changes"] == diff_reports(a, b)["changes"]


@given(reports, reports)
def test_output_has_exactly_the_seed_fields_in_the_seed_order(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    diff = diff_reports(a, b)
    changes = diff["changes"]

    assert list(diff) == ["from_snapshot", "to_snapshot", "changes"]
    assert list(changes) == [
        "execution_summary",
        "engine_health",
        "proxy_profile_stability",
        "determinism",
    ]
    assert list(changes["execution_summary"]) == SEED_FIELDS["execution_summary"]
    for entry in changes["engine_health"].values():
        assert list(entry) == SEED_FIELDS["engine"]
    for entry in changes["proxy_profile_stability"].values():
        assert list(entry) == SEED_FIELDS["profile"]
    assert list(changes["determinism"]) == SEED_FIELDS["determinism"]


@given(reports, reports)
def test_keys_and_job_ids_are_sorted_and_cover_both_sides(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    changes = diff_reports(a, b)["changes"]
    for section in ("engine_health", "proxy_profile_stability"):
        expected = sorted(a.get(section, {}).keys() | b.get(section, {}).keys())
        assert list(changes[section]) == expected
    for jobs in changes["determinism"].values():
        assert jobs == sorted(set(jobs))


@given(reports, reports)
def test_float_deltas_are_rounded_once_and_never_negative_zero(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    changes = diff_reports(a, b)["changes"]

    for delta in float_deltas(changes):
        assert isinstance(delta, float)
        assert round(delta, FLOAT_PRECISION) == delta
        if delta == 0:
            assert math.copysign(1.0, delta) == 1.0
    for name, entry in changes["engine_health"].items():
        before = a.get("engine_health", {}).get(name, {}).get("failure_rate", 0)
        after = b.get("engine_health", {}).get(name, {}).get("failure_rate", 0)
        assert entry["failure_rate_delta"] == round(after - before, FLOAT_PRECISION)


@given(reports, reports)
def test_integer_deltas_are_to_minus_from_with_missing_counted_as_zero(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    changes = diff_reports(a, b)["changes"]

    summary_a = a.get("execution_summary", {})
    summary_b = b.get("execution_summary", {})
    for field in ("completed", "failed", "validation_failed", "total_jobs"):
        assert changes["execution_summary"][f"{field}_delta"] == summary_b.get(
            field, 0
        ) - summary_a.get(field, 0)
    for name, entry in changes["proxy_profile_stability"].items():
        before = a.get("proxy_profile_stability", {}).get(name, {}).get("jobs", 0)
        after = b.get("proxy_profile_stability", {}).get(name, {}).get("jobs", 0)
        assert entry["jobs_delta"] == after - before


@given(reports, reports)
def test_diff_is_identical_when_computed_twice_and_leaves_inputs_untouched(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    a_copy, b_copy = copy.deepcopy(a), copy.deepcopy(b)

    first = canonical_json(diff_reports(a, b))
    second = canonical_json(diff_reports(a, b))

    assert first == second
    assert (a, b) == (a_copy, b_copy)
