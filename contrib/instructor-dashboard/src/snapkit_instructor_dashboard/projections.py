"""The instructor-dashboard projections: pure functions of a :class:`ProjectionInputs`.

Every one reads the shared gradebook index (:mod:`~snapkit_instructor_dashboard.gradebook`)
and the scope's filters; values are plain JSON (numbers unrounded: views round them with
:func:`snapkit.parity.format_cell`). Percentages are 0-100.

Per-student tables (``progress.per_student``, ``proficiency.students``,
``student_support.students``) are *columnar*: an object of equal-length arrays, one per
column, the students in display order (family name, given name, sourcedId). A class's tables
are then a few arrays rather than thousands of objects repeating their keys; :func:`rows`
turns one into row objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from snapkit.projection import ProjectionInputs
from snapkit_instructor_dashboard.gradebook import Gradebook, class_info, gradebook

CATEGORIES = ("excelling", "on_track", "struggling", "not_enough_information")
"""Support categories, in the order summaries list them."""

LEVELS = ("High", "Medium", "Low", "not enough data")
"""Proficiency levels, in the order summaries list them."""

BUCKETS = tuple(f"{low}-{low + 10}" for low in range(0, 100, 10))
"""The ten score ranges of the assessment distribution (percent of the maximum score);
each holds scores from its low end up to, not including, its high end; 100 is in 90-100."""


def rows(table: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The rows of a columnar table: ``{"a": [1, 2], "b": [3, 4]}`` gives ``[{"a": 1, "b":
    3}, {"a": 2, "b": 4}]``."""
    names = tuple(table)
    return [dict(zip(names, values)) for values in zip(*table.values())]


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


# -- progress ------------------------------------------------------------------------------


def derive_progress(inputs: ProjectionInputs) -> dict[str, Any]:
    """Per line item: students who completed it and the completion rate; per student
    (columnar, ``per_student``): the percent of counted line items completed, their count,
    and whether it reaches ``filters.completion_threshold`` (default 80)."""
    book = gradebook(inputs)
    n = len(book.student_ids)
    threshold = book.filters["completion_threshold"]
    met = [pct is not None and pct >= threshold for pct in book.progress]
    reached = met.count(True)
    per_student = {
        "student": list(book.student_ids),
        "progress_pct": list(book.progress),
        "completed_items": list(book.completed),
        "met_threshold": met,
    }
    return {
        "as_of": book.as_of,
        "completion_threshold": threshold,
        "students": n,
        "counted_line_items": book.counted_items,
        "line_items": [
            {
                "line_item": item.id,
                "title": item.title,
                "due_date": item.due_date,
                "counted": item.counted,
                "students_completed": item.completed,
                "completion_rate": _percent(item.completed, n),
            }
            for item in book.line_items
        ],
        "students_completed": reached,
        "completion_rate": _percent(reached, n),
        "per_student": per_student,
    }


# -- proficiency ---------------------------------------------------------------------------


def level_of(fraction: float | None, filters: Mapping[str, Any]) -> str:
    """The proficiency level of a mean score fraction: Low up to ``proficiency_low_max``
    (0.4), Medium up to ``proficiency_medium_max`` (0.8), High above; ``not enough data`` for
    ``None``."""
    if fraction is None:
        return "not enough data"
    if fraction <= filters["proficiency_low_max"]:
        return "Low"
    if fraction <= filters["proficiency_medium_max"]:
        return "Medium"
    return "High"


def derive_proficiency(inputs: ProjectionInputs) -> dict[str, Any]:
    """Per student (columnar, ``students``): the scored line items, the mean score
    fraction and its level (``not enough data`` under ``filters.min_scored_items`` (3)
    scored line items); the count per level."""
    book = gradebook(inputs)
    levels = [level_of(fraction, book.filters) for fraction in book.mean_fraction]
    counts = {level: levels.count(level) for level in LEVELS}
    students = {
        "student": list(book.student_ids),
        "scored_items": list(book.scored),
        "mean_fraction": list(book.mean_fraction),
        "level": levels,
    }
    return {
        "levels": counts,
        "students": students,
        "min_scored_items": book.filters["min_scored_items"],
    }


# -- student support -----------------------------------------------------------------------


def category_of(
    progress: float | None, proficiency: float | None, filters: Mapping[str, Any]
) -> str:
    """The support category of a student (percentages 0-100), evaluated in the order
    excelling, struggling, on_track, falling back to on_track; ``not_enough_information``
    when either measure is missing."""
    if progress is None or proficiency is None:
        return "not_enough_information"
    if (
        progress >= filters["excelling_progress_at_least"]
        and proficiency >= filters["excelling_proficiency_at_least"]
    ):
        return "excelling"
    if (
        progress < filters["struggling_progress_below"]
        and proficiency <= filters["struggling_proficiency_at_most"]
    ):
        return "struggling"
    if (
        progress >= filters["on_track_progress_at_least"]
        and proficiency >= filters["on_track_proficiency_at_least"]
    ):
        return "on_track"
    return "on_track"


