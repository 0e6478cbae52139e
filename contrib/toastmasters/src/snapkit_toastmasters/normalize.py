"""A district's three reports in, its rows of every table out -- checked against each other.

:func:`normalize_district` is a pure function. What it checks (each failure names the
district, the report and the line, and the club number where there is one):

- the club performance report lists at least one club (else :class:`EmptyDistrictError`),
  each club once, and the district performance report lists the same clubs in the same
  division and area;
- per club: ``Net Growth`` (when the report has it) is ``Active Members - Mem. Base``;
  ``Total Ren.`` is ``Oct. Ren. + Apr. Ren. + Late Ren.``; ``Total to Date`` is
  ``New + Total Ren. + Total Chart.``;
- the district summary has one row, and its totals -- clubs, clubs by status, membership base,
  active members, clubs per distinguished level (counted by status code) and net growth --
  equal what the clubs add up to (else :class:`ValidationFailedError`);
- the three reports are of the same month and as-of date (else the dashboard was updating
  while they were read: :class:`TransientFetchError`, which the engine retries).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

from snapkit_toastmasters.columns import LEVELS, REPORT_COLUMNS, STATUSES
from snapkit_toastmasters.errors import (
    EmptyDistrictError,
    ExportFormatError,
    TransientFetchError,
    ValidationFailedError,
)
from snapkit_toastmasters.reports import Report

Row = dict[str, Any]

CLUB_FIELDS: tuple[str, ...] = (
    "club_number", "club_name", "district_id", "division", "area", "status",
    "membership_base", "active_members", "member_change", "goals_met",
    "level_1s", "level_2s", "add_level_2s", "level_3s", "level_4s", "add_level_4s",
    "new_members", "add_new_members", "officers_trained_round_1", "officers_trained_round_2",
    "dues_on_time_oct", "dues_on_time_apr", "officer_list_on_time", "distinguished", "csp",
    "new_paid", "late_renewals", "oct_renewals", "apr_renewals", "charter_members",
    "total_paid", "charter_date",
)  # fmt: skip
"""The columns of the ``clubs`` table, the same for closed and open program years."""

_FROM_CLUB_REPORT = (
    "club_name", "status", "membership_base", "active_members", "goals_met", "level_1s",
    "level_2s", "add_level_2s", "level_3s", "level_4s", "add_level_4s", "new_members",
    "add_new_members", "officers_trained_round_1", "officers_trained_round_2",
    "dues_on_time_oct", "dues_on_time_apr", "officer_list_on_time", "distinguished",
)  # fmt: skip
_FROM_PERFORMANCE = (
    "new_paid",
    "late_renewals",
    "oct_renewals",
    "apr_renewals",
    "charter_members",
    "total_paid",
    "charter_date",
)


@frozen
class DistrictTables:
    """One district's rows of each table, sorted by key, and facts for the metadata."""

    district: Row
    divisions: tuple[Row, ...]
    areas: tuple[Row, ...]
    clubs: tuple[Row, ...]
    statistics: Row
    as_of: dt.date
    open_year_columns: bool


def program_month_end(program_year: str, month: int) -> dt.date:
    """The last day of ``month`` (1-12) of a program year ``YYYY-YYYY`` (July to June)."""
    first = int(program_year[:4])
    year = first if month >= 7 else first + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def percent(part: int, whole: int) -> float | None:
    """``100 * part / whole`` rounded to two places; ``None`` when ``whole`` is 0."""
    return None if whole == 0 else round(100.0 * part / whole, 2)


