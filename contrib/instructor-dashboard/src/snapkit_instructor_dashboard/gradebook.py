"""The gradebook index every instructor-dashboard projection builds on, and its filters.

The index is built once per derivation run (through ``inputs.shared``) from the results
table (one record per line item with aligned, dictionary-encoded columns: see
:func:`snapkit_instructor_dashboard.oracles.group_results`), laid out as line item x student
matrices with numpy (imported on the first build, so that loading the plugin stays cheap).
Its rules, in one place:

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

import bisect
import datetime as dt
from collections.abc import Mapping, Sequence
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
            raise DerivationError(f"filter {name!r} must not be negative", reason="invalid_filter")
        effective[name] = value
    if not isinstance(effective["min_scored_items"], int):
        raise DerivationError(
            "filter 'min_scored_items' must be an integer", reason="invalid_filter"
        )
    as_of = filters.get("as_of")
    if as_of is not None:
        try:
            dt.date.fromisoformat(str(as_of)[:10])
        except ValueError:
            raise DerivationError(
                "filter 'as_of' must be an ISO date (YYYY-MM-DD)", reason="invalid_filter"
            ) from None
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
    scored: int
    """Results with a score that counts (see the module docstring)."""
    min: float | None
    median: float | None
    mean: float | None
    max: float | None
    std_dev: float | None
    """The population standard deviation. The statistics are of the scored results'
    percents, ``None`` without any."""
    buckets: tuple[int, ...]
    """Scored results per ten-point range of percent: bucket *k* holds ``10k <= percent <
    10k + 10`` (100 is in the last); a percent a rounding error (1e-9) under a multiple of
    ten is taken as that multiple (6 / 20 * 100 computes as 29.999999999999996)."""


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
    return tuple(
        (f"{given} {family}" if given and family else given or family or "").strip()
        for given, family in ((r.get("givenName"), r.get("familyName")) for r in records)
    )


def _date(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _item_order(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        record.get("dueDate") or "9999",
        record.get("assignDate") or "9999",
        record.get("title") or "",
        record["sourcedId"],
    )


def gradebook(inputs: ProjectionInputs) -> Gradebook:
    """Return the gradebook index of the snapshot, built once per run and shared."""
    book: Gradebook = inputs.shared("instructor_dashboard.gradebook", build_gradebook)
    return book


BUCKET_EDGES = tuple(10.0 * k - 1e-9 for k in range(1, 10))
"""The low ends of score buckets 1-9 (see :attr:`LineItem.buckets`)."""


@frozen
class _Column:
    """One line item's results, restricted to students on the roster: their class
    positions and their aligned columns (numpy arrays)."""

    rows: Any
    """Class positions (an array), or ``slice(None)`` when they are every student's in
    class order (the usual case: assignment without a gather)."""
    n: int
    scores: Any
    status_values: list[Any]
    status_codes: Any
    day_values: list[Any]
    day_codes: Any


_Mapping = tuple[Any, Any, "Any | None"]
"""A results record's students, their rows in class order (as :attr:`_Column.rows`), and
which of them are on the roster (an array of indices; ``None``: all)."""


def _invalid(item: Any, what: str, hint: str | None = None) -> DerivationError:
    return DerivationError(
        f"the results of line item {item!r} {what}", reason="invalid_results", hint=hint
    )


def _codes(np: Any, item: Any, name: str, column: Any, n: int) -> tuple[list[Any], Any]:
    """A dictionary-encoded column's values and codes (checked: codes are integers that
    index the values, one per student)."""
    if (
        not isinstance(column, dict)
        or not isinstance(column.get("values"), list)
        or not isinstance(column.get("codes"), list)
    ):
        raise _invalid(
            item,
            f"have no dictionary-encoded {name}",
            hint=f'{name} must be {{"values": [...], "codes": [...]}}',
        )
    values, listed = column["values"], column["codes"]
    try:  # codes under 256, as one byte each (in C; anything else is refused)
        codes = np.frombuffer(bytes(listed), dtype=np.uint8)
    except (TypeError, ValueError):
        codes = np.asarray(listed)
    if len(codes) != n:
        raise _invalid(
            item,
            "are not aligned",
            hint="students, scores and the codes of scoreStatus and scoreDate "
            "must have equal lengths",
        )
    if n and (
        codes.ndim != 1
        or codes.dtype.kind not in "iu"
        or codes.min() < 0
        or codes.max() >= len(values)
    ):
        raise _invalid(item, f"have {name} codes that are not positions in its values")
    return values, codes


def _column(
    np: Any, record: Mapping[str, Any], position: Mapping[str, int], previous: _Mapping
) -> tuple[_Column, _Mapping]:
    """The line item's column and the mapping of its students to class positions (most
    line items list the same students: the previous mapping is reused when the list is
    equal)."""
    item = record.get("lineItem")
    students, scores = record.get("students"), record.get("scores")
    if (
        not isinstance(students, list)
        or not isinstance(scores, list)
        or len(scores) != len(students)
    ):
        raise _invalid(
            item, "are not aligned", hint="students and scores must be arrays of equal lengths"
        )
    n = len(students)
    statuses, status_codes = _codes(np, item, "scoreStatus", record.get("scoreStatus"), n)
    days, day_codes = _codes(np, item, "scoreDate", record.get("scoreDate"), n)
    try:
        numbers = np.array(scores, dtype=np.float64)  # (null: NaN)
    except (TypeError, ValueError):
        numbers = None
    if numbers is None or numbers.ndim != 1:
        raise _invalid(item, "have a score that is not a number")
    if students == previous[0]:
        mapping = previous
    else:
        positions = list(map(position.get, students))
        keep = None
        if None in positions:  # students not on the roster: ignored
            keep = np.array(
                [k for k, row in enumerate(positions) if row is not None], dtype=np.intp
            )
            positions = [row for row in positions if row is not None]
        if len(set(positions)) != len(positions):
            raise _invalid(
                item, "list a student twice", hint="keep one result per student and line item"
            )
        every = len(positions) == len(position) and positions == list(range(len(positions)))
        rows = slice(None) if every else np.array(positions, dtype=np.intp)
        mapping = (students, rows, keep)
    rows, keep = mapping[1], mapping[2]
    if keep is not None:
        numbers, status_codes, day_codes = numbers[keep], status_codes[keep], day_codes[keep]
    return _Column(rows, len(numbers), numbers, statuses, status_codes, days, day_codes), mapping


def build_gradebook(inputs: ProjectionInputs) -> Gradebook:
    """Build the gradebook index (see the module docstring for the rules).

    The results are laid out as line item x student matrices (numpy), students in *class
    order* (by sourcedId, the order the results oracle lists them in); per-line-item
    figures are rows, per-student figures columns, put in display order at the end. Sums
    run over line items in their order, so the same snapshot gives the same figures.
    """
    import numpy as np

    filters = settings_from(inputs.filters)
    by_name = sorted(
        inputs.table(ROSTER),
        key=lambda r: (r.get("familyName") or "", r.get("givenName") or "", r["sourcedId"]),
    )
    items = sorted(inputs.table(LINE_ITEMS), key=_item_order)
    n_students, n_items = len(by_name), len(items)
    class_ids = sorted(record["sourcedId"] for record in by_name)
    position = {student: s for s, student in enumerate(class_ids)}
    item_index = {record["sourcedId"]: i for i, record in enumerate(items)}

    columns: list[_Column | None] = [None] * n_items
    previous: _Mapping = (None, None, None)
    for record in inputs.table(RESULTS):
        i = item_index.get(record.get("lineItem"))
        if i is None:  # another class's (or category's) line item
            continue
        if columns[i] is not None:
            raise DerivationError(
                f"line item {items[i]['sourcedId']!r} has two results records",
                reason="invalid_results",
            )
        columns[i], previous = _column(np, record, position, previous)

    # days (a date's first ten characters) as positions in the sorted list of every day the
    # results name ("no day": -1)
    named = {
        _date(value) for column in columns if column is not None for value in column.day_values
    }
    days = sorted(day for day in named if day is not None)
    day_index: dict[str | None, int] = {day: k for k, day in enumerate(days)}
    day_positions: list[Any] = [None] * n_items
    latest = -1
    for i, column in enumerate(columns):
        if column is not None and column.n:
            lookup = np.array(
                [day_index.get(_date(value), -1) for value in column.day_values], np.intp
            )
            day_positions[i] = lookup[column.day_codes]
            latest = max(latest, int(day_positions[i].max()))
    as_of = filters.get("as_of") or (days[latest] if latest >= 0 else None)
    counted = [as_of is None or (_date(r.get("dueDate")) or "") <= as_of for r in items]

    done = np.zeros((n_items, n_students), dtype=bool)
    scored = np.zeros((n_items, n_students), dtype=bool)
    percents = np.zeros((n_items, n_students), dtype=np.float64)
    activity = np.full((n_items, n_students), -1, dtype=np.intp)
    item_completed = [0] * n_items
    results = 0
    for i, (record, column) in enumerate(zip(items, columns)):
        if column is None or not column.n:
            continue
        results += column.n
        rows = column.rows
        status = column.status_values
        completed_status = np.array([v in COMPLETED_STATUSES for v in status], dtype=bool)
        exempt_status = np.array([v == "exempt" for v in status], dtype=bool)
        item_done = completed_status[column.status_codes]
        item_completed[i] = int(np.count_nonzero(item_done))
        done[i, rows] = item_done
        activity[i, rows] = np.where(item_done, day_positions[i], -1)
        low, high = record.get("resultValueMin"), record.get("resultValueMax")
        low = 0.0 if low is None else float(low)
        high = 100.0 if high is None else float(high)
        if high - low <= 0:  # no score range: nothing is scored
            continue
        item_scored = ~np.isnan(column.scores) & ~exempt_status[column.status_codes]
        percent = np.clip((column.scores - low) * (100.0 / (high - low)), 0.0, 100.0)
        percent[~item_scored] = 0.0
        scored[i, rows] = item_scored
        percents[i, rows] = percent

    sums = np.zeros(n_students, dtype=np.float64)
    for row in percents:  # (line item by line item: a fixed order of additions)
        sums += row
    completed_count = (
        done[np.array(counted, dtype=bool)].sum(axis=0)
        if n_items
        else np.zeros(n_students, dtype=np.intp)
    )
    scored_count = scored.sum(axis=0)
    last_day = activity.max(axis=0, initial=-1)
    n_counted = sum(counted)
    minimum = max(filters["min_scored_items"], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fractions = sums / (100.0 * scored_count)
        progress = 100.0 * completed_count / n_counted if n_counted else None
    if as_of is None:
        inactive = np.zeros(n_students, dtype=bool)
    else:
        cutoff = (
            dt.date.fromisoformat(as_of) - dt.timedelta(days=filters["inactivity_days"])
        ).isoformat()
        inactive = last_day < bisect.bisect_left(days, cutoff)  # (no activity: -1)

    display = np.array([position[record["sourcedId"]] for record in by_name], dtype=np.intp)
    enough = (scored_count >= minimum)[display].tolist()
    mean_fraction = tuple(f if ok else None for f, ok in zip(fractions[display].tolist(), enough))
    line_items = tuple(
        LineItem(
            record["sourcedId"],
            record.get("title") or record["sourcedId"],
            record.get("assignDate"),
            record.get("dueDate"),
            counted[i],
            item_completed[i],
            *statistics,
        )
        for i, (record, statistics) in enumerate(zip(items, _statistics(np, percents, scored)))
    )
    return Gradebook(
        student_ids=tuple(record["sourcedId"] for record in by_name),
        names=_names(by_name),
        completed=tuple(completed_count[display].tolist()),
        scored=tuple(scored_count[display].tolist()),
        progress=(
            tuple(progress[display].tolist()) if progress is not None else (None,) * n_students
        ),
        mean_fraction=mean_fraction,
        last_activity=tuple(days[k] if k >= 0 else None for k in last_day[display].tolist()),
        inactive=tuple(inactive[display].tolist()),
        line_items=line_items,
        counted_items=n_counted,
        results=results,
        as_of=as_of,
        filters=filters,
    )


def _statistics(np: Any, percents: Any, scored: Any) -> list[tuple[Any, ...]]:
    """Per line item (a row of the matrices): the scored count, min, median, mean, max,
    population standard deviation and buckets of its scored percents, for
    :class:`LineItem` (vectorized over the line items, a median by partition per row)."""
    counts = scored.sum(axis=1)
    # per line item, the scored percents under each bucket's low end; buckets are the steps
    below = [np.count_nonzero((percents < edge) & scored, axis=1) for edge in BUCKET_EDGES]
    buckets = np.diff(np.stack([np.zeros_like(counts), *below, counts], axis=1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = percents.sum(axis=1) / counts  # (an unscored result's percent is 0)
        deviations = np.where(scored, percents - means[:, None], 0.0)
        std_devs = np.sqrt((deviations * deviations).sum(axis=1) / counts)
    lows = np.where(scored, percents, np.inf).min(axis=1, initial=np.inf)
    highs = np.where(scored, percents, -np.inf).max(axis=1, initial=-np.inf)
    medians: list[float | None] = []
    for row, mask, n in zip(percents, scored, counts.tolist()):
        if not n:
            medians.append(None)
            continue
        middle = [(n - 1) // 2, n // 2]
        low, high = np.partition(row[mask], middle)[middle].tolist()
        medians.append((low + high) / 2)
    return [
        (n, low, median, mean, high, std, tuple(counts_))
        if n
        else (0, None, None, None, None, None, tuple(counts_))
        for n, low, median, mean, high, std, counts_ in zip(
            counts.tolist(),
            lows.tolist(),
            medians,
            means.tolist(),
            highs.tolist(),
            std_devs.tolist(),
            buckets.tolist(),
        )
    ]


def class_info(inputs: ProjectionInputs) -> Mapping[str, Any] | None:
    """The class record's payload, or ``None`` when the snapshot lacks it."""
    return inputs.payload(CLASS) if inputs.has(CLASS) else None
