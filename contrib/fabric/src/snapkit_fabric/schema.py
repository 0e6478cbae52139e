"""JSON Schema of the Fabric report shape that the diff sections rely on.

The schema describes ``FabricReportExporter.export_json()`` output as README.md shows it, and
only the parts the diff reads. It is permissive wherever the seed is silent: every section and
every field is optional (missing data counts as zero), and extra keys are allowed at every
level (``failure_summary``, ``generated_at`` and anything else pass through untouched).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from snapkit_fabric.errors import FabricSnapshotError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = ["REPORT_SCHEMA", "report_schema_errors", "validate_report"]

_COUNT: Final = {"type": "integer"}
_RATE: Final = {"type": "number"}

REPORT_SCHEMA: Final[Mapping[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:snapkit-fabric:report:1",
    "title": "Fabric report (FabricReportExporter.export_json output)",
    "type": "object",
    "properties": {
        "execution_summary": {
            "type": "object",
            "properties": {
                "total_jobs": _COUNT,
                "completed": _COUNT,
                "failed": _COUNT,
                "validation_failed": _COUNT,
            },
        },
        "engine_health": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"jobs": _COUNT, "failures": _COUNT, "failure_rate": _RATE},
            },
        },
        "proxy_profile_stability": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"jobs": _COUNT, "failure_rate": _RATE},
            },
        },
        "determinism": {
            "type": "object",
            "properties": {
                "non_deterministic_jobs": {"type": "array", "items": {"type": "string"}},
                "count": _COUNT,
            },
        },
    },
}


@cache
def _validator() -> Draft202012Validator:
    """Return the validator of :data:`REPORT_SCHEMA`, built on first use.

    jsonschema is slow to import, and listing plugins never validates a report.
    """
    from jsonschema import Draft202012Validator

    return Draft202012Validator(REPORT_SCHEMA)


def report_schema_errors(report: Any) -> list[str]:
    """Return one line per schema violation in *report*, in a stable order; empty when valid.

    :param report: a decoded JSON value that should be a Fabric report.
    :returns: messages of the form ``"<json path>: <problem>"``, sorted.
    """
    errors = _validator().iter_errors(report)
    return sorted(f"{error.json_path}: {error.message}" for error in errors)


def validate_report(report: Any, *, source: str = "report") -> None:
    """Raise :class:`FabricSnapshotError` unless *report* matches :data:`REPORT_SCHEMA`.

    :param report: a decoded JSON value that should be a Fabric report.
    :param source: where the report came from, named in the error message.
    :raises FabricSnapshotError: listing every violation with its JSON path.
    """
    problems = report_schema_errors(report)
    if problems:
        raise FabricSnapshotError(
            f"{source} is not a valid Fabric report "
            "(expected FabricReportExporter.export_json() output): " + "; ".join(problems)
        )
