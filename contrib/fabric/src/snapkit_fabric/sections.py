"""The four diff sections (README.md), one pure function each.

Every section takes the two reports (``from`` first, ``to`` second) and returns plain
JSON-able data with exactly the fields the seed names, in the seed's order:

- every delta is ``to - from``;
- a float delta is rounded once, on the unrounded difference, to :data:`FLOAT_PRECISION`
  places, and ``-0.0`` is written as ``0.0``;
- a missing section, engine, profile or field counts as zero (or as no job ids) on the side
  where it is missing;
- engine and profile keys are sorted, job id lists are sorted ascending.

The sections state movement only; they never label it. A malformed value (a count that is not
an integer, a rate that is not a finite number, a section that is not an object) raises
:class:`~snapkit_fabric.errors.FabricDiffError` naming the side and the path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeAlias, TypedDict

from snapkit_fabric.errors import FabricDiffError

__all__ = [
    "FLOAT_PRECISION",
    "SECTIONS",
    "DeterminismChanges",
    "EngineDelta",
    "ExecutionSummaryDelta",
    "ProfileDelta",
    "SectionFunction",
    "determinism",
    "engine_health",
    "execution_summary",
    "proxy_profile_stability",
]

FLOAT_PRECISION: Final[int] = 4
"""Decimal places of every float delta (README.md)."""

Report: TypeAlias = Mapping[str, Any]
SectionFunction: TypeAlias = Callable[[Report, Report], Any]


class ExecutionSummaryDelta(TypedDict):
    """Output of :func:`execution_summary`."""

    completed_delta: int
    failed_delta: int
    validation_failed_delta: int
    total_jobs_delta: int


class EngineDelta(TypedDict):
    """One engine's entry in the output of :func:`engine_health`."""

    jobs_delta: int
    failures_delta: int
    failure_rate_delta: float


class ProfileDelta(TypedDict):
    """One profile's entry in the output of :func:`proxy_profile_stability`."""

    jobs_delta: int
    failure_rate_delta: float


class DeterminismChanges(TypedDict):
    """Output of :func:`determinism`."""

    new_non_deterministic_jobs: list[str]
    resolved_non_deterministic_jobs: list[str]


def execution_summary(from_report: Report, to_report: Report) -> ExecutionSummaryDelta:
    """Return the change of the job counts in ``execution_summary``.

    :param from_report: the earlier report.
    :param to_report: the later report.
    :returns: ``completed_delta``, ``failed_delta``, ``validation_failed_delta`` and
        ``total_jobs_delta``, each ``to - from``.
    :raises FabricDiffError: when a report or one of its counts is malformed.
    """
    old = _section(from_report, "execution_summary", "from")
    new = _section(to_report, "execution_summary", "to")

    def delta(field: str) -> int:
        path = f"execution_summary.{field}"
        return _count(new, field, "to", path) - _count(old, field, "from", path)

    return {
        "completed_delta": delta("completed"),
        "failed_delta": delta("failed"),
        "validation_failed_delta": delta("validation_failed"),
        "total_jobs_delta": delta("total_jobs"),
    }


def engine_health(from_report: Report, to_report: Report) -> dict[str, EngineDelta]:
    """Return the change of each engine's jobs, failures and failure rate.

    Engines are those present in either report, sorted by name; an engine missing from one
    report counts as zero there.

    :param from_report: the earlier report.
    :param to_report: the later report.
    :returns: ``{engine: {"jobs_delta", "failures_delta", "failure_rate_delta"}}``.
    :raises FabricDiffError: when a report or one of its values is malformed.
    """
    old = _section(from_report, "engine_health", "from")
    new = _section(to_report, "engine_health", "to")
    result: dict[str, EngineDelta] = {}
    for name in sorted(old.keys() | new.keys()):
        path = f"engine_health.{name}"
        before = _entry(old, name, "from", path)
        after = _entry(new, name, "to", path)
        result[name] = {
            "jobs_delta": _count_delta(before, after, "jobs", path),
            "failures_delta": _count_delta(before, after, "failures", path),
            "failure_rate_delta": _rate_delta(before, after, "failure_rate", path),
        }
    return result


def proxy_profile_stability(from_report: Report, to_report: Report) -> dict[str, ProfileDelta]:
    """Return the change of each proxy profile's jobs and failure rate.

    Profiles are those present in either report, sorted by name; a profile added in ``to`` is
    computed from zero, a profile removed in ``to`` is computed to zero.

    :param from_report: the earlier report.
    :param to_report: the later report.
    :returns: ``{profile: {"jobs_delta", "failure_rate_delta"}}``.
    :raises FabricDiffError: when a report or one of its values is malformed.
    """
    old = _section(from_report, "proxy_profile_stability", "from")
    new = _section(to_report, "proxy_profile_stability", "to")
    result: dict[str, ProfileDelta] = {}
    for name in sorted(old.keys() | new.keys()):
        path = f"proxy_profile_stability.{name}"
        before = _entry(old, name, "from", path)
        after = _entry(new, name, "to", path)
        result[name] = {
            "jobs_delta": _count_delta(before, after, "jobs", path),
            "failure_rate_delta": _rate_delta(before, after, "failure_rate", path),
        }
    return result


