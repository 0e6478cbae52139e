"""The admin refresh on a real server: authentication (401/403, constant-time compare), the
token's minimum length at start, the rate limit (429 + Retry-After), one refresh at a time
(409 with the holder), progress as JSON and SSE, and the audit event hook, which (like the
logs) never holds the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

WRONG = "w" * 40


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def _with_serve(config: Path, section: str) -> Path:
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[serve]\n" + section + "\n", encoding="utf-8")
    return config


def _recorder_site(folder: Path, log: Path) -> Path:
    """A plugin distribution recording every admin refresh event as a JSON line."""
    site = folder / "site"
    info = site / "snapkit_serve_recorder-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: snapkit-serve-recorder\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[snapkit]\nserve-recorder = serve_recorder\n", encoding="utf-8"
    )
    (site / "serve_recorder.py").write_text(
        "import json\nimport attrs\nfrom snapkit import hookimpl\n\n"
        "@hookimpl\ndef snapkit_admin_refresh_attempted(event):\n"
        f"    with open({str(log)!r}, 'a') as out:\n"
        "        out.write(json.dumps(attrs.asdict(event)) + '\\n')\n",
        encoding="utf-8",
    )
    return site


def _finish(client: httpx.Client, accepted: dict) -> tuple[list[str], dict]:
    """Follow a run's event stream to its end: the event names and the last run."""
    kinds, last = [], {}
    with client.stream("GET", accepted["events_url"], timeout=120) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
                kinds.append(kind)
            elif line.startswith("data: "):
                last = json.loads(line.removeprefix("data: "))
    return kinds, last


# -- authentication ----------------------------------------------------------------------------


