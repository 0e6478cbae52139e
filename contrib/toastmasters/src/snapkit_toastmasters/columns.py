"""The reports' columns: matched by a normalized heading, never by position.

A column spec names the field the tables use, the headings the dashboard has used for it (the
closed program years' and the open year's), what kind of value it holds, and whether a report
must have it. The open program year's club performance report adds ``CSP`` and
``Net Growth`` and renames the education-level columns; both forms map to the same fields.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from attrs import frozen

STATUSES = ("active", "suspended", "ineligible", "low")
"""Club statuses, as the tables hold them (the exports write ``Active``, ``Suspended``, ...)."""

LEVELS: dict[str, str] = {
    "D": "distinguished",
    "S": "select_distinguished",
    "P": "presidents_distinguished",
    "M": "smedley_distinguished",
}
"""Distinguished status codes and what the tables call each level, lowest first."""


def normalize_heading(text: str) -> str:
    """A heading as columns are matched: lower case, ``&`` as ``and``, every run of
    punctuation and spaces as one space (``"Mem. Base"`` -> ``"mem base"``;
    ``"Level 4s, Path Completions, or DTM Awards"`` -> ``"level 4s path completions or dtm
    awards"``)."""
    text = text.replace("\ufeff", "").lower().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


# -- kinds: each parses one field's text or raises ValueError with a reason (never the value) --


def _whole(text: str) -> int:
    cleaned = text.strip().replace(",", "")
    if not cleaned.isdigit():
        raise ValueError("expected a whole number")
    return int(cleaned)


def _signed(text: str) -> int:
    cleaned = text.strip().replace(",", "")
    body = cleaned[1:] if cleaned[:1] in "+-" else cleaned
    if not body.isdigit():
        raise ValueError("expected a whole number")
    return int(cleaned)


def _text(text: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise ValueError("is empty")
    return value


def _district(text: str) -> str:
    value = text.strip().upper()
    if not re.fullmatch(r"[0-9A-Z]{1,3}", value):
        raise ValueError("expected a district number or letter")
    return str(int(value)) if value.isdigit() else value


def _division(text: str) -> str | None:
    value = text.strip().upper()
    if value in {"0D", ""}:
        return None
    if not re.fullmatch(r"[A-Z]", value):
        raise ValueError("expected a division letter or 0D")
    return value


def _area(text: str) -> str | None:
    value = text.strip().upper()
    if value in {"0A", ""}:
        return None
    if not value.isdigit() or int(value) == 0:
        raise ValueError("expected an area number or 0A")
    return str(int(value))


def _club(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) == 0:
        raise ValueError("expected a club number")
    return int(value)


def _status(text: str) -> str:
    value = text.strip().lower()
    if value not in STATUSES:
        raise ValueError("expected Active, Suspended, Ineligible or Low")
    return value


def _code(text: str) -> str | None:
    value = text.strip().upper()
    if not value:
        return None
    if value not in LEVELS:
        raise ValueError("expected a distinguished status code D, S, P, M or blank")
    return value


def _yesno(text: str) -> bool | None:
    value = text.strip().upper()
    if not value:
        return None
    if value in {"Y", "YES", "1", "TRUE"}:
        return True
    if value in {"N", "NO", "0", "FALSE"}:
        return False
    raise ValueError("expected Y or N")


def _date(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    if match is None:
        raise ValueError("expected a date M/D/YYYY")
    try:
        return dt.date(int(match[3]), int(match[1]), int(match[2])).isoformat()
    except ValueError:
        raise ValueError("expected a date M/D/YYYY") from None


KINDS: dict[str, Callable[[str], object]] = {
    "whole": _whole,
    "signed": _signed,
    "text": _text,
    "district": _district,
    "division": _division,
    "area": _area,
    "club": _club,
    "status": _status,
    "code": _code,
    "yesno": _yesno,
    "date": _date,
}


@frozen
class Column:
    """One column of a report.

    :param field: the field the tables use.
    :param title: the heading messages name it by (the closed years' form).
    :param headings: every heading the dashboard has used for it (matched normalized).
    :param kind: a key of :data:`KINDS`.
    :param required: whether a report without it is broken.
    """

    field: str
    title: str
    kind: str
    headings: tuple[str, ...] = ()
    required: bool = True

    def matches(self, normalized: str) -> bool:
        return normalized in {normalize_heading(h) for h in (self.title, *self.headings)}


def _c(field: str, title: str, kind: str, *more: str, required: bool = True) -> Column:
    return Column(field, title, kind, more, required)


_PLACE = (
    _c("district", "District", "district"),
    _c("division", "Division", "division"),
    _c("area", "Area", "area"),
    _c("club_number", "Club Number", "club", "Club"),
    _c("club_name", "Club Name", "text"),
)

CLUB_PERFORMANCE: tuple[Column, ...] = (
    *_PLACE,
    _c("status", "Club Status", "status"),
    _c("membership_base", "Mem. Base", "whole", "Membership Base"),
    _c("active_members", "Active Members", "whole"),
    _c("goals_met", "Goals Met", "whole"),
    _c("level_1s", "Level 1s", "whole", "Level 1s Earned"),
    _c("level_2s", "Level 2s", "whole", "Level 2s Earned"),
    _c("add_level_2s", "Add. Level 2s", "whole", "Add. Level 2s Earned"),
    _c("level_3s", "Level 3s", "whole", "Level 3s Earned"),
    _c(
        "level_4s",
        "Level 4s, Path Completions, or DTM Awards",
        "whole",
        "Level 4s, Level 5s, or DTM Awards",
    ),
    _c(
        "add_level_4s",
        "Add. Level 4s, Path Completions, or DTM award",
        "whole",
        "Add. Level 4s, Path Completions, or DTM Awards",
        "Add. Level 4s, Level 5s, or DTM Awards",
    ),
    _c("new_members", "New Members", "whole"),
    _c("add_new_members", "Add. New Members", "whole"),
    _c("officers_trained_round_1", "Off. Trained Round 1", "whole"),
    _c("officers_trained_round_2", "Off. Trained Round 2", "whole"),
    _c("dues_on_time_oct", "Mem. dues on time Oct", "whole"),
    _c("dues_on_time_apr", "Mem. dues on time Apr", "whole"),
    _c("officer_list_on_time", "Off. List On Time", "whole"),
    _c("distinguished", "Club Distinguished Status", "code", "Distinguished Status"),
    _c("csp", "CSP", "yesno", "Club Success Plan", required=False),
    _c("net_growth", "Net Growth", "signed", required=False),
)
"""The club performance report: membership, goals, education, officers, distinguished status."""

DISTRICT_PERFORMANCE: tuple[Column, ...] = (
    *_PLACE,
    _c("new_paid", "New", "whole"),
    _c("late_renewals", "Late Ren.", "whole"),
    _c("oct_renewals", "Oct. Ren.", "whole"),
    _c("apr_renewals", "Apr. Ren.", "whole"),
    _c("total_renewals", "Total Ren.", "whole"),
    _c("charter_members", "Total Chart.", "whole"),
    _c("total_paid", "Total to Date", "whole"),
    _c("charter_date", "Charter Date/Suspend Date", "date"),
)
"""The district performance report: each club's renewals and charter data."""

DISTRICT_SUMMARY: tuple[Column, ...] = (
    _c("district", "District", "district"),
    _c("total_clubs", "Total Clubs", "whole"),
    _c("active_clubs", "Active Clubs", "whole"),
    _c("suspended_clubs", "Suspended Clubs", "whole"),
    _c("ineligible_clubs", "Ineligible Clubs", "whole"),
    _c("low_clubs", "Low Clubs", "whole"),
    _c("membership_base", "Membership Base", "whole", "Mem. Base", "Paid Club Base"),
    _c("active_members", "Active Members", "whole", "Total Paid Members"),
    _c("distinguished", "Distinguished Clubs", "whole"),
    _c("select_distinguished", "Select Distinguished Clubs", "whole"),
    _c("presidents_distinguished", "President's Distinguished Clubs", "whole"),
    _c("smedley_distinguished", "Smedley Distinguished Clubs", "whole"),
    _c("net_growth", "Net Growth", "signed", required=False),
)
"""The district summary report: one row of totals, checked against the clubs."""

REPORT_COLUMNS: dict[str, tuple[Column, ...]] = {
    "district_summary": DISTRICT_SUMMARY,
    "district_performance": DISTRICT_PERFORMANCE,
    "club_performance": CLUB_PERFORMANCE,
}
