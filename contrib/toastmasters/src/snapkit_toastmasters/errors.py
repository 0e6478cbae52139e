"""The exceptions of the collector: snapkit oracle errors that say where the problem is.

Every message names the district, the report and the line (and, for a club, its number) --
never a value of a record. Transient failures (5xx, dropped connections, reports that
disagree on their as-of date while the dashboard updates) subclass
:class:`snapkit.errors.TransientOracleError`, so the engine retries them; everything else
is permanent and fails the refresh.
"""

from __future__ import annotations

from snapkit.errors import OracleError, TransientOracleError
from snapkit_toastmasters.settings import REPORT_TITLES


def locate(district: str | None = None, report: str | None = None, line: int | None = None) -> str:
    """``"district 61, club performance report, line 12: "`` (the parts that are known)."""
    parts = []
    if district is not None:
        parts.append(f"district {district}")
    if report is not None:
        parts.append(f"{REPORT_TITLES.get(report, report)} report")
    if line is not None:
        parts.append(f"line {line}")
    return ", ".join(parts) + ": " if parts else ""


class ToastmastersError(OracleError):
    """Base class: something about the dashboard's exports is wrong.

    :param district: the district the export is of.
    :param report: the report's key (``club_performance``, ...).
    :param line: the line of the export (1 is the heading).
    """

    def __init__(
        self,
        message: str,
        *,
        district: str | None = None,
        report: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(locate(district, report, line) + message, hint=hint)
        self.district = district
        self.report = report
        self.line = line


class ExportFormatError(ToastmastersError):
    """An export is broken: not CSV, cut short, a missing column, a value of the wrong kind."""


class ExportFetchError(ToastmastersError):
    """The dashboard refused an export (404, 403, ...): retrying will not help."""


class ValidationFailedError(ToastmastersError):
    """Exports that parse but cannot be right: totals that disagree with the clubs."""


class EmptyDistrictError(ValidationFailedError):
    """A district's club performance report lists no clubs."""


class StaleDataError(ValidationFailedError):
    """The data's as-of date is older than the current snapshot's."""


class TransientFetchError(TransientOracleError):
    """A failure worth retrying: 5xx, a dropped connection, a timeout, or reports of one
    district that disagree on their as-of date (the dashboard was updating)."""

    def __init__(
        self,
        message: str,
        *,
        district: str | None = None,
        report: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(locate(district, report) + message, retry_after=retry_after)
        self.district = district
        self.report = report
