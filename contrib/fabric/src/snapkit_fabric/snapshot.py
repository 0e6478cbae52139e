"""Content addresses of Fabric reports.

``snapshot_id`` is the SHA-256 of the report's canonical JSON with the capture time left out,
so the same report data gives the same id whenever it was captured (README.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from snapkit_fabric.canonical import CanonicalJSONError, canonical_json
from snapkit_fabric.errors import FabricSnapshotError

__all__ = ["CAPTURE_TIME_KEY", "snapshot_content", "snapshot_id"]

CAPTURE_TIME_KEY: Final[str] = "generated_at"
"""Top-level report key holding the capture time; informational, never hashed."""


def snapshot_content(report: Mapping[str, Any]) -> dict[str, Any]:
    """Return the part of *report* that is hashed: every top-level key but the capture time.

    :param report: a Fabric report.
    :returns: a shallow copy of *report* without :data:`CAPTURE_TIME_KEY`.
    :raises FabricSnapshotError: when *report* is not a mapping.
    """
    if not isinstance(report, Mapping):
        raise FabricSnapshotError(
            f"cannot snapshot {type(report).__name__} {report!r:.60}; "
            "expected a dict decoded from FabricReportExporter.export_json()"
        )
    return {key: value for key, value in report.items() if key != CAPTURE_TIME_KEY}


def snapshot_id(report: Mapping[str, Any]) -> str:
    """Return the content address of *report*: the lowercase hex SHA-256 of its canonical JSON.

    Canonical JSON has sorted keys, separators ``(",", ":")`` and UTF-8 text
    (``ensure_ascii=False``); the top-level ``generated_at`` is excluded.

    :param report: a Fabric report.
    :returns: 64 hexadecimal characters.
    :raises FabricSnapshotError: when *report* is not a mapping or holds a value JSON cannot
        represent exactly.
    """
    content = snapshot_content(report)
    try:
        data = canonical_json(content)
    except CanonicalJSONError as exc:
        raise FabricSnapshotError(f"cannot hash the Fabric report: {exc}") from exc
    return hashlib.sha256(data).hexdigest()
