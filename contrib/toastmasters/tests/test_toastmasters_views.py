"""Projections (district ranking, club health) and the ``toastmasters`` CSV export."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from toastmasters_helpers import tm_project

import snapkit_serializers.plugin as serializers
from snapkit.export import SnapshotBundle, check_parity, export_snapshot
from snapkit.projection import derive_for_project
from snapkit_toastmasters.generator import Dashboard
from snapkit_toastmasters.projections import progress
from snapkit_toastmasters.server import ServerHandle, serve


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with serve(Dashboard.generate(3, 40, seed=5)) as handle:
        yield handle


@pytest.fixture(scope="module")
def refreshed(server: ServerHandle, tmp_path_factory: pytest.TempPathFactory) -> Any:
    project = tm_project(tmp_path_factory.mktemp("views"), server, filters={"member_threshold": 15})
    project.manager.register(serializers, name="serializers")
    outcome = project.refresh()
    assert outcome.status == "success", outcome.errors
    return project


def test_district_ranking_orders_by_membership_change_percent(
    refreshed: Any, server: ServerHandle
) -> None:
    derived = derive_for_project(refreshed, refreshed.current())
    result = derived["district_ranking"]
    assert result.status == "ready", result.message
    rows = result.value["districts"]
    stats = {s["district_id"]: s for s in server.dashboard.expected_tables()["district_statistics"]}
    expected = sorted(stats, key=lambda d: -stats[d]["membership_change_pct"])
    assert [r["district_id"] for r in rows] == expected
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["membership_change"] == stats[expected[0]]["membership_change"]
    assert rows[0]["data_as_of"] == "2026-09-22"


def test_club_health_uses_the_scopes_member_threshold_and_falling_membership(
    refreshed: Any, server: ServerHandle
) -> None:
    derived = derive_for_project(refreshed, refreshed.current())
    health = derived["club_health"].value
    assert health["member_threshold"] == 15
    clubs = {c["club_number"]: c for c in server.dashboard.expected_tables()["clubs"]}
    for row in health["clubs"]:
        club = clubs[row["club_number"]]
        reasons = []
        if club["active_members"] < 15:
            reasons.append("below_member_threshold")
        if club["active_members"] < club["membership_base"]:
            reasons.append("membership_falling")
        assert row["risk_reasons"] == ";".join(reasons)
        assert row["at_risk"] is bool(reasons)
    assert health["at_risk"] == sum(1 for r in health["clubs"] if r["at_risk"])
    assert 0 < health["at_risk"] < len(health["clubs"])
    lower = derive_for_project(refreshed, refreshed.current(), filters={"member_threshold": 0})[
        "club_health"
    ].value
    assert lower["at_risk"] < health["at_risk"]


def test_a_bad_member_threshold_fails_the_projection_with_a_reason(refreshed: Any) -> None:
    derived = derive_for_project(
        refreshed, refreshed.current(), filters={"member_threshold": "many"}
    )
    result = derived["club_health"]
    assert (result.status, result.reason) == ("failed", "invalid_filter")
    assert derived["district_ranking"].status == "ready"


@pytest.mark.parametrize(
    ("goals", "members", "change", "level", "following", "goals_left", "members_left"),
    [
        (4, 25, 0, None, "distinguished", 1, 0),
        (5, 20, 0, "distinguished", "select_distinguished", 2, 0),
        (5, 15, 3, "distinguished", "select_distinguished", 2, 0),
        (7, 12, 1, None, "distinguished", 0, 2),
        (9, 22, 2, "presidents_distinguished", "smedley_distinguished", 1, 3),
        (10, 25, 0, "smedley_distinguished", None, 0, 0),
    ],
)
def test_distinguished_progress_follows_goals_and_membership(
    goals: int,
    members: int,
    change: int,
    level: str | None,
    following: str | None,
    goals_left: int,
    members_left: int,
) -> None:
    assert progress(goals, members, change) == {
        "projected_level": level,
        "next_level": following,
        "goals_to_next_level": goals_left,
        "members_to_next_level": members_left,
    }


def test_the_toastmasters_profile_exports_csv_files_with_parity(
    refreshed: Any, tmp_path: Path
) -> None:
    manifest = refreshed.current()
    bundle = SnapshotBundle.from_projection_set(manifest, derive_for_project(refreshed, manifest))
    target = tmp_path / "toastmasters.zip"
    written = export_snapshot(bundle, "toastmasters", refreshed.manager, target)
    names = sorted(r.name for r in written.manifest.resources)
    assert names == ["club_health", "clubs_at_risk", "district_ranking"]
    with zipfile.ZipFile(target) as archive:
        health = list(csv.DictReader(io.StringIO(archive.read("club_health.csv").decode())))
        risky = list(csv.DictReader(io.StringIO(archive.read("clubs_at_risk.csv").decode())))
    assert len(health) == 120
    assert risky and all(row["at_risk"] == "true" for row in risky)
    assert {row["risk_reasons"] for row in risky} <= {
        "below_member_threshold",
        "membership_falling",
        "below_member_threshold;membership_falling",
    }
    assert check_parity(target, refreshed.manager, bundle=bundle).ok
    again = tmp_path / "again.zip"
    export_snapshot(bundle, "toastmasters", refreshed.manager, again)
    assert again.read_bytes() == target.read_bytes()
