"""``snapkit serve --workers 2``: two processes answer on one port, and what keeps state in a
process (the admin refresh, its rate limit, runs and their streams, the refresh status, the
status page's badge, the audit event, the live dashboard) is the same whichever worker a
request lands on (see docs/serve.md, "Workers"). A worker that dies stops the server.

A request is sent to a chosen worker by pinning: a client opens keep-alive connections until
the kernel hands one to that worker (seen in its socket table); the connection then stays
with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

WRONG = "w" * 40
WORKERS = re.compile(r"serving with 2 workers \(pids (\d+), (\d+)\)")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _with_serve(config: Path, section: str) -> Path:
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[serve]\n" + section + "\n", encoding="utf-8")
    return config


def _workers(server) -> tuple[int, int]:
    """The owner's process id and the other worker's (from the server's log)."""
    match = WORKERS.search(server.log())
    assert match is not None, server.log()
    return int(match.group(1)), int(match.group(2))


def _inodes(pid: int) -> set[str]:
    """The inodes of the sockets process ``pid`` holds (from /proc: these tests are Linux's)."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                found.add(target[8:-1])
    return found


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    """``True`` while ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _ports(pid: int, port: int) -> set[int]:
    """The client ports of the connections worker ``pid`` holds on the server's ``port``."""
    mine = _inodes(pid)
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and inode in mine and int(local.split(":")[1], 16) == port:
            ports.add(int(remote.split(":")[1], 16))
    return ports


def _holder(workers: list[int], port: int, before: dict[int, set[int]]) -> tuple[int, int]:
    """The worker holding the one connection that is new since ``before``, and its client
    port (the kernel's socket table, read in pieces, can miss an entry while other sockets
    come and go: read again)."""
    for _ in range(50):
        new = [(pid, p) for pid in workers for p in _ports(pid, port) - before[pid]]
        if len(new) == 1:
            return new[0]
        time.sleep(0.05)
    raise AssertionError(f"no one new connection on workers {workers}")


@contextlib.contextmanager
def _pinned(server, pid: int) -> Iterator[httpx.Client]:
    """A client whose keep-alive connection worker ``pid`` accepted (connections are opened
    until the kernel hands one to it); ``client.port`` is the connection's own port."""
    port = int(server.url.rsplit(":", 1)[1])
    workers = _children(server.process.pid)
    for _ in range(100):
        before = {w: _ports(w, port) for w in workers}
        client = server.client(limits=httpx.Limits(max_connections=1))
        assert client.get("/openapi.json").status_code == 200  # answered where it landed
        holder, client.port = _holder(workers, port, before)  # type: ignore[attr-defined]
        if holder == pid:
            break
        client.close()
    else:
        raise AssertionError(f"no connection landed on worker {pid}")
    try:
        yield client
    finally:
        client.close()


def _finish(client: httpx.Client, events_url: str) -> tuple[list[str], dict]:
    kinds, last = [], {}
    with client.stream("GET", events_url, timeout=120) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kinds.append(line.removeprefix("event: "))
            elif line.startswith("data: "):
                last = json.loads(line.removeprefix("data: "))
    return kinds, last


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
        "import json, os\nimport attrs\nfrom snapkit import hookimpl\n\n"
        "@hookimpl\ndef snapkit_admin_refresh_attempted(event):\n"
        f"    with open({str(log)!r}, 'a') as out:\n"
        "        out.write(json.dumps({**attrs.asdict(event), 'pid': os.getpid()}) + '\\n')\n",
        encoding="utf-8",
    )
    return site


# -- one refresh at a time, seen from every worker ------------------------------------------------


def test_a_run_started_through_one_worker_is_refused_and_followed_through_both(
    served, district_store, tmp_path, admin_token
):
    config = district_store.copy(tmp_path / "copy")
    before = district_store.project().current().id
    server = served(config, env=district_store.env, args=("--workers", "2"))
    owner, other = _workers(server)
    district_store.source.set_faults(delay=0.05)
    try:
        with _pinned(server, other) as via_other, _pinned(server, owner) as via_owner:
            accepted = via_other.post("/api/admin/refresh", headers=_bearer(admin_token))
            assert accepted.status_code == 202, accepted.text
            run_id = accepted.json()["run_id"]
            for client in (via_owner, via_other):
                busy = client.post("/api/admin/refresh", headers=_bearer(admin_token))
                assert busy.status_code == 409, busy.text
                assert busy.json()["error"]["holder"]["run_id"] == run_id
                status = client.get("/api/refresh").json()
                assert status["running"] is True and status["run"]["run_id"] == run_id
                assert client.get(f"/api/refresh/runs/{run_id}").json()["state"] == "running"
                page = client.get("/")
                assert 'data-state="fetching"' in page.text and 'data-colour="blue"' in page.text
                assert client.get("/api/current").json()["id"] == before

            def read(path: str) -> tuple[int, str | None]:
                answer = httpx.get(server.url + path, timeout=60)  # a new connection each
                if path == "/api/refresh":
                    return answer.status_code, answer.json()["run"]["run_id"]
                return answer.status_code, None

            paths = ["/api/current", "/api/refresh", f"/api/refresh/runs/{run_id}", "/"] * 16
            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(read, paths))
            assert {status for status, _ in answers} == {200}
            assert {seen for _, seen in answers if seen is not None} == {run_id}

            kinds, last = _finish(via_other, accepted.json()["events_url"])
            assert kinds[-1] == "done" and set(kinds[:-1]) <= {"progress"}
            assert last["state"] == "success" and last["pointer_moved"] is True
            for client in (via_owner, via_other):
                assert client.get(f"/api/refresh/runs/{run_id}").json() == last
                assert client.get("/api/current").json()["id"] == last["snapshot_id"]
                assert client.get("/api/refresh").json()["running"] is False
    finally:
        district_store.source.set_faults()