def test_without_a_token_401_and_with_a_wrong_one_403(served, district_store):
    server = served(district_store.config, env=district_store.env)
    with server.client() as client:
        answer = client.post("/api/admin/refresh")
        _error(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"].startswith("Bearer")
        _error(
            client.post("/api/admin/refresh", headers={"Authorization": "Basic eDp5"}),
            401,
            "unauthorized",
        )
        _error(client.post("/api/admin/refresh", headers=_bearer(WRONG)), 403, "forbidden")
        _error(
            client.post("/api/admin/refresh", headers={"Authorization": "Bearer"}),
            401,
            "unauthorized",
        )
        assert client.get("/api/refresh").json()["run"] is None


def test_without_a_configured_token_the_admin_endpoint_is_disabled(served, district_store):
    server = served(district_store.config, token=None, env=district_store.env)
    with server.client() as client:
        error = _error(
            client.post("/api/admin/refresh", headers=_bearer(WRONG)), 503, "admin_disabled"
        )
        assert client.get("/api/current").status_code == 200
    assert error["message"] == "admin refresh is disabled: set serve.token"


@pytest.mark.parametrize("where", ["env", "config"])
def test_a_short_token_is_refused_at_start_with_exit_2(tmp_path, empty_store, where):
    short = "short-secret-token-1234"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    if where == "env":
        env["SNAPKIT_SERVE_TOKEN"] = short
    else:
        _with_serve(empty_store, f'token = "{short}"')
    proc = subprocess.run(
        [sys.executable, "-m", "snapkit", "-c", str(empty_store), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "at least 32" in lines[0]
    assert short not in proc.stderr + proc.stdout


def test_a_token_from_the_config_environment_reference_is_used(
    served, district_store, tmp_path, admin_token
):
    config = _with_serve(
        district_store.copy(tmp_path / "copy"), 'token = { env = "MY_ADMIN_TOKEN" }'
    )
    server = served(config, token=None, env={**district_store.env, "MY_ADMIN_TOKEN": admin_token})
    with server.client() as client:
        _error(client.post("/api/admin/refresh", headers=_bearer(WRONG)), 403, "forbidden")
        accepted = client.post("/api/admin/refresh", headers=_bearer(admin_token))
        assert accepted.status_code == 202
        _finish(client, accepted.json())


# -- rate limit ----------------------------------------------------------------------------------


def test_attempts_over_the_rate_limit_get_429_with_retry_after(
    served, district_store, tmp_path, admin_token
):
    config = _with_serve(district_store.copy(tmp_path / "copy"), "refresh_per_minute = 2")
    server = served(config, env=district_store.env)
    with server.client() as client:
        for _ in range(2):
            _error(client.post("/api/admin/refresh", headers=_bearer(WRONG)), 403, "forbidden")
        limited = client.post("/api/admin/refresh", headers=_bearer(WRONG))
        _error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # a right token does not skip the limit: every attempt counts
        _error(client.post("/api/admin/refresh", headers=_bearer(admin_token)), 429, "rate_limited")


# -- one refresh at a time, progress ---------------------------------------------------------------


def test_a_refresh_runs_with_progress_and_a_second_one_gets_409(
    served, district_store, tmp_path, admin_token
):
    config = district_store.copy(tmp_path / "copy")
    before = district_store.project().current().id
    server = served(config, env=district_store.env)
    district_store.source.set_faults(delay=0.05)
    try:
        with server.client() as client:
            accepted = client.post("/api/admin/refresh", headers=_bearer(admin_token))
            assert accepted.status_code == 202, accepted.text
            body = accepted.json()
            assert body["status_url"] == f"/api/refresh/runs/{body['run_id']}"
            busy = client.post("/api/admin/refresh", headers=_bearer(admin_token))
            error = _error(busy, 409, "refresh_running")
            assert error["holder"]["run_id"] == body["run_id"]
            status = client.get("/api/refresh").json()
            assert status["running"] is True and status["run"]["run_id"] == body["run_id"]
            assert client.get("/api/current").json()["id"] == before
            kinds, last = _finish(client, body)
            assert kinds[-1] == "done" and set(kinds[:-1]) <= {"progress"}
            assert last["state"] == "success" and last["pointer_moved"] is True
            assert set(last["oracles"]) >= {"users", "classes"}
            assert all(o["state"] == "done" for o in last["oracles"].values())
            assert client.get(body["status_url"]).json() == last
            assert client.get("/api/current").json()["id"] == last["snapshot_id"]
            assert client.get("/api/refresh").json()["running"] is False
            _error(client.get("/api/refresh/runs/nope"), 404, "unknown_run")
    finally:
        district_store.source.set_faults()


@pytest.mark.parametrize(("setting", "lowered_by"), [(None, 10), ("refresh_nice = 3", 3)])
def test_the_refresh_process_runs_at_a_lower_cpu_priority_than_the_server(
    served, district_store, tmp_path, admin_token, setting, lowered_by
):
    config = district_store.copy(tmp_path / "copy")
    if setting is not None:
        _with_serve(config, setting)
    server = served(config, env=district_store.env)
    with server.client() as client:
        accepted = client.post("/api/admin/refresh", headers=_bearer(admin_token))
        assert accepted.status_code == 202, accepted.text
        _finish(client, accepted.json())
    server_nice = os.getpriority(os.PRIO_PROCESS, server.process.pid)
    assert f"at nice {min(19, server_nice + lowered_by)}" in server.log()


def test_a_refresh_nice_outside_0_to_19_is_refused_at_start(tmp_path, empty_store):
    _with_serve(empty_store, "refresh_nice = 20")
    proc = subprocess.run(
        [sys.executable, "-m", "snapkit", "-c", str(empty_store), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "serve.refresh_nice: 20 is greater than the maximum of 19" in proc.stderr


def test_a_lease_held_by_another_process_gets_409_with_its_holder(
    served, district_store, tmp_path, admin_token
):
    from snapkit.project import Project

    config = district_store.copy(tmp_path / "copy")
    server = served(config, env=district_store.env)
    store = Project.load(config).store
    with store.lock("nightly cron refresh", 600), server.client() as client:
        status = client.get("/api/refresh").json()
        assert status["running"] is True
        assert status["lock"]["holder"] == "nightly cron refresh"
        error = _error(
            client.post("/api/admin/refresh", headers=_bearer(admin_token)), 409, "refresh_running"
        )
        assert error["holder"]["holder"] == "nightly cron refresh"
        assert error["holder"]["pid"] == os.getpid()


def test_a_failing_refresh_reports_its_reason_and_reads_keep_the_last_snapshot(
    served, district_store, tmp_path, admin_token
):
    config = district_store.copy(tmp_path / "copy", fail_fast=True)
    server = served(config, env=district_store.env)
    before = district_store.project().current().id
    district_store.source.set_faults(server_errors_always=True)
    try:
        with server.client() as client:
            accepted = client.post("/api/admin/refresh", headers=_bearer(admin_token)).json()
            _, last = _finish(client, accepted)
            assert last["state"] == "failed" and last["pointer_moved"] is False
            assert last["error"]["reason"]
            status = client.get("/api/refresh").json()
            assert status["last_failure"]["snapshot_id"] == last["snapshot_id"]
            assert status["last_failure"]["reason"] == last["error"]["reason"]
            assert client.get("/api/current").json()["id"] == before
    finally:
        district_store.source.set_faults()


# -- audit events and logs -------------------------------------------------------------------------


def test_every_attempt_is_audited_and_the_token_is_never_in_events_or_logs(
    served, district_store, tmp_path, admin_token
):
    events_log = tmp_path / "events.jsonl"
    site = _recorder_site(tmp_path, events_log)
    config = district_store.copy(tmp_path / "copy")
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    server = served(
        config, env={**district_store.env, "PYTHONPATH": path}, args=("--log-level", "debug")
    )
    with server.client() as client:
        client.post("/api/admin/refresh")
        client.post("/api/admin/refresh", headers=_bearer(WRONG))
        accepted = client.post("/api/admin/refresh", headers=_bearer(admin_token)).json()
        client.post("/api/admin/refresh", headers=_bearer(admin_token))
        _finish(client, accepted)
    server.stop()
    events = [json.loads(line) for line in events_log.read_text().splitlines()]
    assert [e["outcome"] for e in events] == [
        "no_token",
        "wrong_token",
        "started",
        "refresh_running",
    ]
    assert [e["status_code"] for e in events] == [401, 403, 202, 409]
    assert events[2]["run_id"] == accepted["run_id"]
    assert all(e["client"].startswith("127.0.0.1:") for e in events)
    recorded = events_log.read_text()
    log = server.log()
    assert "admin refresh attempt from 127.0.0.1" in log
    for secret in (admin_token, WRONG):
        assert secret not in recorded
        assert secret not in log
