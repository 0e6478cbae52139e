"""The datasets of the ``toastmasters`` export profile: CSV files from the projections."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from snapkit.descriptors import DatasetDescriptor

PROFILE = "toastmasters"
"""The export profile."""

Rows = Iterator[Mapping[str, Any]]

RANKING_COLUMNS: tuple[str, ...] = (
    "rank", "district_id", "data_as_of", "clubs_total", "clubs_active", "clubs_low",
    "clubs_suspended", "clubs_ineligible", "membership_base", "membership_total",
    "membership_change", "membership_change_pct", "distinguished_total", "distinguished_pct",
)  # fmt: skip
"""Columns of ``district_ranking.csv`` (those of the projection's rows)."""

HEALTH_COLUMNS: tuple[str, ...] = (
    "club_number", "club_name", "district_id", "division", "area", "status",
    "membership_base", "active_members", "member_change", "goals_met", "distinguished",
    "distinguished_level", "projected_level", "next_level", "goals_to_next_level",
    "members_to_next_level", "at_risk", "risk_reasons",
)  # fmt: skip
"""Columns of ``club_health.csv`` and ``clubs_at_risk.csv``."""


def ranking_rows(projections: Mapping[str, Any]) -> Rows:
    """One row per district, in rank order."""
    yield from projections["district_ranking"]["districts"]


def health_rows(projections: Mapping[str, Any]) -> Rows:
    """One row per club, by club number."""
    yield from projections["club_health"]["clubs"]


def at_risk_rows(projections: Mapping[str, Any]) -> Rows:
    """The clubs at risk, by club number."""
    for club in projections["club_health"]["clubs"]:
        if club["at_risk"]:
            yield club


def _dataset(
    key: str, columns: tuple[str, ...], projection: str, rows: Any, description: str
) -> DatasetDescriptor:
    return DatasetDescriptor(
        key=key,
        version="1",
        factory=lambda settings: rows,
        file_name=f"{key}.csv",
        columns=columns,
        requires=(projection,),
        serializer="csv",
        policy="fail_closed",
        profiles=(PROFILE,),
        description=description,
    )


DATASETS: tuple[DatasetDescriptor, ...] = (
    _dataset(
        "district_ranking",
        RANKING_COLUMNS,
        "district_ranking",
        ranking_rows,
        "the districts ranked by membership change",
    ),
    _dataset(
        "club_health",
        HEALTH_COLUMNS,
        "club_health",
        health_rows,
        "every club's distinguished progress and risk",
    ),
    _dataset(
        "clubs_at_risk",
        HEALTH_COLUMNS,
        "club_health",
        at_risk_rows,
        "clubs under the member threshold or with membership falling",
    ),
)
"""Every dataset of the ``toastmasters`` profile."""
