"""The whole Fabric diff: both snapshot ids and the four sections in the seed's order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from snapkit_fabric.errors import FabricDiffError, FabricSnapshotError
from snapkit_fabric.schema import report_schema_errors
from snapkit_fabric.sections import (
    SECTIONS,
    DeterminismChanges,
    EngineDelta,
    ExecutionSummaryDelta,
    ProfileDelta,
)
from snapkit_fabric.snapshot import snapshot_id

__all__ = ["FabricChanges", "FabricDiff", "diff_reports"]


class FabricChanges(TypedDict):
    """The ``changes`` of a :class:`FabricDiff`, one entry per section."""

    execution_summary: ExecutionSummaryDelta
    engine_health: dict[str, EngineDelta]
    proxy_profile_stability: dict[str, ProfileDelta]
    determinism: DeterminismChanges


class FabricDiff(TypedDict):
    """The JSON form of a diff between two Fabric reports (README.md)."""

    from_snapshot: str
    to_snapshot: str
    changes: FabricChanges


def diff_reports(from_report: Mapping[str, Any], to_report: Mapping[str, Any]) -> FabricDiff:
    """Compute the diff between two Fabric reports.

    Both reports are checked against :data:`snapkit_fabric.schema.REPORT_SCHEMA` first, and
    neither is modified. The same pair always gives equal output, whatever the key order of
    the inputs.

    :param from_report: the earlier report.
    :param to_report: the later report.
    :returns: ``{"from_snapshot": id, "to_snapshot": id, "changes": {section: ...}}`` with
        the sections in the seed's order (see :data:`snapkit_fabric.sections.SECTIONS`).
    :raises FabricDiffError: when either report is missing or malformed.
    """
    ids = []
    for side, report in (("from", from_report), ("to", to_report)):
        if report is None:
            raise FabricDiffError(f"the {side} report is None; pass a Fabric report dict")
        problems = report_schema_errors(report)
        if problems:
            raise FabricDiffError(
                f"the {side} report is not a valid Fabric report: " + "; ".join(problems)
            )
        try:
            ids.append(snapshot_id(report))
        except FabricSnapshotError as exc:
            raise FabricDiffError(f"the {side} report cannot be identified: {exc}") from exc
    changes: Any = {name: section(from_report, to_report) for name, section in SECTIONS.items()}
    return {"from_snapshot": ids[0], "to_snapshot": ids[1], "changes": changes}
