"""The read API on a real server: every route's answers, ETags, and its errors (JSON, never a
traceback), compared with what the Python API (the CLI's engine) gives for the same store."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from itertools import islice
from typing import Any

import httpx
import pytest

from snapkit.diff import diff_bytes, diff_project


@pytest.fixture(scope="module")
def server(district_store, tmp_path_factory, server_starter) -> Iterator[httpx.Client]:
    log = tmp_path_factory.mktemp("reads") / "serve.log"
    served = server_starter(district_store.config, log, env=district_store.env)
    try:
        with served.client() as client:
            yield client
    finally:
        served.stop()


@pytest.fixture(scope="module")
def project(district_store):
    return district_store.project()


def _error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "hint"}
    assert "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code
    return error


# -- current and snapshots ---------------------------------------------------------------------


def test_current_gives_the_current_snapshot_with_its_tables_and_counts(server, project):
    manifest = project.current()
    answer = server.get("/api/current")
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == manifest.id and body["current"] is True
    assert body["status"] == "success" and body["created_at"] == manifest.created_at
    assert body["versions"] == {
        "schema": manifest.schema_version,
        "calculation": manifest.calculation_version,
    }
    assert {t["name"]: t["records"] for t in body["tables"]} == {
        p.name: p.records for p in manifest.parts
    }
    assert body["record_count"] == sum(p.records for p in manifest.parts)
    assert body["age_seconds"] >= 0
    assert answer.headers["etag"] == f'"{manifest.id}"'


def test_current_answers_if_none_match_with_304(server):
    etag = server.get("/api/current").headers["etag"]
    again = server.get("/api/current", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = server.get("/api/current", headers={"If-None-Match": '"0000"'})
    assert other.status_code == 200


def test_current_without_a_snapshot_is_a_structured_503(served, empty_store):
    server = served(empty_store)
    with server.client() as client:
        error = _error(client.get("/api/current"), 503, "no_snapshot")
    assert error["exit_code"] == 3
    assert "no snapshot yet" in error["message"] and error["hint"]


def test_list_pages_through_every_snapshot_once_newest_first(server, project):
    everything = [i.id for i in project.snapshots()]
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = server.get("/api/snapshots", params=params).json()
        seen += [s["id"] for s in page["snapshots"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and len(seen) >= 2
    assert page["current_id"] == project.current().id


def test_list_filters_as_the_cli_does(server, project):
    listed = server.get("/api/snapshots", params={"status": "failed"}).json()["snapshots"]
    assert listed == []
    later = server.get("/api/snapshots", params={"since": "2999-01-01"}).json()
    assert later["snapshots"] == [] and later["next_cursor"] is None
    flags = [s["current"] for s in server.get("/api/snapshots").json()["snapshots"]]
    assert flags.count(True) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"status": "done"},
        {"limit": "0"},
        {"limit": "x"},
        {"since": "yesterday"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_list_rejects_bad_parameters_with_400(server, query):
    _error(server.get("/api/snapshots", params=query), 400)


def test_one_snapshot_by_every_kind_of_reference(server, project):
    previous = project.resolve("current~1")
    day = previous.created_at[:10]
    for ref in (previous.id, previous.id[:12], "current~1"):
        answer = server.get(f"/api/snapshots/{ref}")
        assert answer.json()["id"] == previous.id and answer.json()["current"] is False
        assert answer.headers["etag"] == f'"{previous.id}"'
    assert server.get("/api/snapshots/latest").json()["id"] == project.resolve("latest").id
    assert server.get(f"/api/snapshots/{day}").json()["id"] == project.resolve(day).id
    etag = f'"{previous.id}"'
    assert (
        server.get("/api/snapshots/current~1", headers={"If-None-Match": etag}).status_code == 304
    )


@pytest.mark.parametrize(
    "ref", ["%2E%2E", "a.b", "current~-1", "ABC", "current~x", "x" * 70, "2024-13-45"]
)
def test_malformed_references_are_400(server, ref):
    _error(server.get(f"/api/snapshots/{ref}"), 400)


def test_unknown_snapshots_and_traversal_are_404(server):
    error = _error(server.get("/api/snapshots/" + "f" * 64), 404, "snapshot_not_found")
    assert error["exit_code"] == 3
    _error(server.get("/api/snapshots/current~999"), 404)
    _error(server.get("/api/snapshots/..%2F..%2Fetc%2Fpasswd"), 404)
    _error(server.get("/api/snapshots/current/tables/..%2F..%2Fpointer/records"), 404)
    _error(server.get("/api/no-such-route"), 404, "not_found")


# -- records -----------------------------------------------------------------------------------


def test_records_stream_as_ndjson_with_offset_and_limit(server, project):
    expected = list(islice(project.records("current", "users"), 5, 12))
    answer = server.get(
        "/api/snapshots/current/tables/users/records", params={"offset": 5, "limit": 7}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in answer.text.splitlines()] == expected
    total = project.current().part("users").records
    assert answer.headers["x-total-count"] == str(total)
    assert answer.headers["etag"] == f'"{project.current().id}"'
    past = server.get("/api/snapshots/current/tables/users/records", params={"offset": total})
    assert past.status_code == 200 and past.content == b""


@pytest.fixture(scope="module")
def chunked(district_store, tmp_path_factory, server_starter) -> Iterator[tuple[Any, Any]]:
    """The district refreshed into a store that keeps parts as chunks (``chunk_size``), and a
    server on it: ``(client, project)``."""
    from snapkit.project import Project

    folder = tmp_path_factory.mktemp("chunked")
    config = district_store.copy(folder / "district")
    text = config.read_text(encoding="utf-8")
    assert '\npath = "store"\n' in text
    config.write_text(
        text.replace('\npath = "store"\n', '\npath = "chunked-store"\nchunk_size = 768\n', 1),
        encoding="utf-8",
    )
    project = Project.load(config)
    assert project.refresh().status == "success"
    served = server_starter(config, folder / "serve.log", env=district_store.env)
    try:
        with served.client() as client:
            yield client, project
    finally:
        served.stop()


def test_records_pages_of_a_chunked_part_are_those_records(chunked):
    server, project = chunked
    part = project.current().part("users")
    assert project.store.part_chunks(part.sha256) is not None  # the file store chunked it
    everything = list(project.records("current", "users"))
    for offset, limit in [(0, 1), (37, 50), (150, 149), (part.records - 3, 10)]:
        answer = server.get(
            "/api/snapshots/current/tables/users/records",
            params={"offset": offset, "limit": limit},
        )
        assert [json.loads(line) for line in answer.text.splitlines()] == everything[
            offset : offset + limit
        ]


def test_records_of_a_whole_table_are_every_record_in_order(server, project):
    expected = list(project.records("current", "classes"))
    answer = server.get("/api/snapshots/current/tables/classes/records", params={"limit": 100000})
    assert [json.loads(line) for line in answer.text.splitlines()] == expected


def test_records_of_unknown_tables_and_bad_names(server):
    error = _error(server.get("/api/snapshots/current/tables/nope/records"), 404, "unknown_table")
    assert "users" in error["hint"]
    _error(server.get("/api/snapshots/current/tables/a..b/records"), 400, "bad_name")
    _error(server.get("/api/snapshots/current/tables/users/records", params={"limit": 0}), 400)
    _error(server.get("/api/snapshots/current/tables/users/records", params={"offset": -1}), 400)


# -- diff --------------------------------------------------------------------------------------


def test_diff_is_the_canonical_diff_json(server, project):
    a, b = project.resolve("current~1"), project.current()
    answer = server.get("/api/diff", params={"from": "current~1", "to": "current"})
    assert answer.status_code == 200
    assert answer.content == diff_bytes(diff_project(project, a.id, b.id))
    assert answer.headers["etag"] == f'"{a.id}..{b.id}"'
    again = server.get(
        "/api/diff",
        params={"from": a.id, "to": b.id},
        headers={"If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304


def test_diff_with_sections_and_max_items_matches_the_engine(server, project):
    answer = server.get(
        "/api/diff",
        params={"from": "current~1", "to": "current", "section": "table", "max_items": 2},
    )
    expected = diff_project(project, "current~1", "current", sections=["table"], max_items=2)
    assert answer.content == diff_bytes(expected)


def test_diff_errors(server):
    _error(server.get("/api/diff", params={"from": "current"}), 400, "missing_parameter")
    _error(server.get("/api/diff", params={"from": "../x", "to": "current"}), 400, "bad_ref")
    _error(server.get("/api/diff", params={"from": "current~50", "to": "current"}), 404)
    _error(
        server.get("/api/diff", params={"from": "current~1", "to": "current", "section": "nope"}),
        400,
    )


# -- search ------------------------------------------------------------------------------------


def test_search_gives_what_the_python_api_gives(server, project):
    from snapkit.search import search_table

    expected = search_table(project, "current", "users", "role=teacher", limit=5, offset=2)
    answer = server.get(
        "/api/search", params={"table": "users", "q": "role=teacher", "limit": 5, "offset": 2}
    )
    body = answer.json()
    assert body["rows"] == [dict(r) for r in expected.rows]
    assert body["more"] == expected.more and body["snapshot_id"] == project.current().id
    assert answer.headers["etag"] == f'"{project.current().id}"'


def test_search_uses_the_configured_index(server, project):
    email = next(project.records("current", "users"))["email"]
    body = server.get("/api/search", params={"table": "users", "q": f"email={email}"}).json()
    assert body["index"] == "email" and [r["email"] for r in body["rows"]] == [email]
    scanned = server.get(
        "/api/search", params={"table": "users", "q": f"email={email}", "index": "false"}
    ).json()
    assert scanned["index"] is None and scanned["rows"] == body["rows"]


def test_search_guardians_lists_their_children(server, district_store, project):
    family = district_store.demo.family
    body = server.get(
        "/api/search", params={"table": "guardians", "q": f"familyName={family}"}
    ).json()
    assert body["rows"], "the demo family has guardians"
    assert all(row["familyName"] == family for row in body["rows"])
    assert any(row.get("children") for row in body["rows"])
    expected = project.search("guardians", f"familyName={family}", limit=20)
    assert body["rows"] == [dict(r) for r in expected.rows]


def test_search_errors(server):
    _error(server.get("/api/search", params={"table": "nope", "q": "x"}), 404, "unknown_table")
    _error(server.get("/api/search", params={"table": "users"}), 400, "missing_parameter")
    _error(server.get("/api/search", params={"table": "users", "q": '"open'}), 400)
    _error(
        server.get("/api/search", params={"table": "users", "q": "x", "snapshot": "../up"}),
        400,
        "bad_ref",
    )


# -- projections and export ----------------------------------------------------------------------


def test_projections_give_each_status_as_snapkit_project(server, project):
    from snapkit.projection import derive_for_project

    derived = derive_for_project(project, project.current())
    body = server.get("/api/snapshots/current/projections").json()
    assert {k: v["status"] for k, v in body["projections"].items()} == derived.statuses()
    assert body["snapshot_id"] == project.current().id
    one = server.get(
        "/api/snapshots/current/projections", params={"projection": sorted(derived.results)[0]}
    ).json()
    assert list(one["projections"]) == [sorted(derived.results)[0]]
    _error(
        server.get("/api/snapshots/current/projections", params={"projection": "nope"}),
        404,
        "unknown_projection",
    )


def test_export_without_what_the_profile_needs_is_refused_with_its_reason(server):
    error = _error(
        server.get("/api/snapshots/current/export", params={"profile": "instructor_dashboard"}), 422
    )
    assert error["code"] == "required_projection_unavailable"
    _error(
        server.get("/api/snapshots/current/export", params={"profile": "nope"}),
        404,
        "unknown_profile",
    )
    hint = _error(server.get("/api/snapshots/current/export"), 400)["hint"]
    assert "instructor_dashboard" in hint


def test_export_downloads_the_same_zip_as_the_engine(served, district_store):
    from snapkit.export import SnapshotBundle, export_snapshot
    from snapkit.project import Project
    from snapkit.projection import derive_for_project

    project = Project.load(district_store.dashboard_config)
    manifest = project.current()
    bundle = SnapshotBundle.from_projection_set(manifest, derive_for_project(project, manifest))
    expected = io.BytesIO()
    export_snapshot(
        bundle,
        "instructor_dashboard",
        project.manager,
        expected,
        settings=lambda d: project.config.plugin_settings(d.kind, d.key),
    )
    server = served(district_store.dashboard_config, env=district_store.env)
    with server.client() as client:
        answer = client.get(
            "/api/snapshots/current/export", params={"profile": "instructor_dashboard"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content == expected.getvalue()
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert any(name.endswith("manifest.json") for name in names)
