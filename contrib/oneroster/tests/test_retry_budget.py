"""Issue 11, defects 8 and 9: one retry budget per table and one deadline; endless paging and a
deadline that cuts a call short are named as such.

Before the fix, a dead server was tried 3 (client) x 3 (engine) = 9 times per page, and a
refresh of nine tables took 41 s to fail; the client's retries are now the only ones.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import snapkit_oneroster.plugin as plugin
from snapkit.cli.main import main
from snapkit.testing.engine import make_project
from snapkit_oneroster.client import OneRosterClient, RetryPolicy
from snapkit_oneroster.errors import DeadlineExceededError
from snapkit_oneroster.server import ServerHandle

NO_WAIT = {"attempts": 3, "initial": 0.0, "maximum": 0.0, "jitter": 0.0}


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def snapkit(config: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            main(["-c", str(config), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, streams[0].getvalue().decode(), streams[1].getvalue().decode()


def dead_server_config(folder: Path, retry: str, refresh: str) -> Path:
    port = dead_port()
    config = folder / "snapkit.toml"
    config.write_text(f"""\
[plugins]
enabled = ["file-store", "oneroster"]

[store]
kind = "file"
path = "store"

[refresh]
{refresh}

[oracles.oneroster]
base_url = "http://127.0.0.1:{port}/ims/oneroster/v1p1"
token_url = "http://127.0.0.1:{port}/token"
client_id = "district"
client_secret = "not-a-secret"
tables = ["orgs", "users"]
retry = {retry}
""")
    return config


def table_runs(config: Path) -> dict[str, Any]:
    code, out, _ = snapkit(config, "snapshots", "show", "latest", "--json")
    assert code == 0
    timings: dict[str, Any] = json.loads(out)["run"]["timings"]
    return timings


def test_a_dead_server_is_tried_once_per_retry_not_retries_times_retries(
    tmp_path: Path,
) -> None:
    config = dead_server_config(
        tmp_path,
        "{ attempts = 3, initial = 0, maximum = 0, jitter = 0 }",
        "attempts = 3\nbackoff = 0",
    )
    code, _, err = snapkit(config, "refresh")
    assert code == 1
    assert "gave up after 3 attempts" in err
    runs = table_runs(config)
    for table in ("orgs", "users"):
        assert runs[table]["attempts"] == 1  # the engine did not retry the table on top
        assert runs[table]["metrics"]["api_calls"] == 3  # 3 tries of the page, not 9


def test_the_engine_timeout_is_the_client_deadline(tmp_path: Path) -> None:
    # the client would wait 60 s before its second try; the engine allows the call 3 s
    config = dead_server_config(
        tmp_path, "{ attempts = 3, initial = 60, maximum = 60, jitter = 0 }", "timeout = 3"
    )
    code, _, err = snapkit(config, "refresh")
    assert code == 1
    assert "no time left to retry within the deadline of 3 s" in err
    for table in ("orgs", "users"):
        assert table_runs(config)[table]["metrics"]["api_calls"] == 1


def test_a_server_failing_every_call_is_tried_by_the_client_budget_only(
    tmp_path: Path, server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPKIT_TEST_ONEROSTER_SECRET", server.client_secret)
    section = {
        "base_url": server.base_url,
        "client_id": server.client_id,
        "client_secret": {"env": "SNAPKIT_TEST_ONEROSTER_SECRET"},
        "retry": NO_WAIT,
        "tables": ["orgs"],
    }
    project = make_project(
        tmp_path,
        plugin,
        config={"oracles": {"oneroster": section}, "refresh": {"attempts": 3, "backoff": 0.0}},
    )
    server.set_faults(server_errors_always=True)
    outcome = project.refresh()
    server.set_faults()
    assert outcome.status == "failed"
    timings = outcome.manifest.run.timings["orgs"]
    assert timings.attempts == 1
    assert timings.metrics["api_calls"] == 3
    assert any("HTTP 500" in e.message for e in outcome.errors)


def endless_client(deadline: float, handler: Any) -> OneRosterClient:
    return OneRosterClient(
        "http://oneroster.test/ims/oneroster/v1p1",
        httpx.Auth(),
        page_size=10,
        deadline=deadline,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1, initial=0, maximum=0, jitter=0),
    )


def test_endless_pagination_is_named_when_the_deadline_passes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # full pages of new ids, forever
        offset = int(request.url.params["offset"])
        users = [{"sourcedId": f"u{offset + i:012d}", "role": "student"} for i in range(10)]
        return httpx.Response(200, json={"users": users})

    client = endless_client(0.2, handler)
    with pytest.raises(DeadlineExceededError) as caught:
        for _ in client.iter_pages("users", normalize=False):
            pass
    message = str(caught.value)
    assert message.startswith("users: the deadline of 0.2 s passed after ")
    assert "and no X-Total-Count) while the server still sent full pages" in message
    assert "may be paging without end" in message
    assert "no answer within" not in message


def test_a_call_cut_short_by_the_deadline_says_deadline_not_no_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = endless_client(5.0, handler)
    with pytest.raises(DeadlineExceededError) as caught:
        list(client.iter_records("users"))
    assert str(caught.value) == (
        "GET users: the deadline of 5 s passed while waiting for an "
        "answer; raise the deadline or check why the server is slow"
    )