def test_a_run_s_stream_can_be_followed_from_the_worker_that_did_not_start_it(
    served, district_store, tmp_path, admin_token
):
    config = district_store.copy(tmp_path / "copy")
    server = served(config, env=district_store.env, args=("--workers", "2"))
    owner, other = _workers(server)
    with _pinned(server, owner) as via_owner:
        accepted = via_owner.post("/api/admin/refresh", headers=_bearer(admin_token)).json()
    with _pinned(server, other) as via_other:
        kinds, last = _finish(via_other, accepted["events_url"])
    assert kinds[-1] == "done" and last["run_id"] == accepted["run_id"]
    assert last["state"] == "success"


def _sockets(pid: int) -> int:
    """How many sockets a worker holds (listening, its event loop's own, and one per
    connection: for the owner, one per request forwarded to it)."""
    return len(_inodes(pid))


def test_a_stream_the_client_closes_is_closed_at_the_owner_too(
    served, district_store, tmp_path, admin_token
):
    config = district_store.copy(tmp_path / "copy")
    server = served(config, env=district_store.env, args=("--workers", "2"))
    owner, other = _workers(server)
    district_store.source.set_faults(delay=0.5)  # a run of several seconds
    try:
        with _pinned(server, other) as via_other:
            accepted = via_other.post("/api/admin/refresh", headers=_bearer(admin_token)).json()
            with via_other.stream("GET", accepted["events_url"]) as stream:
                lines = stream.iter_lines()  # kept: a generator dropped closes the stream
                assert next(lines) == "event: progress"
                streaming = _sockets(owner)  # the forwarded stream among them
            deadline = time.monotonic() + 30
            while _sockets(owner) >= streaming and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _sockets(owner) < streaming
            assert via_other.get("/api/refresh").json()["running"] is True  # closed by the client
    finally:
        district_store.source.set_faults()


def test_the_rate_limit_counts_attempts_on_every_worker(served, district_store, tmp_path):
    config = _with_serve(district_store.copy(tmp_path / "copy"), "refresh_per_minute = 3")
    server = served(config, env=district_store.env, args=("--workers", "2"))
    owner, other = _workers(server)
    with _pinned(server, owner) as via_owner, _pinned(server, other) as via_other:
        statuses = [
            client.post("/api/admin/refresh", headers=_bearer(WRONG)).status_code
            for client in (via_owner, via_other, via_owner, via_other, via_owner)
        ]
        limited = via_other.post("/api/admin/refresh", headers=_bearer(WRONG))
    assert statuses == [403, 403, 403, 429, 429]
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60


def test_a_failed_run_shows_red_with_its_reason_on_the_status_page_of_either_worker(
    served, district_store, tmp_path, admin_token
):
    config = district_store.copy(tmp_path / "copy", fail_fast=True)
    server = served(config, env=district_store.env, args=("--workers", "2"))
    owner, other = _workers(server)
    district_store.source.set_faults(server_errors_always=True)
    try:
        with _pinned(server, other) as via_other:
            accepted = via_other.post("/api/admin/refresh", headers=_bearer(admin_token)).json()
            _, last = _finish(via_other, accepted["events_url"])
        assert last["state"] == "failed"
        for pid in (owner, other):
            with _pinned(server, pid) as client:
                page = client.get("/").text
            assert 'data-state="failed"' in page and 'data-colour="red"' in page
            assert last["error"]["reason"] in page
    finally:
        district_store.source.set_faults()


def test_a_large_body_for_the_owner_s_route_is_refused_by_the_worker_that_takes_it(
    served, district_store, admin_token
):
    server = served(district_store.config, env=district_store.env, args=("--workers", "2"))
    _, other = _workers(server)
    with _pinned(server, other) as via_other:
        answer = via_other.post(
            "/api/admin/refresh", headers=_bearer(admin_token), content=b"x" * 100_000
        )
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "body_too_large"
        assert via_other.get("/api/refresh").json()["run"] is None  # nothing started


