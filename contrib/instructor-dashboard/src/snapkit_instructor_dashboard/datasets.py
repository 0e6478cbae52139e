"""The datasets of the ``instructor_dashboard`` export profile: rows from projection values.

Each ``*_rows(projections)`` takes the values of the projections its dataset declares (by
key) and yields one mapping per row; the export rounds and formats the numbers with
:func:`snapkit.parity.format_cell`, as a UI does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from snapkit.descriptors import DatasetDescriptor, FailurePolicy
from snapkit_instructor_dashboard.keys import (
    ASSESSMENTS,
    PROFILE,
    PROGRESS,
    STUDENT_SUPPORT,
    SUMMARY,
)

Rows = Iterator[Mapping[str, Any]]

_METADATA_FIELDS = (
    "snapshot_id",
    "namespace",
    "class_id",
    "class_title",
    "class_code",
    "grading_category_id",
    "grading_category_title",
    "as_of",
)


def dashboard_metadata_rows(projections: Mapping[str, Any]) -> Rows:
    """``field, value``: the snapshot, the class, the date, then ``filter.<name>`` per filter."""
    summary = projections[SUMMARY]
    for name in _METADATA_FIELDS:
        yield {"field": name, "value": summary[name]}
    for name, value in summary["filters"].items():
        yield {"field": f"filter.{name}", "value": value}


def course_summary_metrics_rows(projections: Mapping[str, Any]) -> Rows:
    """``metric, value, unit``: the summary's metrics in their order."""
    yield from projections[SUMMARY]["metrics"]


def student_progress_rows(projections: Mapping[str, Any]) -> Rows:
    """``content_item, students_completed, completion_rate``: one row per line item."""
    for item in projections[PROGRESS]["line_items"]:
        yield {
            "content_item": item["title"],
            "students_completed": item["students_completed"],
            "completion_rate": item["completion_rate"],
        }


def student_support_summary_rows(projections: Mapping[str, Any]) -> Rows:
    """``category, student_count, percentage``: each category, then ``inactive`` (a flag
    that overlaps the categories)."""
    from snapkit_instructor_dashboard.projections import CATEGORIES  # loads the kernel's engine

    support = projections[STUDENT_SUPPORT]
    for category in CATEGORIES:
        yield {
            "category": category,
            "student_count": support["counts"][category],
            "percentage": support["percentages"][category],
        }
    yield {
        "category": "inactive",
        "student_count": support["inactive"],
        "percentage": support["inactive_percentage"],
    }


_SUPPORT_LIST_COLUMNS = (
    "student_id",
    "student_name",
    "progress_pct",
    "proficiency_pct",
    "support_category",
    "inactive",
)


def student_support_list_rows(projections: Mapping[str, Any]) -> Rows:
    """``student_id, student_name, progress_pct, proficiency_pct, support_category,
    inactive``: one row per student on the roster."""
    students = projections[STUDENT_SUPPORT]["students"]
    for row in zip(
        students["student"],
        students["name"],
        students["progress_pct"],
        students["proficiency_pct"],
        students["category"],
        students["inactive"],
    ):
        yield dict(zip(_SUPPORT_LIST_COLUMNS, row))


def assessment_scores_distribution_rows(projections: Mapping[str, Any]) -> Rows:
    """``assessment_name, score_range, student_count``: ten rows per line item."""
    for item in projections[ASSESSMENTS]["line_items"]:
        for bucket in item["buckets"]:
            yield {
                "assessment_name": item["title"],
                "score_range": bucket["range"],
                "student_count": bucket["count"],
            }


def assessment_summary_rows(projections: Mapping[str, Any]) -> Rows:
    """One row per line item: dates, completion and score statistics (percent)."""
    for item in projections[ASSESSMENTS]["line_items"]:
        yield {
            "assessment_name": item["title"],
            "available_from": item["available_from"],
            "due_date": item["due_date"],
            "students_completed": item["students_completed"],
            "students_not_completed": item["students_not_completed"],
            "score_min": item["min"],
            "score_median": item["median"],
            "score_mean": item["mean"],
            "score_max": item["max"],
            "score_std_dev": item["std_dev"],
        }


def _dataset(
    key: str,
    columns: tuple[str, ...],
    projection: str,
    rows: Any,
    policy: FailurePolicy,
    description: str,
) -> DatasetDescriptor:
    return DatasetDescriptor(
        key=key,
        version="1",
        factory=lambda settings: rows,
        file_name=f"{key}.csv",
        columns=columns,
        requires=(projection,),
        serializer="csv",
        policy=policy,
        profiles=(PROFILE,),
        description=description,
    )


DATASETS: tuple[DatasetDescriptor, ...] = (
    _dataset(
        "dashboard_metadata",
        ("field", "value"),
        SUMMARY,
        dashboard_metadata_rows,
        "fail_closed",
        "the snapshot, class, date and filters of the export",
    ),
    _dataset(
        "course_summary_metrics",
        ("metric", "value", "unit"),
        SUMMARY,
        course_summary_metrics_rows,
        "allow_partial_with_manifest",
        "course-level metrics",
    ),
    _dataset(
        "student_progress",
        ("content_item", "students_completed", "completion_rate"),
        PROGRESS,
        student_progress_rows,
        "fail_closed",
        "completion per line item",
    ),
    _dataset(
        "student_support_summary",
        ("category", "student_count", "percentage"),
        STUDENT_SUPPORT,
        student_support_summary_rows,
        "fail_closed",
        "students per support category",
    ),
    _dataset(
        "student_support_list",
        _SUPPORT_LIST_COLUMNS,
        STUDENT_SUPPORT,
        student_support_list_rows,
        "fail_closed",
        "every student with progress, proficiency and support category",
    ),
    _dataset(
        "assessment_scores_distribution",
        ("assessment_name", "score_range", "student_count"),
        ASSESSMENTS,
        assessment_scores_distribution_rows,
        "allow_partial_with_manifest",
        "score distribution per line item, ten ranges",
    ),
    _dataset(
        "assessment_summary",
        (
            "assessment_name",
            "available_from",
            "due_date",
            "students_completed",
            "students_not_completed",
            "score_min",
            "score_median",
            "score_mean",
            "score_max",
            "score_std_dev",
        ),
        ASSESSMENTS,
        assessment_summary_rows,
        "fail_closed",
        "dates, completion and score statistics per line item",
    ),
)
"""Every dataset of the ``instructor_dashboard`` profile."""
