"""The dashboard's CSV export as a file format: bytes in, a heading and lines of fields out.

What the dashboard writes, and what this module accepts:

- UTF-8, possibly with a byte order mark;
- every field quoted, so headings and names may hold commas
  (``"Level 4s, Path Completions, or DTM Awards"``);
- a first line of headings, then one line per row, ``\\r\\n`` or ``\\n`` line ends;
- a trailing line that is not a row: ``Month of Sep, As of 09/22/2026`` (quoted or not) --
  the month of the data and its as-of date (MM/DD/YYYY). An export without it was cut short.

Errors name the line (1 is the heading), never a value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from attrs import frozen

from snapkit_toastmasters.errors import ExportFormatError

BOM = b"\xef\xbb\xbf"

TRAILER = re.compile(
    r'^\s*"?\s*Month of\s+(?P<month>[A-Za-z]{3,9})\.?\s*,\s*As of\s+'
    r'(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\s*"?\s*,*\s*$'
)
"""The trailing line: ``Month of Sep, As of 09/22/2026``."""

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@frozen
class ExportFile:
    """One parsed export.

    :param headings: the first line's fields, as written.
    :param rows: ``(line, fields)`` per row, ``line`` being where the row starts.
    :param month: the month of the data (1-12), from the trailing line.
    :param as_of: the data's as-of date, from the trailing line.
    :param trailer_line: the line number of the trailing line.
    """

    headings: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    month: int
    as_of: dt.date
    trailer_line: int


def parse_export(
    data: bytes, *, district: str | None = None, report: str | None = None
) -> ExportFile:
    """Parse the bytes of one export.

    :param district: the district it is of (named in errors).
    :param report: the report's key (named in errors).
    :raises ExportFormatError: naming the district, report and line of what is wrong.
    """

    def fail(message: str, line: int | None, hint: str | None = None) -> ExportFormatError:
        return ExportFormatError(message, district=district, report=report, line=line, hint=hint)

    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail("the export is not UTF-8 text", line) from None
    lines = text.splitlines(keepends=True)
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    if last < 0:
        raise fail("the export is empty", 1, "check the district and program year")
    match = TRAILER.match(lines[last].rstrip("\r\n"))
    if match is None:
        raise fail(
            "the export ends without its 'Month of ..., As of MM/DD/YYYY' line: it was "
            "cut short, or is not a dashboard export",
            last + 1,
            "refresh again; if it persists, check the export in a browser",
        )
    trailer_line = last + 1
    month_name = match["month"][:3].lower()
    if month_name not in MONTHS:
        raise fail("the trailing line names no month", trailer_line)
    try:
        as_of = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise fail("the trailing line's as-of date is not a date", trailer_line) from None
    body = "".join(lines[:last])
    reader = csv.reader(io.StringIO(body, newline=""), strict=True)
    rows: list[tuple[int, tuple[str, ...]]] = []
    headings: tuple[str, ...] | None = None
    start = 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if headings is None:
                headings = tuple(fields)
                continue
            if len(fields) != len(headings):
                raise fail(
                    f"the row has {len(fields)} fields where the heading has {len(headings)}", line
                )
            rows.append((line, tuple(fields)))
    except csv.Error:
        raise fail("the line is not valid CSV (an unclosed quote?)", start) from None
    if headings is None:
        raise fail("the export has no heading line", 1)
    return ExportFile(headings, tuple(rows), MONTHS.index(month_name) + 1, as_of, trailer_line)
