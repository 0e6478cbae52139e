"""Write a :class:`~snapkit_toastmasters.generator.Dashboard`'s reports in the exports' format.

The format, quirks included: every field quoted (so ``"Level 4s, Path Completions, or DTM
Awards"`` keeps its commas), ``\\r\\n`` line ends, optionally a byte order mark, club numbers
zero-padded to eight digits in the club performance report (not in the district performance
report), ``0D``/``0A`` for clubs without a division or area, distinguished status as a
letter code, and the trailing ``Month of Sep, As of 09/22/2026`` line. The open program year's
club performance report has ``CSP`` and ``Net Growth`` and the renamed level columns, in other
positions; the district summary gains ``Net Growth``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from snapkit_toastmasters.columns import normalize_heading
from snapkit_toastmasters.generator import MONTH_NAMES, ClubMonth, Dashboard, as_of

_CLOSED_LEVELS = (
    "Level 1s",
    "Level 2s",
    "Add. Level 2s",
    "Level 3s",
    "Level 4s, Path Completions, or DTM Awards",
    "Add. Level 4s, Path Completions, or DTM award",
)
_OPEN_LEVELS = (
    "Level 1s Earned",
    "Level 2s Earned",
    "Add. Level 2s Earned",
    "Level 3s Earned",
    "Level 4s, Level 5s, or DTM Awards",
    "Add. Level 4s, Level 5s, or DTM Awards",
)


def _place(club: ClubMonth) -> list[str]:
    return [club.district, club.division or "0D", f"{int(club.area):02d}" if club.area else "0A"]


def club_performance(
    clubs: Sequence[ClubMonth], open_year: bool
) -> tuple[list[str], list[list[str]]]:
    """Headings and rows of the club performance report."""
    levels = _OPEN_LEVELS if open_year else _CLOSED_LEVELS
    headings = ["District", "Division", "Area", "Club Number", "Club Name", "Club Status"]
    if open_year:
        headings.append("CSP")
    headings += ["Mem. Base", "Active Members"]
    if open_year:
        headings.append("Net Growth")
    headings += [
        "Goals Met",
        *levels,
        "New Members",
        "Add. New Members",
        "Off. Trained Round 1",
        "Off. Trained Round 2",
        "Mem. dues on time Oct",
        "Mem. dues on time Apr",
        "Off. List On Time",
        "Club Distinguished Status",
    ]
    rows = []
    for c in clubs:
        row = [*_place(c), f"{c.number:08d}", c.name, c.status]
        if open_year:
            row.append("Y" if c.csp else "N")
        row += [str(c.base), str(c.active)]
        if open_year:
            row.append(str(c.active - c.base))
        row += [
            str(c.goals),
            *map(str, c.levels),
            str(c.new_members),
            str(c.add_new_members),
            str(c.trained[0]),
            str(c.trained[1]),
            str(c.dues_on_time[0]),
            str(c.dues_on_time[1]),
            str(c.officer_list_on_time),
            c.distinguished or "",
        ]
        rows.append(row)
    return headings, rows


def district_performance(clubs: Sequence[ClubMonth]) -> tuple[list[str], list[list[str]]]:
    """Headings and rows of the district performance report (renewals and charter data)."""
    headings = [
        "District",
        "Division",
        "Area",
        "Club",
        "Club Name",
        "New",
        "Late Ren.",
        "Oct. Ren.",
        "Apr. Ren.",
        "Total Ren.",
        "Total Chart.",
        "Total to Date",
        "Charter Date/Suspend Date",
    ]
    rows = []
    for c in clubs:
        oct_ren, apr_ren, late = c.renewals
        total_ren = oct_ren + apr_ren + late
        date = c.charter_date.strftime("%m/%d/%Y") if c.charter_date else ""
        rows.append(
            [
                *_place(c),
                str(c.number),
                c.name,
                str(c.new_paid),
                str(late),
                str(oct_ren),
                str(apr_ren),
                str(total_ren),
                str(c.charter_members),
                str(c.new_paid + total_ren + c.charter_members),
                date,
            ]
        )
    return headings, rows


def district_summary(
    district: str, clubs: Sequence[ClubMonth], open_year: bool
) -> tuple[list[str], list[list[str]]]:
    """Headings and the one row of the district summary report."""
    headings = [
        "District",
        "Total Clubs",
        "Active Clubs",
        "Suspended Clubs",
        "Ineligible Clubs",
        "Low Clubs",
        "Membership Base",
        "Active Members",
        "Distinguished Clubs",
        "Select Distinguished Clubs",
        "President's Distinguished Clubs",
        "Smedley Distinguished Clubs",
    ]
    base = sum(c.base for c in clubs)
    active = sum(c.active for c in clubs)
    row = [district, str(len(clubs))]
    row += [
        str(sum(1 for c in clubs if c.status == s))
        for s in ("Active", "Suspended", "Ineligible", "Low")
    ]
    row += [str(base), str(active)]
    row += [str(sum(1 for c in clubs if c.distinguished == code)) for code in "DSPM"]
    if open_year:
        headings.append("Net Growth")
        row.append(str(active - base))
    return headings, [row]


def write_export(
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    month: int,
    as_of_date: dt.date,
    *,
    bom: bool = False,
    drop_column: str | None = None,
    truncate: bool = False,
) -> bytes:
    """The bytes of one export.

    :param month: the month index (0 = July) named in the trailing line.
    :param drop_column: leave out the column with this heading (matched normalized).
    :param truncate: cut the export short, in the middle of a row, without its trailing line.
    """
    headings = list(headings)
    keep = list(range(len(headings)))
    if drop_column is not None:
        wanted = normalize_heading(drop_column)
        keep = [i for i in keep if normalize_heading(headings[i]) != wanted]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([headings[i] for i in keep])
    for row in rows:
        writer.writerow([row[i] for i in keep])
    body = buffer.getvalue()
    if truncate:
        cut = int(len(body) * 0.6)
        data = body[:cut].encode("utf-8")
    else:
        trailer = f"Month of {MONTH_NAMES[month]}, As of {as_of_date.strftime('%m/%d/%Y')}\r\n"
        data = (body + trailer).encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def render_report(
    dashboard: Dashboard,
    report: str,
    district: str,
    *,
    year: str | None = None,
    month: int | None = None,
    **options: Any,
) -> bytes:
    """One report of one district as the dashboard exports it.

    :param year: the program year (default: the open one; an earlier one is closed).
    :param month: the month index (default: the current one; June for a closed year).
    :param options: :func:`write_export`'s ``bom``, ``drop_column``, ``truncate`` and
        ``as_of_date`` (default: the month's as-of date).
    """
    year = year or dashboard.program_year
    open_year = year == dashboard.program_year
    if month is None:
        month = dashboard.month if open_year else 11
    clubs = dashboard.clubs(district, year=year, month=month)
    if report == "club_performance":
        headings, rows = club_performance(clubs, open_year)
    elif report == "district_performance":
        headings, rows = district_performance(clubs)
    elif report == "district_summary":
        headings, rows = district_summary(district, clubs, open_year)
    else:
        raise ValueError(f"unknown report {report!r}")
    date = options.pop("as_of_date", None) or as_of(year, month)
    return write_export(headings, rows, month, date, **options)
