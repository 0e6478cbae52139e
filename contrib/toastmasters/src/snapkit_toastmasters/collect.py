"""The collector's functional core: fetch every export through a given function, check, and
assemble the tables and the metadata.

:func:`collect` does no I/O of its own: it is handed ``fetch(district, report, url) -> bytes``
(the HTTP client in production, a dict of fixture files in tests) and the as-of dates of the
current snapshot, if any. For each configured district, in order, it reads the three reports,
normalizes them (:func:`~snapkit_toastmasters.normalize.normalize_district`), checks the month
asked for and that the data is not older than the current snapshot's, then merges the
districts' rows into one sorted table each.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import frozen

from snapkit_toastmasters.errors import StaleDataError, ToastmastersError, ValidationFailedError
from snapkit_toastmasters.normalize import DistrictTables, normalize_district
from snapkit_toastmasters.reports import load_report
from snapkit_toastmasters.schema import CALCULATION_VERSION, SCHEMA_VERSION
from snapkit_toastmasters.settings import REPORTS, SOURCE, district_id

Fetch = Callable[[str, str, str], bytes]
"""``fetch(district, report, url)`` returns the bytes of one export."""


@frozen
class Request:
    """What to collect (from ``[oracles.toastmasters]``).

    :param base_url: the dashboard's root.
    :param districts: district ids, normalized (see :func:`district_id`).
    :param program_year: ``YYYY-YYYY``.
    :param month_end: the last day of the month to read, or ``None`` for the latest.
    :param as_of: the as-of date to ask for, or ``None`` for the latest.
    :param source: the metadata's source label.
    """

    base_url: str
    districts: tuple[str, ...]
    program_year: str
    month_end: dt.date | None = None
    as_of: dt.date | None = None
    source: str = SOURCE

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Request:
        """Build a request from validated settings.

        :raises ValidationFailedError: for a program year that is not two consecutive years,
            or two entries naming the same district (``"09"`` and ``9``).
        """
        year = str(settings["program_year"])
        if int(year[5:]) != int(year[:4]) + 1:
            raise ValidationFailedError(
                f"program_year {year} is not two consecutive years", hint="write it as 2026-2027"
            )
        districts = tuple(district_id(d) for d in settings["districts"])
        if len(set(districts)) != len(districts):
            raise ValidationFailedError("districts names the same district twice")
        return cls(
            base_url=str(settings["base_url"]).rstrip("/"),
            districts=districts,
            program_year=year,
            month_end=_date(settings.get("month_end")),
            as_of=_date(settings.get("as_of")),
            source=str(settings.get("source") or SOURCE),
        )

    def url(self, report: str, district: str) -> str:
        """The export URL of ``report`` (a key of :data:`REPORTS`) for ``district``:
        ``{base}/export.aspx?type=CSV&report=<name>~<district>~<month end>~<as of>~<year>``
        with dates written M/D/YYYY (empty for the latest)."""
        parts = (
            REPORTS[report],
            district,
            _mdy(self.month_end),
            _mdy(self.as_of),
            self.program_year,
        )
        return f"{self.base_url}/export.aspx?type=CSV&report={'~'.join(parts)}"


@frozen
class Collected:
    """What one collection produced: every table's rows (sorted by key) and the metadata."""

    tables: Mapping[str, tuple[dict[str, Any], ...]]
    metadata: Mapping[str, Any]
    exports: int


def collect(
    request: Request,
    fetch: Fetch,
    *,
    baseline: Mapping[str, str] | None = None,
    cancelled: threading.Event | None = None,
) -> Collected:
    """Fetch, check and normalize every report of every district of ``request``.

    :param baseline: district -> the data as-of date (ISO) of the current snapshot; data
        older than it is refused.
    :param cancelled: checked between exports; set, it stops the collection.
    :raises ToastmastersError: (or :class:`TransientFetchError`) naming the district, the
        report and the line of the first problem.
    """
    done: list[DistrictTables] = []
    exports = 0
    for district in request.districts:
        reports = {}
        for report in REPORTS:
            if cancelled is not None and cancelled.is_set():
                raise ToastmastersError("the collection was cancelled", district=district)
            data = fetch(district, report, request.url(report, district))
            exports += 1
            reports[report] = load_report(data, report, district)
        tables = normalize_district(
            district,
            request.program_year,
            reports["district_summary"],
            reports["district_performance"],
            reports["club_performance"],
        )
        month_end = tables.district["month_end"]
        if request.month_end is not None and month_end != request.month_end.isoformat():
            raise ValidationFailedError(
                f"the exports are of the month ending {month_end}, not "
                f"{request.month_end.isoformat()} as asked",
                district=district,
                report="club_performance",
                line=reports["club_performance"].trailer_line,
            )
        _not_older(district, tables.as_of, baseline)
        done.append(tables)
    return assemble(request, done, exports)


def assemble(request: Request, districts: Sequence[DistrictTables], exports: int) -> Collected:
    """Merge districts' rows into the tables and build the metadata (docs/toastmasters.md:
    ``metadata``: source, data as-of date; plus the program year, the month, each
    district's as-of date and club count, and the versions)."""
    ordered = sorted(districts, key=lambda d: _district_order(d.district["district_id"]))
    tables = {
        "districts": tuple(d.district for d in ordered),
        "divisions": tuple(row for d in ordered for row in d.divisions),
        "areas": tuple(row for d in ordered for row in d.areas),
        "clubs": tuple(
            sorted(
                (row for d in ordered for row in d.clubs), key=lambda row: int(row["club_number"])
            )
        ),
        "district_statistics": tuple(d.statistics for d in ordered),
    }
    month_ends = sorted({d.district["month_end"] for d in ordered})
    metadata = {
        "source": request.source,
        "program_year": request.program_year,
        "month_end": month_ends[-1],
        "data_as_of": min(d.as_of for d in ordered).isoformat(),
        "schema_version": SCHEMA_VERSION,
        "calculation_version": CALCULATION_VERSION,
        "districts": {
            d.district["district_id"]: {
                "data_as_of": d.as_of.isoformat(),
                "clubs": len(d.clubs),
                "open_year_columns": d.open_year_columns,
            }
            for d in ordered
        },
    }
    return Collected(tables, metadata, exports)


def baseline_of(metadata: Any) -> dict[str, str] | None:
    """District -> data as-of date, from a snapshot's ``tm_metadata`` payload (``None`` when
    the snapshot has none)."""
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("districts"), Mapping):
        return None
    return {
        str(k): str(v["data_as_of"])
        for k, v in metadata["districts"].items()
        if isinstance(v, Mapping) and "data_as_of" in v
    }


def _not_older(district: str, as_of: dt.date, baseline: Mapping[str, str] | None) -> None:
    if not baseline or district not in baseline:
        return
    current = dt.date.fromisoformat(baseline[district])
    if as_of < current:
        raise StaleDataError(
            f"the data is as of {as_of.isoformat()}, older than the current snapshot's "
            f"({current.isoformat()})",
            district=district,
            hint="the dashboard served stale data; the current snapshot stays",
        )


def _district_order(value: str) -> tuple[int, int, str]:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def _mdy(value: dt.date | None) -> str:
    return f"{value.month}/{value.day}/{value.year}" if value is not None else ""