def normalize_district(
    district: str, program_year: str, summary: Report, performance: Report, clubs: Report
) -> DistrictTables:
    """Check one district's reports against each other and build its table rows.

    :raises EmptyDistrictError, ValidationFailedError, ExportFormatError: naming the report
        and line of the problem.
    :raises TransientFetchError: if the reports disagree on their month or as-of date.
    """
    _same_date(district, (summary, performance, clubs))
    club_rows = _clubs(district, clubs, performance)
    _check_summary(district, summary, club_rows)
    divisions, areas = _groups(district, club_rows)
    unassigned = sum(1 for c in club_rows if c["division"] is None)
    month_end = program_month_end(program_year, clubs.month)
    district_row: Row = {
        "district_id": district,
        "program_year": program_year,
        "month_end": month_end.isoformat(),
        "data_as_of": clubs.as_of.isoformat(),
        "divisions": len(divisions),
        "areas": len(areas),
        "clubs": len(club_rows),
        "unassigned_clubs": unassigned,
    }
    return DistrictTables(
        district_row,
        divisions,
        areas,
        tuple(club_rows),
        statistics(district, club_rows),
        clubs.as_of,
        "net_growth" in clubs.fields or "csp" in clubs.fields,
    )


def statistics(district: str, clubs: Iterable[Mapping[str, Any]]) -> Row:
    """The ``district_statistics`` row of a district's clubs: membership total, change and
    change percent against the base, clubs by status, clubs per distinguished level."""
    rows = list(clubs)
    base = sum(c["membership_base"] for c in rows)
    total = sum(c["active_members"] for c in rows)
    row: Row = {"district_id": district, "clubs_total": len(rows)}
    for status in STATUSES:
        row[f"clubs_{status}"] = sum(1 for c in rows if c["status"] == status)
    row.update(
        membership_base=base,
        membership_total=total,
        membership_change=total - base,
        membership_change_pct=percent(total - base, base),
    )
    for code, name in LEVELS.items():
        row[name] = sum(1 for c in rows if c["distinguished"] == code)
    row["distinguished_total"] = sum(row[name] for name in LEVELS.values())
    row["distinguished_pct"] = percent(row["distinguished_total"], len(rows))
    return row


def _same_date(district: str, reports: tuple[Report, ...]) -> None:
    first = reports[-1]
    for other in reports[:-1]:
        if (other.as_of, other.month) != (first.as_of, first.month):
            raise TransientFetchError(
                f"the {other.report.replace('_', ' ')} and {first.report.replace('_', ' ')} "
                "reports are of different as-of dates (the dashboard was updating)",
                district=district,
            )


def _clubs(district: str, clubs: Report, performance: Report) -> list[Row]:
    if not clubs.rows:
        raise EmptyDistrictError(
            "the report lists no clubs",
            district=district,
            report="club_performance",
            line=clubs.trailer_line,
            hint="check the district number and program year",
        )
    by_number = _unique(district, performance)
    seen = _unique(district, clubs)
    rows: list[Row] = []
    for number in sorted(seen):
        source = seen[number]
        other = by_number.get(number)
        line = source["line"]
        if other is None:
            raise ValidationFailedError(
                f"club {number} is not in the district performance report",
                district=district,
                report="club_performance",
                line=line,
            )
        if (other["division"], other["area"]) != (source["division"], source["area"]):
            raise ValidationFailedError(
                f"club {number} is in another division or area in the district performance "
                f"report (line {other['line']})",
                district=district,
                report="club_performance",
                line=line,
            )
        change = source["active_members"] - source["membership_base"]
        if "net_growth" in source and source["net_growth"] != change:
            raise ValidationFailedError(
                f"club {number}: 'Net Growth' is not 'Active Members' - 'Mem. Base'",
                district=district,
                report="club_performance",
                line=line,
            )
        _check_performance(district, number, other)
        row: Row = {
            "club_number": number,
            "district_id": district,
            "division": source["division"],
            "area": source["area"],
            "member_change": change,
            "csp": source.get("csp"),
        }
        row.update({name: source[name] for name in _FROM_CLUB_REPORT})
        row.update({name: other[name] for name in _FROM_PERFORMANCE})
        rows.append({name: row[name] for name in CLUB_FIELDS})
    extra = sorted(set(by_number) - set(seen))
    if extra:
        raise ValidationFailedError(
            f"club {extra[0]} is not in the club performance report",
            district=district,
            report="district_performance",
            line=by_number[extra[0]]["line"],
        )
    return rows


