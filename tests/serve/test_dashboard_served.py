"""The live dashboard of a real ``snapkit serve`` process over the OneRoster demo's class
(the installed plugins: the instructor dashboard's oracles against the local OneRoster server,
the ``memory`` cache by default)."""

from __future__ import annotations

import json
import re

import httpx


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    seen, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name:
            seen.append((name, json.loads(line[len("data: ") :])))
            if name in ("complete", "timeout"):
                break
    return seen


def test_the_served_dashboard_hydrates_the_stored_class_from_its_oracles(
    district_store, served, tmp_path
):
    config = district_store.dashboard_config
    server = served(config, env=district_store.env)
    with server.client() as client:
        page = client.get("/dashboard")
        assert page.status_code == 200
        (class_id,) = re.findall(r'<option value="([^"]+)"', page.text)
        before = client.get("/api/snapshots").json()
        with client.stream(
            "GET", f"/api/dashboard/{class_id}/events", params={"page": "served-page-1", "seq": 1}
        ) as response:
            first = read_events(response)
        with client.stream(
            "GET", f"/api/dashboard/{class_id}/events", params={"page": "served-page-2", "seq": 1}
        ) as response:
            second = read_events(response)
        after = client.get("/api/snapshots").json()
    session = first[0][1]
    assert first[0][0] == "session" and session["cache"] == "memory"
    assert session["export"]["profile"] == "instructor_dashboard"
    tiles = {data["key"]: data["status"] for name, data in first if name == "tile"}
    assert tiles and set(tiles.values()) == {"ready"}
    assert first[-1][0] == "complete" and set(first[-1][1]["sources"]) == {"loaded"}
    assert second[-1][0] == "complete" and set(second[-1][1]["sources"]) == {"cache"}
    assert after == before  # the dashboard never writes the store
