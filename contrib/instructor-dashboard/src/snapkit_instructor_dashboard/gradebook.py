"""The gradebook index every instructor-dashboard projection builds on, and its filters.

The index is built once per derivation run (through ``inputs.shared``) in one pass over the
class's results. Its rules, in one place:

- **students**: the roster (active student enrollments of the class), sorted by family name,
  given name, then sourcedId;
- **line items**: those of the class (and of the scope's grading category, when the scope has
  a container), sorted by due date, assign date, title, sourcedId;
- **as of**: the date the dashboard is computed for: ``filters.as_of`` (ISO date) if given,
  else the date of the newest result of the class. The snapshot's capture time is never used,
  so the same snapshot always gives the same numbers;
- **counted line items**: those due on or before *as of* (all of them when there is no date);
- **completed**: a result whose ``scoreStatus`` is ``fully graded``, ``partially graded`` or
  ``submitted``;
- **scored**: a result with a score that is not ``exempt``; its fraction is
  ``(score - resultValueMin) / (resultValueMax - resultValueMin)``, clamped to [0, 1]
  (max 100 and min 0 when absent); a student's results for another class's line items, or of
  students not on the roster, are ignored; of two results of one student for one line item,
  the newer (``scoreDate``, then sourcedId) counts;
- **last activity**: the newest ``scoreDate`` of a student's completed results (a
  ``not submitted`` entry a teacher records is not the student's activity).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from attrs import frozen
from snapkit.projection import DerivationError, ProjectionInputs

from snapkit_instructor_dashboard.keys import CLASS, LINE_ITEMS, RESULTS, ROSTER

COMPLETED_STATUSES = frozenset({"fully graded", "partially graded", "submitted"})

DEFAULT_FILTERS: Mapping[str, Any] = {
    "completion_threshold": 80,
    "inactivity_days": 7,
    "min_scored_items": 3,
    "proficiency_low_max": 0.4,
    "proficiency_medium_max": 0.8,
    "excelling_progress_at_least": 80,
    "excelling_proficiency_at_least": 80,
    "struggling_progress_below": 40,
    "struggling_proficiency_at_most": 40,
    "on_track_progress_at_least": 40,
    "on_track_proficiency_at_least": 40,
}
"""Every filter the projections read, with its default. Percentages are 0-100; the
proficiency levels are fractions (0-1); ``as_of`` (an ISO date) has no default."""


def settings_from(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Return the effective filters: defaults overlaid by the scope's filters, checked.

    :raises DerivationError: (``invalid_filter``) naming the filter, if a value has the wrong
        type or range.
    """
    effective = dict(DEFAULT_FILTERS)
    for name, default in DEFAULT_FILTERS.items():
        value = filters.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DerivationError(f"filter {name!r} must be a number", reason="invalid_filter")
        if value < 0:
            raise DerivationError(f"filter {name!r} must not be negative",
                                  reason="invalid_filter")
        effective[name] = value
    if not isinstance(effective["min_scored_items"], int):
        raise DerivationError("filter 'min_scored_items' must be an integer",
                              reason="invalid_filter")
    as_of = filters.get("as_of")
    if as_of is not None:
        try:
            dt.date.fromisoformat(str(as_of)[:10])
        except ValueError:
            raise DerivationError("filter 'as_of' must be an ISO date (YYYY-MM-DD)",
                                  reason="invalid_filter") from None
        effective["as_of"] = str(as_of)[:10]
    return effective


@frozen
class Student:
    """One student on the roster and what the index knows of them."""

    id: str
    name: str
    completed_counted: int
    scored: int
    fraction_sum: float
    last_activity: str | None


@frozen
class LineItem:
    """One line item and its results' summary."""

    id: str
    title: str
    assign_date: str | None
    due_date: str | None
    counted: bool
    completed: int
    percents: tuple[float, ...]


@frozen
class Gradebook:
    """The index: students and line items in display order, and the effective filters."""

    students: tuple[Student, ...]
    line_items: tuple[LineItem, ...]
    counted_items: int
    results: int
    as_of: str | None
    filters: Mapping[str, Any]


def _name(record: Mapping[str, Any]) -> str:
    parts = [record.get("givenName") or "", record.get("familyName") or ""]
    return " ".join(p for p in parts if p).strip()


