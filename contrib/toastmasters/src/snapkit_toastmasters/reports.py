"""Reports as typed rows: each export's columns found by heading, each field parsed by kind.

:func:`read_report` turns an :class:`~snapkit_toastmasters.exportcsv.ExportFile` into a
:class:`Report` whose rows are dicts of the fields of :mod:`~snapkit_toastmasters.columns`
(plus ``line``). Columns the plugin does not know are ignored; a required column that is
missing, a heading used twice, a value of the wrong kind and a row of another district are
errors that name the district, the report, the line and the column (and the club number once
it is known) -- never the value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from snapkit_toastmasters.columns import KINDS, REPORT_COLUMNS, Column, normalize_heading
from snapkit_toastmasters.errors import ExportFormatError
from snapkit_toastmasters.exportcsv import ExportFile, parse_export


@frozen
class Report:
    """One report of one district, typed.

    :param report: its key (``club_performance``, ...).
    :param district: the district it is of.
    :param rows: one dict per row: the report's fields, and ``line``.
    :param fields: the fields the export had (optional ones may be absent).
    :param month: the data's month (1-12).
    :param as_of: the data's as-of date.
    :param trailer_line: the line of ``Month of ..., As of ...``.
    """

    report: str
    district: str
    rows: tuple[Mapping[str, Any], ...]
    fields: frozenset[str]
    month: int
    as_of: dt.date
    trailer_line: int


def find_columns(
    headings: tuple[str, ...], columns: tuple[Column, ...], *, district: str, report: str
) -> dict[str, int]:
    """Map each known field to the position of its heading in this export.

    :raises ExportFormatError: for a required column that is missing, or a column whose
        heading appears twice (line 1).
    """
    normalized = [normalize_heading(h) for h in headings]
    found: dict[str, int] = {}
    for column in columns:
        positions = [i for i, h in enumerate(normalized) if column.matches(h)]
        if len(positions) > 1:
            raise ExportFormatError(
                f"column {column.title!r} appears {len(positions)} times",
                district=district,
                report=report,
                line=1,
            )
        if positions:
            found[column.field] = positions[0]
        elif column.required:
            raise ExportFormatError(
                f"the export has no column {column.title!r}",
                district=district,
                report=report,
                line=1,
                hint="the dashboard changed its format, or the export is damaged",
            )
    return found


def read_report(export: ExportFile, report: str, district: str) -> Report:
    """Type the rows of one export of ``report`` for ``district``.

    :raises ExportFormatError: naming the line and column of what is wrong.
    """
    columns = REPORT_COLUMNS[report]
    positions = find_columns(export.headings, columns, district=district, report=report)
    by_field = {c.field: c for c in columns}
    rows: list[dict[str, Any]] = []
    for line, fields in export.rows:
        row: dict[str, Any] = {"line": line}
        club = None
        if "club_number" in positions:  # parsed first, so later errors can name the club
            club = _parse(
                by_field["club_number"],
                fields[positions["club_number"]],
                district,
                report,
                line,
                None,
            )
        for name, position in positions.items():
            row[name] = (
                club
                if name == "club_number"
                else _parse(by_field[name], fields[position], district, report, line, club)
            )
        if row["district"] != district:
            where = f" (club {club})" if club is not None else ""
            raise ExportFormatError(
                f"the row{where} is of district {row['district']}, not {district}",
                district=district,
                report=report,
                line=line,
            )
        rows.append(row)
    return Report(
        report,
        district,
        tuple(rows),
        frozenset(positions),
        export.month,
        export.as_of,
        export.trailer_line,
    )


def load_report(data: bytes, report: str, district: str) -> Report:
    """Parse and type the bytes of one export (see :func:`parse_export`, :func:`read_report`)."""
    return read_report(parse_export(data, district=district, report=report), report, district)


def _parse(
    column: Column, text: str, district: str, report: str, line: int, club: int | None
) -> Any:
    try:
        return KINDS[column.kind](text)
    except ValueError as exc:
        where = f"club {club}, " if club is not None else ""
        raise ExportFormatError(
            f"{where}column {column.title!r}: {exc}", district=district, report=report, line=line
        ) from None