def determinism(from_report: Report, to_report: Report) -> DeterminismChanges:
    """Return the job ids that entered and left ``determinism.non_deterministic_jobs``.

    :param from_report: the earlier report.
    :param to_report: the later report.
    :returns: ``new_non_deterministic_jobs`` (in ``to`` only) and
        ``resolved_non_deterministic_jobs`` (in ``from`` only), both sorted ascending.
    :raises FabricDiffError: when a report or its job id list is malformed.
    """
    old = _job_ids(_section(from_report, "determinism", "from"), "from")
    new = _job_ids(_section(to_report, "determinism", "to"), "to")
    return {
        "new_non_deterministic_jobs": sorted(new - old),
        "resolved_non_deterministic_jobs": sorted(old - new),
    }


SECTIONS: Final[Mapping[str, SectionFunction]] = MappingProxyType(
    {
        "execution_summary": execution_summary,
        "engine_health": engine_health,
        "proxy_profile_stability": proxy_profile_stability,
        "determinism": determinism,
    }
)
"""Every section by name, in the seed's order."""


_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def _section(report: Report, name: str, side: str) -> Mapping[str, Any]:
    """Return a top-level section of *report*, or an empty mapping when it is absent."""
    if not isinstance(report, Mapping):
        raise FabricDiffError(
            f"the {side} report is {_describe(report)}; "
            "expected a dict decoded from FabricReportExporter.export_json()"
        )
    return _entry(report, name, side, name)


def _entry(mapping: Mapping[str, Any], key: str, side: str, path: str) -> Mapping[str, Any]:
    """Return the object at *key*, or an empty mapping when it is absent."""
    if key not in mapping:
        return _EMPTY
    value = mapping[key]
    if not isinstance(value, Mapping):
        raise FabricDiffError(f"{side} report: {path} must be an object, got {_describe(value)}")
    return value


def _count(mapping: Mapping[str, Any], key: str, side: str, path: str) -> int:
    """Return an integer field, ``0`` when it is absent."""
    if key not in mapping:
        return 0
    value = mapping[key]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FabricDiffError(
            f"{side} report: {path} must be an integer count, got {_describe(value)}"
        )
    return value


def _rate(mapping: Mapping[str, Any], key: str, side: str, path: str) -> float:
    """Return a numeric field as a finite float, ``0.0`` when it is absent."""
    if key not in mapping:
        return 0.0
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FabricDiffError(f"{side} report: {path} must be a number, got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise FabricDiffError(
            f"{side} report: {path} must be a finite number, got {_describe(value)}"
        )
    return number


def _count_delta(before: Mapping[str, Any], after: Mapping[str, Any], field: str, path: str) -> int:
    """Return ``to - from`` of an integer field."""
    where = f"{path}.{field}"
    return _count(after, field, "to", where) - _count(before, field, "from", where)


def _rate_delta(
    before: Mapping[str, Any], after: Mapping[str, Any], field: str, path: str
) -> float:
    """Return ``to - from`` of a float field, rounded once, with ``-0.0`` written as ``0.0``."""
    where = f"{path}.{field}"
    difference = _rate(after, field, "to", where) - _rate(before, field, "from", where)
    if not math.isfinite(difference):
        raise FabricDiffError(f"the change of {where} is too large to represent as a float")
    rounded = round(difference, FLOAT_PRECISION)
    return 0.0 if rounded == 0 else rounded


def _job_ids(section: Mapping[str, Any], side: str) -> set[str]:
    """Return the set of ``non_deterministic_jobs`` ids, empty when absent."""
    path = "determinism.non_deterministic_jobs"
    if "non_deterministic_jobs" not in section:
        return set()
    jobs = section["non_deterministic_jobs"]
    if not isinstance(jobs, list):
        raise FabricDiffError(
            f"{side} report: {path} must be a list of job ids, got {_describe(jobs)}"
        )
    for index, job in enumerate(jobs):
        if not isinstance(job, str):
            raise FabricDiffError(
                f"{side} report: {path}[{index}] must be a string job id, got {_describe(job)}"
            )
    return set(jobs)


def _describe(value: Any) -> str:
    """Describe a value briefly for an error message."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
