"""A host's app refreshing in a thread (``isolate_refresh=False``): the same runs, progress
and outcome as the default child process, answered while the refresh runs."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from snapkit.config import ServeSettings
from snapkit.project import Project
from snapkit.serve import create_app


def test_a_refresh_in_a_thread_of_the_server_commits_and_reports(
    district_store, tmp_path, monkeypatch, admin_token
):
    config = district_store.copy(tmp_path / "copy")
    for name, value in district_store.env.items():
        monkeypatch.setenv(name, value)
    project = Project.load(config)
    app = create_app(project, settings=ServeSettings(token=admin_token), isolate_refresh=False)
    assert app.state.snapkit.runs.isolate is False
    with TestClient(app) as client:
        accepted = client.post(
            "/api/admin/refresh", headers={"Authorization": f"Bearer {admin_token}"}
        )
        assert accepted.status_code == 202
        status_url = accepted.json()["status_url"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = client.get(status_url).json()
            assert client.get("/api/current").status_code == 200
            if run["state"] != "running":
                break
            time.sleep(0.05)
    assert run["state"] == "success" and run["pointer_moved"] is True
    assert run["oracles"]["users"]["state"] == "done"
    assert project.current().id == run["snapshot_id"]
