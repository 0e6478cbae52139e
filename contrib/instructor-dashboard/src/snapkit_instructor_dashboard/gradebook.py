"""The gradebook index every instructor-dashboard projection builds on, and its filters.

The index is built once per derivation run (through ``inputs.shared``), a line item at a
time over the results table (one record per line item with aligned arrays: see
:func:`snapkit_instructor_dashboard.oracles.group_results`). Its rules, in one place:

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
- **scored**: a result with a score that is not ``exempt``; its percent is
  ``(score - resultValueMin) * 100 / (resultValueMax - resultValueMin)``, clamped to
  [0, 100] (max 100 and min 0 when absent), and its fraction that over 100; results of
  students not on the roster, and results records of line items not in the class (or not in
  the scope's category), are ignored; one student has at most one result per line item (the
  oracle keeps the newer of two: ``scoreDate``, then sourcedId);
- **last activity**: the newest ``scoreDate`` of a student's completed results (a
  ``not submitted`` entry a teacher records is not the student's activity);
- **inactive**: last activity more than ``filters.inactivity_days`` before *as of*, or none
  (with no *as of*, nobody is inactive).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
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
class LineItem:
    """One line item and its results' summary."""

    id: str
    title: str
    assign_date: str | None
    due_date: str | None
    counted: bool
    completed: int
    percents: tuple[float, ...]
    """The percent (of the score range) of every scored result, ascending."""


@frozen
class Gradebook:
    """The index: students (as aligned columns, in display order) and line items, with the
    effective filters. Every per-student list is indexed like ``student_ids``."""

    student_ids: tuple[str, ...]
    names: tuple[str, ...]
    completed: tuple[int, ...]
    """Counted line items completed."""
    scored: tuple[int, ...]
    """Line items with a score that counts toward proficiency."""
    progress: tuple[float | None, ...]
    """Percent of counted line items completed (``None`` when none are counted)."""
    mean_fraction: tuple[float | None, ...]
    """Mean score fraction (``None`` under ``min_scored_items`` scores)."""
    last_activity: tuple[str | None, ...]
    inactive: tuple[bool, ...]
    line_items: tuple[LineItem, ...]
    counted_items: int
    results: int
    as_of: str | None
    filters: Mapping[str, Any]


