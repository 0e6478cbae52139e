"""Fabric report snapshots and diffs for snapkit (README.md), independent of the kernel.

- :mod:`snapkit_fabric.report` loads a report from a file or a command's output;
- :mod:`snapkit_fabric.schema` holds the JSON Schema of the report shape the diff reads;
- :mod:`snapkit_fabric.sections` computes each diff section;
- :mod:`snapkit_fabric.diff` composes the sections into one diff;
- :mod:`snapkit_fabric.snapshot` gives a report its content address;
- :mod:`snapkit_fabric.canonical` writes canonical JSON;
- :mod:`snapkit_fabric.errors` holds the typed errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snapkit_fabric.canonical import CanonicalJSONError, canonical_json
    from snapkit_fabric.diff import FabricChanges, FabricDiff, diff_reports
    from snapkit_fabric.errors import FabricDiffError, FabricExportError, FabricSnapshotError
    from snapkit_fabric.report import (
        DEFAULT_COMMAND_TIMEOUT,
        load_report_from_command,
        load_report_from_file,
        parse_report,
    )
    from snapkit_fabric.schema import REPORT_SCHEMA, report_schema_errors, validate_report
    from snapkit_fabric.sections import (
        FLOAT_PRECISION,
        SECTIONS,
        determinism,
        engine_health,
        execution_summary,
        proxy_profile_stability,
    )
    from snapkit_fabric.snapshot import CAPTURE_TIME_KEY, snapshot_content, snapshot_id

__all__ = [
    "CAPTURE_TIME_KEY",
    "DEFAULT_COMMAND_TIMEOUT",
    "FLOAT_PRECISION",
    "REPORT_SCHEMA",
    "SECTIONS",
    "CanonicalJSONError",
    "FabricChanges",
    "FabricDiff",
    "FabricDiffError",
    "FabricExportError",
    "FabricSnapshotError",
    "canonical_json",
    "determinism",
    "diff_reports",
    "engine_health",
    "execution_summary",
    "load_report_from_command",
    "load_report_from_file",
    "parse_report",
    "proxy_profile_stability",
    "report_schema_errors",
    "snapshot_content",
    "snapshot_id",
    "validate_report",
]

__version__ = "0.1.0"

_LAZY = {
    "CanonicalJSONError": "canonical",
    "canonical_json": "canonical",
    "FabricChanges": "diff",
    "FabricDiff": "diff",
    "diff_reports": "diff",
    "FabricDiffError": "errors",
    "FabricExportError": "errors",
    "FabricSnapshotError": "errors",
    "DEFAULT_COMMAND_TIMEOUT": "report",
    "load_report_from_command": "report",
    "load_report_from_file": "report",
    "parse_report": "report",
    "REPORT_SCHEMA": "schema",
    "report_schema_errors": "schema",
    "validate_report": "schema",
    "FLOAT_PRECISION": "sections",
    "SECTIONS": "sections",
    "determinism": "sections",
    "engine_health": "sections",
    "execution_summary": "sections",
    "proxy_profile_stability": "sections",
    "CAPTURE_TIME_KEY": "snapshot",
    "snapshot_content": "snapshot",
    "snapshot_id": "snapshot",
}
"""Where each public name lives: importing the package is cheap (the ``snapkit`` entry point
imports it for :mod:`snapkit_fabric.plugin`); a name loads its module on first use."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