def _date(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _item_order(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (record.get("dueDate") or "9999", record.get("assignDate") or "9999",
            record.get("title") or "", record["sourcedId"])


def gradebook(inputs: ProjectionInputs) -> Gradebook:
    """Return the gradebook index of the snapshot, built once per run and shared."""
    return inputs.shared("instructor_dashboard.gradebook", build_gradebook)


def build_gradebook(inputs: ProjectionInputs) -> Gradebook:
    """Build the gradebook index (see the module docstring for the rules)."""
    filters = settings_from(inputs.filters)
    roster = sorted(inputs.table(ROSTER),
                    key=lambda r: (r.get("familyName") or "", r.get("givenName") or "",
                                   r["sourcedId"]))
    items = sorted(inputs.table(LINE_ITEMS), key=_item_order)
    student_index = {record["sourcedId"]: i for i, record in enumerate(roster)}
    item_index = {record["sourcedId"]: i for i, record in enumerate(items)}
    bounds = []
    for record in items:
        low = record.get("resultValueMin")
        high = record.get("resultValueMax")
        low = 0.0 if low is None else float(low)
        high = 100.0 if high is None else float(high)
        bounds.append((low, high - low))

    # The newest result per (student, line item), keyed by s * n_items + i. Most pairs have
    # one result, so the first is stored as is and dates are compared only on a collision.
    newest: dict[int, Mapping[str, Any]] = {}
    n_items = len(items)
    latest_date = ""
    find_student, find_item = student_index.get, item_index.get
    keep = newest.setdefault
    for record in inputs.table(RESULTS):
        student, item = record.get("student"), record.get("lineItem")
        if type(student) is dict:
            student = student.get("sourcedId")
        if type(item) is dict:
            item = item.get("sourcedId")
        s = find_student(student)  # type: ignore[arg-type]
        if s is None:
            continue
        i = find_item(item)  # type: ignore[arg-type]
        if i is None:
            continue
        when = record.get("scoreDate") or ""
        if when > latest_date:
            latest_date = when[:10]
        key = s * n_items + i
        previous = keep(key, record)
        if previous is not record and _newer(record, previous):
            newest[key] = record
    latest_date = latest_date[:10]

    as_of = filters.get("as_of") or (latest_date or None)
    counted = [as_of is None or (_date(r.get("dueDate")) or "") <= as_of for r in items]
    n_students = len(roster)
    completed_counted = [0] * n_students
    scored = [0] * n_students
    fraction_sum = [0.0] * n_students
    last: list[str | None] = [None] * n_students
    item_completed = [0] * n_items
    item_percents: list[list[float]] = [[] for _ in range(n_items)]
    completed_statuses = COMPLETED_STATUSES
    for key, record in newest.items():
        s, i = divmod(key, n_items)
        status = record.get("scoreStatus")
        if status in completed_statuses:
            when = (record.get("scoreDate") or "")[:10]
            if when and (last[s] is None or when > last[s]):  # type: ignore[operator]
                last[s] = when
            item_completed[i] += 1
            if counted[i]:
                completed_counted[s] += 1
        score = record.get("score")
        if score is None or status == "exempt":
            continue
        low, span = bounds[i]
        if span <= 0:
            continue
        fraction = (float(score) - low) / span
        if fraction <= 0.0:  # (-0.0 too, as max(0.0, fraction) gave 0.0)
            fraction = 0.0
        elif fraction > 1.0:
            fraction = 1.0
        scored[s] += 1
        fraction_sum[s] += fraction
        item_percents[i].append(round(fraction * 100.0, 9))

    students = tuple(
        Student(record["sourcedId"], _name(record), completed_counted[s], scored[s],
                fraction_sum[s], last[s])
        for s, record in enumerate(roster)
    )
    line_items = tuple(
        LineItem(record["sourcedId"], record.get("title") or record["sourcedId"],
                 record.get("assignDate"), record.get("dueDate"), counted[i],
                 item_completed[i], tuple(item_percents[i]))
        for i, record in enumerate(items)
    )
    return Gradebook(students, line_items, sum(counted), len(newest), as_of, filters)


def _newer(record: Mapping[str, Any], than: Mapping[str, Any]) -> bool:
    """Whether ``record`` replaces ``than`` as a student's result for a line item: a newer
    ``scoreDate`` (the day), then a greater sourcedId."""
    return ((record.get("scoreDate") or "")[:10], record["sourcedId"]) > (
        (than.get("scoreDate") or "")[:10], than["sourcedId"])


def class_info(inputs: ProjectionInputs) -> Mapping[str, Any] | None:
    """The class record's payload, or ``None`` when the snapshot lacks it."""
    return inputs.payload(CLASS) if inputs.has(CLASS) else None


def progress_pct(student: Student, book: Gradebook) -> float | None:
    """A student's progress: percent of counted line items completed (``None`` if none)."""
    if not book.counted_items:
        return None
    return 100.0 * student.completed_counted / book.counted_items


def mean_fraction(student: Student, book: Gradebook) -> float | None:
    """A student's mean score fraction, or ``None`` under ``min_scored_items`` scores."""
    if student.scored == 0 or student.scored < book.filters["min_scored_items"]:
        return None
    return student.fraction_sum / student.scored


def is_inactive(student: Student, book: Gradebook) -> bool:
    """Whether a student's last activity is older than ``inactivity_days`` before *as of*
    (a student without any result is inactive; with no *as of*, nobody is)."""
    if book.as_of is None:
        return False
    if student.last_activity is None:
        return True
    gap = dt.date.fromisoformat(book.as_of) - dt.date.fromisoformat(student.last_activity)
    return gap.days > book.filters["inactivity_days"]
