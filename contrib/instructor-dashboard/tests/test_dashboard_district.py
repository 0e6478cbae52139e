"""The synthetic OneRoster district, read through the dashboard: every support category of
the dashboard (excelling, on track, struggling, not enough information, inactive) is populated in
each gradebook class under the dashboard's default thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snapkit.contracts import Scope
from snapkit.project import Project
from snapkit.projection import derive_for_project
from snapkit_instructor_dashboard.projections import CATEGORIES, rows
from snapkit_oneroster.server import serve

SECRET = "district-secret"


@pytest.fixture(scope="module")
def district_server() -> Any:
    with serve(users=1_000, seed=3, client_secret=SECRET) as server:
        yield server


def gradebook_classes(server: Any) -> list[str]:
    district = server.district
    return sorted({district.value("lineItems", i, "class") for i in district.ids("lineItems")})


def test_every_support_category_is_populated_in_each_refreshed_class(
    district_server, tmp_path: Path, monkeypatch, write_dashboard_config
):
    monkeypatch.setenv("DISTRICT_SECRET", SECRET)
    project = Project.load(
        write_dashboard_config(
            tmp_path, district_server, namespace="district-3", secret_env="DISTRICT_SECRET"
        )
    )
    classes = gradebook_classes(district_server)
    assert len(classes) >= 10
    for context in classes[:3]:
        outcome = project.refresh(scope=Scope("district-3", context))
        assert outcome.status == "success", outcome.errors
        support = derive_for_project(project, outcome.manifest)["student_support"]
        assert support.status == "ready"
        value = support.value
        assert value["thresholds"]["struggling_progress_below"] == 40
        counts = value["counts"]
        assert sum(counts.values()) == value["total"] >= 15
        for category in CATEGORIES:
            assert counts[category] >= 1, (context, counts)
        assert counts["struggling"] >= value["total"] // 10, (context, counts)
        assert 1 <= value["inactive"] < value["total"], (context, value["inactive"])
        for student in rows(value["students"]):
            if student["category"] == "struggling":
                assert student["progress_pct"] < 40 and student["proficiency_pct"] <= 40