# -- the audit event -------------------------------------------------------------------------------


def test_every_attempt_is_audited_once_with_its_client_whichever_worker_takes_it(
    served, district_store, tmp_path, admin_token
):
    events_log = tmp_path / "events.jsonl"
    site = _recorder_site(tmp_path, events_log)
    config = district_store.copy(tmp_path / "copy")
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    server = served(
        config,
        env={**district_store.env, "PYTHONPATH": path},
        args=("--workers", "2", "--log-level", "debug"),
    )
    owner, other = _workers(server)
    with _pinned(server, owner) as via_owner, _pinned(server, other) as via_other:
        via_other.post("/api/admin/refresh")
        via_owner.post("/api/admin/refresh", headers=_bearer(WRONG))
        accepted = via_other.post("/api/admin/refresh", headers=_bearer(admin_token)).json()
        via_owner.post("/api/admin/refresh", headers=_bearer(admin_token))
        via_other.post("/api/admin/refresh", headers=_bearer(admin_token))
        _finish(via_owner, accepted["events_url"])
        clients = [
            f"127.0.0.1:{c.port}" for c in (via_other, via_owner, via_other, via_owner, via_other)
        ]
    server.stop()
    events = [json.loads(line) for line in events_log.read_text().splitlines()]
    assert [e["outcome"] for e in events] == [
        "no_token",
        "wrong_token",
        "started",
        "refresh_running",
        "refresh_running",
    ]
    assert [e["status_code"] for e in events] == [401, 403, 202, 409, 409]
    assert [e["client"] for e in events] == clients
    assert {e["pid"] for e in events} == {owner}
    recorded = events_log.read_text()
    log = server.log()
    for secret in (admin_token, WRONG):
        assert secret not in recorded
        assert secret not in log


# -- the live dashboard ----------------------------------------------------------------------------


def test_the_dashboard_s_streams_share_one_cache_whichever_worker_takes_them(
    district_store, served
):
    server = served(
        district_store.dashboard_config, env=district_store.env, args=("--workers", "2")
    )
    owner, other = _workers(server)
    seen = []
    for page, pid in (("workers-page-1", other), ("workers-page-2", owner)):
        with _pinned(server, pid) as client:
            (class_id,) = re.findall(r'<option value="([^"]+)"', client.get("/dashboard").text)
            with client.stream(
                "GET", f"/api/dashboard/{class_id}/events", params={"page": page, "seq": 1}
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream"), (
                    response.read()
                )
                events = []
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line.removeprefix("data: "))))
                        if name in ("complete", "timeout"):
                            break
        seen.append(events)
    first, second = seen
    assert first[0][0] == "session" and first[-1][0] == "complete"
    assert set(first[-1][1]["sources"]) == {"loaded"}
    # the second page load is answered from the cache the first one filled
    assert second[-1][0] == "complete" and set(second[-1][1]["sources"]) == {"cache"}


# -- the processes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["owner", "other"])
def test_a_killed_worker_stops_the_server_with_exit_1(served, district_store, which):
    server = served(district_store.config, env=district_store.env, args=("--workers", "2"))
    owner, other = _workers(server)
    killed, survivor = (owner, other) if which == "owner" else (other, owner)
    os.kill(killed, signal.SIGKILL)
    assert server.process.wait(timeout=60) == 1
    assert not _alive(survivor)
    assert f"(pid {killed}) exited with signal SIGKILL: stopping the server" in server.log()


def test_sigterm_stops_every_worker_and_the_server_exits_0(served, district_store):
    server = served(district_store.config, env=district_store.env, args=("--workers", "2"))
    workers = _workers(server)
    mine = _inodes(workers[0])
    runtime = [
        line.split()[-1]
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]
        if line.split()[6] in mine and line.endswith("owner.sock")
    ]
    assert runtime and Path(runtime[0]).parent.stat().st_mode & 0o077 == 0  # private
    server.process.terminate()
    assert server.process.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert not Path(runtime[0]).parent.exists()


def test_one_worker_serves_in_the_server_process_itself(served, district_store):
    server = served(district_store.config, env=district_store.env, args=("--workers", "1"))
    with server.client() as client:
        assert client.get("/api/current").status_code == 200
    assert _children(server.process.pid) == []
    assert "1 worker)" in server.log()


@pytest.mark.parametrize("value", ["0", "65", '"two"'])
def test_a_workers_setting_outside_1_to_64_is_refused_at_start(tmp_path, empty_store, value):
    _with_serve(empty_store, f"workers = {value}")
    proc = subprocess.run(
        [sys.executable, "-m", "snapkit", "-c", str(empty_store), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "serve.workers" in proc.stderr