def _names(records: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Display names: given name, then family name, either left out when empty."""
    return tuple((f"{given} {family}" if given and family else given or family or "").strip()
                 for given, family in ((r.get("givenName"), r.get("familyName"))
                                       for r in records))


def _date(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _item_order(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (record.get("dueDate") or "9999", record.get("assignDate") or "9999",
            record.get("title") or "", record["sourcedId"])


def gradebook(inputs: ProjectionInputs) -> Gradebook:
    """Return the gradebook index of the snapshot, built once per run and shared."""
    return inputs.shared("instructor_dashboard.gradebook", build_gradebook)


_NOT_NONE = functools.partial(operator.is_not, None)
_NUMBERS = frozenset({float, type(None)})

Align = Callable[[list[Any], Any], Sequence[Any]]
"""Lays a line item's aligned list out in class order (one entry per student), with a fill
value for students without a result."""


@frozen
class _Column:
    """One line item's results, restricted to students on the roster (aligned lists)."""

    rows: list[int]
    scores: list[Any]
    statuses: list[Any]
    dates: list[Any]


_Mapping = tuple[Any, list[int], "list[int] | None"]
"""A results record's students, their positions in class order, and which of them are on
the roster (``None``: all)."""


def _column(record: Mapping[str, Any], position: Mapping[str, int],
            previous: _Mapping) -> tuple[_Column, _Mapping]:
    """The line item's column and the mapping of its students to class positions (most
    line items list the same students: the previous mapping is reused when the list is
    equal)."""
    item = record.get("lineItem")
    arrays = [record.get(name) for name in ("students", "scores", "scoreStatuses",
                                            "scoreDates")]
    if not all(isinstance(a, list) for a in arrays) or len({len(a) for a in arrays}) != 1:
        raise DerivationError(
            f"the results of line item {item!r} are not four aligned arrays",
            reason="invalid_results",
            hint="students, scores, scoreStatuses and scoreDates must have equal lengths")
    students, scores, statuses, dates = arrays
    if students == previous[0]:
        mapping = previous
    else:
        positions = list(map(position.get, students))
        keep = None
        if type(None) in set(map(type, positions)):  # students not on the roster: ignored
            keep = [k for k, row in enumerate(positions) if row is not None]
        mapping = (students, positions, keep)  # type: ignore[assignment]
    rows, keep = mapping[1], mapping[2]
    if keep is not None:
        rows, scores, statuses, dates = ([seq[k] for k in keep]
                                         for seq in (rows, scores, statuses, dates))
    return _Column(rows, scores, statuses, dates), mapping


def _aligner(rows: list[int], identity: list[int], item: str) -> Align:
    """Return the :data:`Align` of a line item whose results are of the students at class
    positions ``rows`` (``identity``: every student, in class order)."""
    if rows == identity:
        return lambda values, fill: values
    absent = len(rows)
    where = [absent] * len(identity)
    for k, row in enumerate(rows):
        if where[row] != absent:
            raise DerivationError(f"line item {item!r} lists a student twice",
                                  reason="invalid_results",
                                  hint="keep one result per student and line item")
        where[row] = k
    if len(where) == 1:
        return lambda values, fill: ([*values, fill][where[0]],)
    gather = operator.itemgetter(*where)
    return lambda values, fill: gather([*values, fill])


def _positions(values: list[Any], wanted: Any) -> Iterator[int]:
    """Yield the positions of ``wanted`` in ``values`` (``list.index`` scans in C: cheap
    when ``wanted`` is rare and compares by identity or as a string)."""
    k = -1
    find = values.index
    while True:
        try:
            k = find(wanted, k + 1)
        except ValueError:
            return
        yield k


def _percents(column: _Column, low: float, span: float) -> tuple[list[float], list[bool]]:
    """Each result's score as a percent of the line item's range (``(score - low) * (100 /
    span)``, unclamped), and whether it counts as scored (it has a score and is not exempt);
    an unscored result's percent is 0.0."""
    n = len(column.rows)
    if span <= 0:
        return [0.0] * n, [False] * n
    scores = column.scores
    kinds = set(map(type, scores))  # (None found by type: float == None is a slow compare)
    scored = list(map(_NOT_NONE, scores)) if type(None) in kinds else [True] * n
    scale = 100.0 / span
    if low == 0.0 and scale == 1.0 and kinds <= _NUMBERS:  # scores out of 100: as they are
        percents = scores.copy()
        for k in _positions(scored, False):
            percents[k] = 0.0
    else:
        percents = [0.0 if x is None else (x - low) * scale for x in scores]
    for k in _positions(column.statuses, "exempt"):
        percents[k] = 0.0
        scored[k] = False
    return percents, scored


def _clamp(percents: list[float]) -> list[float]:
    return [0.0 if p < 0.0 else 100.0 if p > 100.0 else p for p in percents]


def build_gradebook(inputs: ProjectionInputs) -> Gradebook:
    """Build the gradebook index (see the module docstring for the rules).

    Work is done a line item at a time with builtins over its aligned arrays, in *class
    order* (students by sourcedId, the order the results oracle lists them in, so that
    usually no reordering is needed); per-student figures come from those columns
    transposed, and are put in display order at the end.
    """
    filters = settings_from(inputs.filters)
    by_name = sorted(inputs.table(ROSTER),
                     key=lambda r: (r.get("familyName") or "", r.get("givenName") or "",
                                    r["sourcedId"]))
    items = sorted(inputs.table(LINE_ITEMS), key=_item_order)
    n_students = len(by_name)
    class_ids = sorted(record["sourcedId"] for record in by_name)
    position = {student: s for s, student in enumerate(class_ids)}
    identity = list(range(n_students))
    item_index = {record["sourcedId"]: i for i, record in enumerate(items)}

    columns: list[_Column | None] = [None] * len(items)
    latest = ""
    previous: _Mapping = (None, [], None)
    for record in inputs.table(RESULTS):
        i = item_index.get(record.get("lineItem"))
        if i is None:  # another class's (or category's) line item
            continue
        if columns[i] is not None:
            raise DerivationError(f"line item {items[i]['sourcedId']!r} has two results "
                                  "records", reason="invalid_results")
        column, previous = _column(record, position, previous)
        columns[i] = column
        newest = max(filter(None, column.dates), default="")
        if newest > latest:
            latest = newest
    as_of = filters.get("as_of") or (latest[:10] or None)

    counted = [as_of is None or (_date(r.get("dueDate")) or "") <= as_of for r in items]
    completed_statuses = COMPLETED_STATUSES.__contains__
    item_completed = [0] * len(items)
    item_percents: list[tuple[float, ...]] = [()] * len(items)
    done_columns: list[Sequence[bool]] = []
    activity_columns: list[Sequence[str]] = []
    percent_columns: list[Sequence[float]] = []
    scored_columns: list[Sequence[bool]] = []
    align: Align | None = None
    aligned_rows: list[int] | None = None
    results = 0
    for i, (record, column) in enumerate(zip(items, columns)):
        if column is None or not column.rows:
            continue
        results += len(column.rows)
        if align is None or column.rows is not aligned_rows:
            align, aligned_rows = _aligner(column.rows, identity, record["sourcedId"]), \
                column.rows
        done = list(map(completed_statuses, column.statuses))
        item_completed[i] = done.count(True)
        if counted[i]:
            done_columns.append(align(done, False))
        dates = column.dates
        if not all(dates):  # no date (None or "") is no activity
            dates = [d or "" for d in dates]
        activity_columns.append(align(list(map(operator.mul, dates, done)), ""))
        low, high = record.get("resultValueMin"), record.get("resultValueMax")
        low = 0.0 if low is None else float(low)
        high = 100.0 if high is None else float(high)
        percents, scored_flags = _percents(column, low, high - low)
        ordered = sorted(itertools.compress(percents, scored_flags))
        if ordered and (ordered[0] < 0.0 or ordered[-1] > 100.0):
            percents, ordered = _clamp(percents), _clamp(ordered)  # (order is kept)
        item_percents[i] = tuple(ordered)
        percent_columns.append(align(percents, 0.0))
        scored_columns.append(align(scored_flags, False))

    completed = (tuple(map(sum, zip(*done_columns))) if done_columns
                 else (0,) * n_students)
    last = (tuple(d[:10] or None for d in map(max, zip(*activity_columns)))
            if activity_columns else (None,) * n_students)
    scored = (tuple(map(sum, zip(*scored_columns))) if scored_columns
              else (0,) * n_students)
    sums = (tuple(map(math.fsum, zip(*percent_columns))) if percent_columns
            else (0.0,) * n_students)
    minimum = max(filters["min_scored_items"], 1)
    mean_fraction = tuple(total / (100.0 * count) if count >= minimum else None
                          for total, count in zip(sums, scored))
    n_counted = sum(counted)
    progress = (tuple(100.0 * c / n_counted for c in completed) if n_counted
                else (None,) * n_students)
    inactive: tuple[bool, ...]
    if as_of is None:
        inactive = (False,) * n_students
    else:
        cutoff = (dt.date.fromisoformat(as_of)
                  - dt.timedelta(days=filters["inactivity_days"])).isoformat()
        inactive = tuple(day is None or day < cutoff for day in last)

    display = [position[record["sourcedId"]] for record in by_name]
    if n_students > 1:
        shown = operator.itemgetter(*display)
    else:
        def shown(values: Sequence[Any]) -> tuple[Any, ...]:
            return tuple(values[s] for s in display)

    line_items = tuple(
        LineItem(record["sourcedId"], record.get("title") or record["sourcedId"],
                 record.get("assignDate"), record.get("dueDate"), counted[i],
                 item_completed[i], item_percents[i])
        for i, record in enumerate(items)
    )
    return Gradebook(
        student_ids=tuple(record["sourcedId"] for record in by_name),
        names=_names(by_name), completed=shown(completed), scored=shown(scored),
        progress=shown(progress), mean_fraction=shown(mean_fraction),
        last_activity=shown(last), inactive=shown(inactive), line_items=line_items,
        counted_items=n_counted, results=results, as_of=as_of, filters=filters)


def class_info(inputs: ProjectionInputs) -> Mapping[str, Any] | None:
    """The class record's payload, or ``None`` when the snapshot lacks it."""
    return inputs.payload(CLASS) if inputs.has(CLASS) else None
