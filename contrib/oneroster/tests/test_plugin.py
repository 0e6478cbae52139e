"""The snapkit side: oracles from [oracles.oneroster], faults, auth, CSV parity, guardians."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from oneroster_server_process import server_process

import snapkit_oneroster.plugin as plugin
from snapkit.project import Project
from snapkit.search import search_view
from snapkit.testing.engine import make_project
from snapkit_oneroster.bulk_csv import write_bulk_csv
from snapkit_oneroster.district import District
from snapkit_oneroster.layout import run_metric, write_layout
from snapkit_oneroster.normalize import normalize_record
from snapkit_oneroster.relations import build_households
from snapkit_oneroster.server import ServerHandle
from snapkit_oneroster.settings import TABLE_KEYS

NO_WAIT = {"attempts": 3, "initial": 0.0, "maximum": 0.0, "jitter": 0.0}
SECRET_ENV = "SNAPKIT_TEST_ONEROSTER_SECRET"


def rest_section(server: ServerHandle, **changes: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "base_url": server.base_url,
        "client_id": server.client_id,
        "client_secret": {"env": SECRET_ENV},
        "retry": NO_WAIT,
    }
    section.update(changes)
    return section


def project(folder: Path, section: dict[str, Any], **config: Any) -> Project:
    data: dict[str, Any] = {
        "oracles": {"oneroster": section},
        "refresh": {"backoff": 0.0, **config.pop("refresh", {})},
    }
    data.update(config)
    return make_project(folder, plugin, config=data)


@pytest.fixture(autouse=True)
def _secret(server: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, server.client_secret)


def id_checksum(ids: Any) -> str:
    digest = hashlib.sha256()
    for sourced_id in ids:
        digest.update(sourced_id.encode() + b"\n")
    return digest.hexdigest()


def test_without_a_section_nothing_is_registered(tmp_path: Path) -> None:
    p = make_project(tmp_path, plugin)
    assert not {"oneroster", *TABLE_KEYS} & set(p.manager.oracles.keys())
    assert "guardians" in p.manager.registry("search_view")


def test_a_50000_user_refresh_holds_exactly_the_servers_records(tmp_path: Path) -> None:
    """The server runs in its own process (as a real one would), serving the district this
    process generates from the same seed meanwhile."""
    with server_process(users=50_000, seed=5, secret="fifty-thousand") as info:
        district = District.generate(seed=5, users=50_000)
        section = {
            "base_url": info["base_url"],
            "client_id": info["client_id"],
            "client_secret": "fifty-thousand",
            "page_size": 5000,
            "retry": NO_WAIT,
        }
        p = project(tmp_path, section)
        outcome = p.refresh()
    assert outcome.status == "success", outcome.errors
    assert outcome.pointer_moved
    summary = outcome.manifest.payloads["oneroster"]
    assert summary["source"] == "rest"
    assert run_metric(outcome.manifest, "api_calls") >= len(TABLE_KEYS)
    assert district.count("users") == 50_000
    for key, table in TABLE_KEYS.items():
        part = outcome.manifest.part(key)
        assert part.records == district.count(table) == summary["tables"][key], key
        assert part.key_column == "sourcedId"
        ids = (record["sourcedId"] for record in p.records("current", key))
        assert id_checksum(ids) == id_checksum(district.ids(table)), key


def test_the_csv_bulk_export_gives_the_same_parts_as_rest(
    tmp_path: Path, server: ServerHandle, district: District
) -> None:
    rest = project(tmp_path / "rest", rest_section(server, auth="oauth2")).refresh()
    assert rest.status == "success", rest.errors
    export = write_bulk_csv(district.tables(), tmp_path / "export.zip")
    csv = project(tmp_path / "csv", {"source": "csv", "path": str(export)}).refresh()
    assert csv.status == "success", csv.errors
    assert {p.name: p.sha256 for p in csv.manifest.parts} == {
        p.name: p.sha256 for p in rest.manifest.parts
    }
    assert len(rest.manifest.parts) == len(TABLE_KEYS)
    assert csv.manifest.payloads["oneroster"]["source"] == "csv"
    assert run_metric(csv.manifest, "api_calls") == 0


def test_transient_faults_are_retried_and_the_refresh_succeeds(
    tmp_path: Path, server: ServerHandle
) -> None:
    server.set_faults(rate_limit=2, retry_after=0, server_errors=3, truncate=1)
    # the client's retries are the table's only ones: enough for six faults on one page
    section = rest_section(server, tables=["orgs", "users"], retry={**NO_WAIT, "attempts": 7})
    outcome = project(tmp_path, section).refresh()
    assert outcome.status == "success", outcome.errors
    assert run_metric(outcome.manifest, "retries") >= 1
    assert outcome.manifest.part("users").records == server.district.count("users")


def test_a_permanent_failure_records_a_failed_snapshot_and_keeps_the_pointer(
    tmp_path: Path, server: ServerHandle
) -> None:
    p = project(tmp_path, rest_section(server, tables=["orgs", "categories"]))
    good = p.refresh()
    assert good.status == "success"
    store = tmp_path / "store"
    parts_before = sorted(store.glob("parts/**/*"))
    server.set_faults(server_errors_always=True)
    failed = p.refresh()
    server.set_faults()
    assert failed.status == "failed" and not failed.pointer_moved
    assert p.current().id == good.snapshot_id
    assert failed.manifest.parts == ()
    assert any("HTTP 500" in e.message for e in failed.errors)
    assert sorted(store.glob("parts/**/*")) == parts_before
    assert not [path for path in (store / "tmp").rglob("*") if path.is_file()]

    report = write_layout(p.store, p.resolve("latest"), tmp_path / "view")
    assert sorted(os.listdir(report.folder)) == ["status.json"]
    status = json.loads((report.folder / "status.json").read_text())
    assert status["status"] == "failed" and status["files"] == {}
    assert any("HTTP 500" in error for error in status["fetch_stats"]["errors"])


@pytest.mark.parametrize(
    "changes",
    [
        {"auth": "oauth2"},
        {"auth": "oauth1"},
        {"auth": "oauth1", "signature_method": "HMAC-SHA1"},
    ],
    ids=["oauth2", "oauth1-sha256", "oauth1-sha1"],
)
def test_both_authentication_schemes_are_accepted(
    tmp_path: Path, server: ServerHandle, changes: dict[str, Any]
) -> None:
    outcome = project(tmp_path, rest_section(server, tables=["orgs"], **changes)).refresh()
    assert outcome.status == "success", outcome.errors
    assert outcome.manifest.part("orgs").records == server.district.count("orgs")


@pytest.mark.parametrize("auth", ["oauth2", "oauth1"])
def test_a_bad_secret_fails_with_a_clear_error_that_does_not_leak_it(
    tmp_path: Path, server: ServerHandle, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "not-the-secret-xyzzy")
    outcome = project(tmp_path, rest_section(server, tables=["orgs"], auth=auth)).refresh()
    assert outcome.status == "failed"
    messages = " ".join(e.message for e in outcome.errors)
    assert "credentials" in messages
    assert "xyzzy" not in messages and server.client_secret not in messages
    assert "xyzzy" not in json.dumps(outcome.manifest.payloads)


def test_a_missing_secret_variable_is_named(
    tmp_path: Path, server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV)
    outcome = project(tmp_path, rest_section(server, tables=["orgs"])).refresh()
    assert outcome.status == "failed"
    assert SECRET_ENV in " ".join(e.message for e in outcome.errors)


def test_guardians_search_lists_exactly_the_children_linked_through_agents(
    tmp_path: Path, server: ServerHandle, district: District
) -> None:
    p = project(tmp_path, rest_section(server, tables=["users"]))
    assert p.refresh().status == "success"
    users = [normalize_record("users", r) for r in district.records("users")]
    households = build_households(users)
    by_id = {u["sourcedId"]: u for u in users}
    family = by_id[next(iter(households.children))]["familyName"]
    result = search_view(p, "current", "guardians", f"familyName={family}", limit=None)
    expected = sorted(
        u["sourcedId"] for u in users
        if u["role"] in {"parent", "guardian", "relative"} and u["familyName"] == family
    )  # fmt: skip
    assert [row["sourcedId"] for row in result.rows] == expected
    assert any(row["children"] for row in result.rows)
    for row in result.rows:
        children = [child["sourcedId"] for child in row["children"]]
        assert children == list(households.children_of(row["sourcedId"]))
        for child in row["children"]:
            assert by_id[child["sourcedId"]]["role"] == "student"


def test_the_layout_view_has_the_seed_schema_and_selected_columns(
    tmp_path: Path, server: ServerHandle, district: District
) -> None:
    columns = {"users": ["sourcedId", "email"], "classes": ["sourcedId", "title", "school"]}
    section = rest_section(server, tables=["users", "classes"], csv_columns=columns)
    p = project(tmp_path, section, scope={"namespace": "district-6"})
    outcome = p.refresh()
    report = write_layout(p.store, outcome.manifest, tmp_path / "snapshots", section)
    date = outcome.manifest.created_at[:10]
    assert report.folder == tmp_path / "snapshots" / "district-6" / date / "oneroster"
    status = json.loads((report.folder / "status.json").read_text())
    assert list(status) == [
        "district_id",
        "snapshot_date",
        "source_type",
        "status",
        "started_at",
        "completed_at",
        "fetched_by_session",
        "files",
        "fetch_stats",
    ]
    assert list(status["fetch_stats"]) == [
        "total_api_calls",
        "total_records",
        "duration_seconds",
        "errors",
    ]
    assert status["status"] == "complete" and status["source_type"] == "oneroster"
    assert status["district_id"] == "district-6" and status["snapshot_date"] == date
    assert status["fetch_stats"]["total_api_calls"] >= 2
    names = {
        f"{n}.{e}" for n in ("users", "students", "parents", "classes") for e in ("csv", "jsonl")
    }
    assert set(status["files"]) == names
    for name, info in status["files"].items():
        assert info["size_bytes"] == (report.folder / name).stat().st_size
    lines = (report.folder / "users.csv").read_text().splitlines()
    assert lines[0] == "sourcedId,email"
    assert len(lines) - 1 == status["files"]["users.csv"]["rows"] == district.count("users")
    header = (report.folder / "classes.csv").read_text().splitlines()[0]
    assert header == "sourcedId,title,school"
    students = [json.loads(line) for line in (report.folder / "students.jsonl").open()]
    assert students and all(s["role"] == "student" for s in students)
    first = district.record("users", students[0]["sourcedId"])
    assert first is not None and students[0] == normalize_record("users", first)


def test_retries_change_the_run_figures_but_not_the_snapshot_id(
    tmp_path: Path, server: ServerHandle
) -> None:
    section = rest_section(server, tables=["orgs", "users"], retry={**NO_WAIT, "attempts": 5})
    calm = project(tmp_path / "calm", section).refresh()
    server.set_faults(rate_limit=2, retry_after=0, server_errors=2)
    stormy = project(tmp_path / "stormy", section).refresh()
    assert calm.status == stormy.status == "success"
    assert run_metric(stormy.manifest, "retries") > run_metric(calm.manifest, "retries")
    assert stormy.snapshot_id == calm.snapshot_id