def _unique(district: str, report: Report) -> dict[int, Mapping[str, Any]]:
    found: dict[int, Mapping[str, Any]] = {}
    for row in report.rows:
        number = row["club_number"]
        if number in found:
            raise ExportFormatError(
                f"club {number} is listed twice (first on line {found[number]['line']})",
                district=district,
                report=report.report,
                line=row["line"],
            )
        found[number] = row
    return found


def _check_performance(district: str, number: int, row: Mapping[str, Any]) -> None:
    def fail(what: str) -> ValidationFailedError:
        return ValidationFailedError(
            f"club {number}: {what}",
            district=district,
            report="district_performance",
            line=row["line"],
        )

    if row["total_renewals"] != row["oct_renewals"] + row["apr_renewals"] + row["late_renewals"]:
        raise fail("'Total Ren.' is not 'Oct. Ren.' + 'Apr. Ren.' + 'Late Ren.'")
    if row["total_paid"] != row["new_paid"] + row["total_renewals"] + row["charter_members"]:
        raise fail("'Total to Date' is not 'New' + 'Total Ren.' + 'Total Chart.'")


def _check_summary(district: str, summary: Report, clubs: list[Row]) -> None:
    if len(summary.rows) != 1:
        raise ExportFormatError(
            f"the report has {len(summary.rows)} rows where one is expected",
            district=district,
            report="district_summary",
            line=summary.rows[1]["line"] if summary.rows else summary.trailer_line,
        )
    (row,) = summary.rows
    stats = statistics(district, clubs)
    expected = {
        "total_clubs": stats["clubs_total"],
        **{f"{status}_clubs": stats[f"clubs_{status}"] for status in STATUSES},
        "membership_base": stats["membership_base"],
        "active_members": stats["membership_total"],
        **{name: stats[name] for name in LEVELS.values()},
        "net_growth": stats["membership_change"],
    }
    titles = {c.field: c.title for c in REPORT_COLUMNS["district_summary"]}
    for field, value in expected.items():
        if field in row and row[field] != value:
            raise ValidationFailedError(
                f"{titles[field]!r} disagrees with the clubs of the club performance report",
                district=district,
                report="district_summary",
                line=row["line"],
                hint="the dashboard may be mid-update: refresh again later",
            )


def _groups(district: str, clubs: list[Row]) -> tuple[tuple[Row, ...], tuple[Row, ...]]:
    divisions: dict[str, list[Row]] = {}
    areas: dict[tuple[str | None, str], list[Row]] = {}
    for club in clubs:
        if club["division"] is not None:
            divisions.setdefault(club["division"], []).append(club)
        if club["area"] is not None:
            areas.setdefault((club["division"], club["area"]), []).append(club)
    area_count: dict[str, int] = {}
    for division, _area in areas:
        if division is not None:
            area_count[division] = area_count.get(division, 0) + 1
    division_rows = tuple(
        {
            "division_id": f"{district}-{division}",
            "district_id": district,
            "division": division,
            "areas": area_count.get(division, 0),
            **_totals(members),
        }
        for division, members in sorted(divisions.items())
    )
    area_rows = tuple(
        {
            "area_id": f"{district}-{division or '0D'}-{area}",
            "district_id": district,
            "division": division,
            "area": area,
            **_totals(members),
        }
        for (division, area), members in sorted(
            areas.items(), key=lambda item: (item[0][0] or "", int(item[0][1]))
        )
    )
    return division_rows, area_rows


def _totals(clubs: list[Row]) -> Row:
    base = sum(c["membership_base"] for c in clubs)
    total = sum(c["active_members"] for c in clubs)
    return {
        "clubs": len(clubs),
        "membership_base": base,
        "active_members": total,
        "member_change": total - base,
        "distinguished_clubs": sum(1 for c in clubs if c["distinguished"] is not None),
    }
