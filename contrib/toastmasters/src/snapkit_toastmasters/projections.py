"""The projections: district ranking and club health, pure functions of a snapshot.

``district_ranking`` ranks the districts by membership change percent (highest first), then
by the share of distinguished clubs, then by membership, then by district id; a district with
no membership base ranks after those with one.

``club_health`` gives, per club, its distinguished progress under the Distinguished Club
Program's rules (goals met and membership: 5, 7, 9 goals for Distinguished, Select, President's
with 20 members or a net growth of 3; 10 goals and 25 members for Smedley), the next level and
what it still needs, and whether it is at risk: fewer active members than the scope's filter
``member_threshold`` (default 12), or membership falling (fewer active members than its base).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.projection import DerivationError, ProjectionInputs
from snapkit_toastmasters.columns import LEVELS
from snapkit_toastmasters.datasets import HEALTH_COLUMNS, RANKING_COLUMNS

DEFAULT_MEMBER_THRESHOLD = 12
"""Clubs with fewer active members than this are at risk (filter ``member_threshold``)."""

PROGRAM: tuple[tuple[str, int, int | None], ...] = (
    ("D", 5, 20),
    ("S", 7, 20),
    ("P", 9, 20),
    ("M", 10, 25),
)
"""Each level's code, goals needed and members needed (``None``: none)."""

NET_GROWTH_INSTEAD = 3
"""A net growth that stands in for 20 members (not for Smedley's 25)."""


def member_threshold(inputs: ProjectionInputs) -> int:
    """The filter ``member_threshold``, checked.

    :raises DerivationError: (``invalid_filter``) if it is not a non-negative whole number.
    """
    value = inputs.filter("member_threshold", DEFAULT_MEMBER_THRESHOLD)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DerivationError(
            "filter 'member_threshold' must be a non-negative whole number", reason="invalid_filter"
        )
    return value


def derive_district_ranking(inputs: ProjectionInputs) -> dict[str, Any]:
    """The districts ranked (see the module's docstring)."""
    dates = {row["district_id"]: row["data_as_of"] for row in inputs.records("tm_districts")}
    rows = [dict(row) for row in inputs.records("tm_district_statistics")]

    def order(row: Mapping[str, Any]) -> tuple[Any, ...]:
        pct = row["membership_change_pct"]
        district = row["district_id"]
        return (
            pct is None,
            -(pct or 0.0),
            -(row["distinguished_pct"] or 0.0),
            -row["membership_total"],
            (0, int(district), "") if district.isdigit() else (1, 0, district),
        )

    ranked = []
    for rank, row in enumerate(sorted(rows, key=order), start=1):
        ranked.append(
            {
                name: (
                    rank
                    if name == "rank"
                    else dates.get(row["district_id"])
                    if name == "data_as_of"
                    else row[name]
                )
                for name in RANKING_COLUMNS
            }
        )
    return {"districts": ranked}


def progress(goals: int, members: int, change: int) -> dict[str, Any]:
    """A club's distinguished progress: the highest level its goals and membership reach,
    the next level, and the goals and members it still needs for it."""
    reached: str | None = None
    for code, goals_needed, members_needed in PROGRAM:
        if goals >= goals_needed and _members_ok(code, members, change, members_needed):
            reached = code
    codes = [code for code, _g, _m in PROGRAM]
    following = (
        codes[codes.index(reached) + 1]
        if reached in codes[:-1]
        else (codes[0] if reached is None else None)
    )
    if following is None:
        return {
            "projected_level": LEVELS[reached] if reached else None,
            "next_level": None,
            "goals_to_next_level": 0,
            "members_to_next_level": 0,
        }
    _code, goals_needed, members_needed = PROGRAM[codes.index(following)]
    missing_members = 0
    if members_needed is not None and not _members_ok(following, members, change, members_needed):
        missing_members = members_needed - members
        if following != "M":
            missing_members = min(missing_members, NET_GROWTH_INSTEAD - change)
    return {
        "projected_level": LEVELS[reached] if reached else None,
        "next_level": LEVELS[following],
        "goals_to_next_level": max(0, goals_needed - goals),
        "members_to_next_level": max(0, missing_members),
    }


def _members_ok(code: str, members: int, change: int, needed: int | None) -> bool:
    if needed is None or members >= needed:
        return True
    return code != "M" and change >= NET_GROWTH_INSTEAD


def derive_club_health(inputs: ProjectionInputs) -> dict[str, Any]:
    """Per club: distinguished progress and risk; the count of clubs at risk per district."""
    threshold = member_threshold(inputs)
    clubs = []
    at_risk: dict[str, int] = {}
    for club in inputs.records("tm_clubs"):
        reasons = []
        if club["active_members"] < threshold:
            reasons.append("below_member_threshold")
        if club["active_members"] < club["membership_base"]:
            reasons.append("membership_falling")
        row = {name: club[name] for name in HEALTH_COLUMNS if name in club}
        code = club["distinguished"]
        row["distinguished_level"] = LEVELS[code] if code else None
        row.update(progress(club["goals_met"], club["active_members"], club["member_change"]))
        row["at_risk"] = bool(reasons)
        row["risk_reasons"] = ";".join(reasons)
        clubs.append({name: row[name] for name in HEALTH_COLUMNS})
        if reasons:
            at_risk[club["district_id"]] = at_risk.get(club["district_id"], 0) + 1
    return {
        "member_threshold": threshold,
        "clubs": clubs,
        "at_risk": sum(at_risk.values()),
        "at_risk_by_district": at_risk,
    }
