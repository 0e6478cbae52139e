"""Reads during a refresh of the 50,000-user OneRoster district, and after a failing one.

The server refreshes the reference district (50,000 users) through the admin endpoint
while a loop of reads runs: every read answers, and every answer is one whole committed
snapshot (the previous one or the new one, its tables and counts exactly its manifest's),
never a partial one. Then the source fails: the refresh fails, and the API still serves the
snapshot it served before.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

USERS = 50_000


@pytest.fixture(scope="module")
def big_district(tmp_path_factory) -> Iterator[tuple[Path, object, dict[str, str]]]:
    """The 50,000-user district on a local OneRoster server; a store whose first snapshot
    holds only its orgs (quick to take), so the admin refresh is the full district."""
    from snapkit.project import Project
    from snapkit_oneroster.demo import SECRET_ENV, OneRosterDemo

    folder = tmp_path_factory.mktemp("district50k")
    demo = OneRosterDemo({"size": USERS})
    config = folder / "snapkit.toml"
    text = demo.start(folder).replace(
        "page_size = 2000\n", "page_size = 10000\nretry = { attempts = 1 }\n"
    )
    config.write_text(text + "\n[refresh]\nattempts = 1\n", encoding="utf-8")
    try:
        outcome = Project.load(config).refresh(oracles=["orgs"])
        assert outcome.status == "success", outcome.errors
        yield config, demo.server, {SECRET_ENV: os.environ[SECRET_ENV]}
    finally:
        demo.close()


def _tables(manifest) -> dict[str, int]:
    return {part.name: part.records for part in manifest.parts}


def test_reads_during_and_after_refreshes_of_the_50000_user_district(
    big_district, served, admin_token
):
    from snapkit.project import Project

    config, source, env = big_district
    project = Project.load(config)
    first = project.current()
    server = served(config, env=env)
    seen: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    reads = [0]
    stop = threading.Event()

    def read_loop() -> None:
        with server.client(timeout=30) as client:
            while not stop.is_set():
                try:
                    current = client.get("/api/current")
                    if current.status_code != 200:
                        problems.append(f"current: {current.status_code} {current.text[:200]}")
                        continue
                    body = current.json()
                    if body["status"] != "success":
                        problems.append(f"current is {body['status']}")
                    seen[body["id"]] = {t["name"]: t["records"] for t in body["tables"]}
                    table = body["tables"][0]["name"]
                    page = client.get(
                        f"/api/snapshots/{body['id']}/tables/{table}/records", params={"limit": 50}
                    )
                    lines = page.text.splitlines()
                    if page.status_code != 200 or len(lines) != min(
                        50, body["tables"][0]["records"]
                    ):
                        problems.append(f"records: {page.status_code} {len(lines)} lines")
                    [json.loads(line) for line in lines]
                    status = client.get("/api/refresh")
                    if status.status_code != 200:
                        problems.append(f"status: {status.status_code}")
                    reads[0] += 3
                except (httpx.HTTPError, ValueError) as exc:
                    problems.append(f"{type(exc).__name__}: {exc}")

    loop = threading.Thread(target=read_loop)
    loop.start()
    try:
        with server.client(timeout=30) as client:
            accepted = client.post(
                "/api/admin/refresh", headers={"Authorization": f"Bearer {admin_token}"}
            )
            assert accepted.status_code == 202, accepted.text
            run = _wait(client, accepted.json()["events_url"])
    finally:
        stop.set()
        loop.join(timeout=60)
    assert run["state"] == "success", run["error"]
    assert problems == []
    second = project.current()
    assert second.id == run["snapshot_id"] and second.part("users").records >= USERS
    # every answer was one whole committed snapshot: the first or the new one, as committed
    assert set(seen) <= {first.id, second.id} and first.id in seen
    for snapshot_id, tables in seen.items():
        assert tables == _tables(project.store.get(snapshot_id))
    assert reads[0] > 0

    source.set_faults(server_errors_always=True)
    try:
        with server.client(timeout=30) as client:
            accepted = client.post(
                "/api/admin/refresh", headers={"Authorization": f"Bearer {admin_token}"}
            )
            assert accepted.status_code == 202, accepted.text
            failed = _wait(client, accepted.json()["events_url"])
            assert failed["state"] == "failed" and failed["pointer_moved"] is False
            current = client.get("/api/current").json()
            assert current["id"] == second.id
            assert {t["name"]: t["records"] for t in current["tables"]} == _tables(second)
            records = client.get("/api/snapshots/current/tables/users/records", params={"limit": 3})
            assert len(records.text.splitlines()) == 3
            last_failure = client.get("/api/refresh").json()["last_failure"]
            assert last_failure["snapshot_id"] == failed["snapshot_id"]
    finally:
        source.set_faults()


def _wait(client: httpx.Client, events_url: str) -> dict:
    last: dict = {}
    with client.stream("GET", events_url, timeout=300) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line.removeprefix("data: "))
    return last
