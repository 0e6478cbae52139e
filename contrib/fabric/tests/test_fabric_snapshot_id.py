"""Content addresses of reports: canonical JSON, SHA-256, capture time excluded."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from snapkit_fabric import (
    CanonicalJSONError,
    FabricSnapshotError,
    canonical_json,
    snapshot_content,
    snapshot_id,
)


def test_snapshot_id_is_sha256_of_canonical_json_without_generated_at() -> None:
    report = {"generated_at": "2024-12-29T10:30:00+00:00", "b": [1, 2.5], "a": {"é": None}}
    canonical = '{"a":{"é":null},"b":[1,2.5]}'.encode()

    assert canonical_json(snapshot_content(report)) == canonical
    assert snapshot_id(report) == hashlib.sha256(canonical).hexdigest()


def test_same_data_captured_at_different_times_has_the_same_id(
    report_from: dict[str, Any],
) -> None:
    later = {**report_from, "generated_at": "2025-06-01T00:00:00+00:00"}
    untimed = {k: v for k, v in report_from.items() if k != "generated_at"}

    assert snapshot_id(later) == snapshot_id(report_from) == snapshot_id(untimed)


def test_nested_generated_at_is_content_and_changes_the_id() -> None:
    assert snapshot_id({"x": {"generated_at": "a"}}) != snapshot_id({"x": {"generated_at": "b"}})


def test_any_change_of_content_changes_the_id(report_from: dict[str, Any]) -> None:
    changed = {**report_from, "execution_summary": {**report_from["execution_summary"]}}
    changed["execution_summary"]["completed"] += 1

    assert snapshot_id(changed) != snapshot_id(report_from)


def test_snapshot_id_is_64_lowercase_hex_characters(report_from: dict[str, Any]) -> None:
    identifier = snapshot_id(report_from)

    assert len(identifier) == 64
    assert identifier == identifier.lower()
    int(identifier, 16)


def test_canonical_json_keeps_non_ascii_text_as_utf8() -> None:
    assert canonical_json({"name": "prorés"}) == '{"name":"prorés"}'.encode()


def test_snapshot_content_does_not_modify_the_report() -> None:
    report = {"generated_at": "t", "a": 1}

    snapshot_content(report)

    assert report == {"generated_at": "t", "a": 1}


@pytest.mark.parametrize(
    "report",
    [
        {"x": float("nan")},
        {"x": float("inf")},
        {"x": (1, 2)},
        {"x": {1: "integer key"}},
        {"x": {"a", "set"}},
        {"x": object()},
    ],
)
def test_values_json_cannot_represent_exactly_raise_snapshot_error(report: Any) -> None:
    with pytest.raises(FabricSnapshotError, match=r"cannot hash.*\$\.x"):
        snapshot_id(report)


@pytest.mark.parametrize("report", [None, [], "report"])
def test_snapshot_of_a_non_dict_raises_snapshot_error(report: Any) -> None:
    with pytest.raises(FabricSnapshotError, match="expected a dict"):
        snapshot_id(report)


def test_canonical_json_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        canonical_json([float("nan")])
    assert issubclass(CanonicalJSONError, ValueError)