def derive_student_support(inputs: ProjectionInputs) -> dict[str, Any]:
    """Per student (columnar, ``students``): name, progress, proficiency (percent),
    support category, the inactive flag (last activity older than
    ``filters.inactivity_days``, default 7) and the last activity's date; counts per
    category."""
    book = gradebook(inputs)
    proficiency = [None if f is None else 100.0 * f for f in book.mean_fraction]
    categories = [
        category_of(progress, percent, book.filters)
        for progress, percent in zip(book.progress, proficiency)
    ]
    counts = {category: categories.count(category) for category in CATEGORIES}
    inactive_count = book.inactive.count(True)
    students = {
        "student": list(book.student_ids),
        "name": list(book.names),
        "progress_pct": list(book.progress),
        "proficiency_pct": proficiency,
        "category": categories,
        "inactive": list(book.inactive),
        "last_activity": list(book.last_activity),
    }
    n = len(book.student_ids)
    return {
        "as_of": book.as_of,
        "students": students,
        "total": n,
        "counts": counts,
        "percentages": {c: _percent(counts[c], n) for c in CATEGORIES},
        "inactive": inactive_count,
        "inactive_percentage": _percent(inactive_count, n),
        "thresholds": {
            name: book.filters[name]
            for name in sorted(book.filters)
            if name.startswith(("excelling_", "struggling_", "on_track_"))
        },
        "inactivity_days": book.filters["inactivity_days"],
    }


# -- assessments ---------------------------------------------------------------------------


def derive_assessments(inputs: ProjectionInputs) -> dict[str, Any]:
    """Per line item: availability and due dates, students who completed it and who did
    not, and the statistics of its scored results' percents: min, median, mean, max,
    population standard deviation, and the count per :data:`BUCKETS` range (see
    :class:`~snapkit_instructor_dashboard.gradebook.LineItem`)."""
    book = gradebook(inputs)
    n = len(book.student_ids)
    return {
        "line_items": [
            {
                "line_item": item.id,
                "title": item.title,
                "available_from": item.assign_date,
                "due_date": item.due_date,
                "students_completed": item.completed,
                "students_not_completed": n - item.completed,
                "scored": item.scored,
                "min": item.min,
                "median": item.median,
                "mean": item.mean,
                "max": item.max,
                "std_dev": item.std_dev,
                "buckets": [{"range": r, "count": c} for r, c in zip(BUCKETS, item.buckets)],
            }
            for item in book.line_items
        ]
    }


# -- summary -------------------------------------------------------------------------------


def _metrics(book: Gradebook) -> list[dict[str, Any]]:
    progress: list[float] = [p for p in book.progress if p is not None]
    fractions: list[float] = [f for f in book.mean_fraction if f is not None]
    threshold = book.filters["completion_threshold"]
    completed = sum(1 for p in progress if p >= threshold)
    inactive = book.inactive.count(True)
    n = len(book.student_ids)
    mean_fraction_all = _mean(fractions)
    return [
        {"metric": "students", "value": n, "unit": "count"},
        {"metric": "line_items", "value": len(book.line_items), "unit": "count"},
        {"metric": "line_items_due", "value": book.counted_items, "unit": "count"},
        {"metric": "results", "value": book.results, "unit": "count"},
        {"metric": "average_progress", "value": _mean(progress), "unit": "percent"},
        {
            "metric": "average_proficiency",
            "value": None if mean_fraction_all is None else 100.0 * mean_fraction_all,
            "unit": "percent",
        },
        {"metric": "students_completed", "value": completed, "unit": "count"},
        {"metric": "completion_rate", "value": _percent(completed, n), "unit": "percent"},
        {"metric": "inactive_students", "value": inactive, "unit": "count"},
    ]


def derive_summary(inputs: ProjectionInputs) -> dict[str, Any]:
    """The class, the scope, the date the dashboard is computed for, the effective filters,
    and the course summary metrics. Without the class record (an optional oracle) the
    result is partial: the class fields are empty."""
    book = gradebook(inputs)
    info = class_info(inputs) or {}
    container = info.get("container") or {}
    return {
        "snapshot_id": inputs.snapshot_id,
        "namespace": inputs.scope.namespace,
        "class_id": inputs.scope.context,
        "class_title": info.get("title"),
        "class_code": info.get("classCode"),
        "grading_category_id": inputs.scope.container,
        "grading_category_title": container.get("title"),
        "as_of": book.as_of,
        "filters": dict(sorted(book.filters.items())),
        "metrics": _metrics(book),
    }
