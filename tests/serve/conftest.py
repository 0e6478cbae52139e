"""Fixtures of the server tests: a real ``snapkit serve`` (uvicorn) on a free loopback port.

- ``served(config_path, token=..., env=...)`` starts ``python -m snapkit -c CONFIG serve
  --port 0`` in its own process, waits until it answers, and returns a :class:`Served`
  (``.url`` is the base URL, ``.log()`` what the server wrote); every server started is
  stopped at the test's end.
- ``district_store`` (session): a small OneRoster district on a local OneRoster server (kept
  running for the session, so refreshes work), refreshed twice with a school day between:
  two snapshots, a diff, guardians with their children. ``district_store.config`` is its
  ``snapkit.toml``; ``district_store.source`` the OneRoster server handle (faults, days).
  ``district_store.env`` is the environment a server on it needs (pass it to ``served``).
- ``server_starter`` (session): :func:`start_server`, for a module-scoped server;
  ``admin_token``: the token servers get by default.
- ``empty_store``: a config whose store has no snapshot yet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

TOKEN = "t" * 8 + "-serve-tests-admin-token-0123456789"
"""An admin token of the tests (longer than the 32-character minimum)."""

USERS = 300
LISTENING = re.compile(r"listening on (http://\S+?:\d+)")


class Served:
    """A running ``snapkit serve`` process."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    def __str__(self) -> str:
        return self.url

    def client(self, **options: Any) -> httpx.Client:
        """An HTTP client for this server."""
        return httpx.Client(base_url=self.url, timeout=options.pop("timeout", 60.0), **options)

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it does not stop)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_server(
    config: Path,
    log_path: Path,
    *,
    token: str | None = TOKEN,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 60.0,
) -> Served:
    """Start ``snapkit serve`` on a free loopback port and wait until it answers."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_SERVE")}
    if token is not None:
        environ["SNAPKIT_SERVE_TOKEN"] = token
    environ.update(env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snapkit",
                "-c",
                str(config),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
        )
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if url is None:
            match = LISTENING.search(text)
            url = match.group(1) if match else None
        if url is not None:
            try:
                if httpx.get(url + "/api/refresh", timeout=5).status_code == 200:
                    return Served(process, url, log_path)
            except httpx.TransportError:
                pass
        if process.poll() is not None:
            raise RuntimeError(f"snapkit serve exited with {process.returncode}:\n{text}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"snapkit serve did not answer within {timeout} s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def server_starter() -> Callable[..., Served]:
    """:func:`start_server` itself, for module-scoped servers (test modules cannot import
    this conftest: several test folders on sys.path have one)."""
    return start_server


@pytest.fixture(scope="session")
def admin_token() -> str:
    """The admin token the ``served`` servers get (through ``$SNAPKIT_SERVE_TOKEN``)."""
    return TOKEN


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start servers for a test: ``served(config_path, token=TOKEN, env=None, args=())``."""
    started: list[Served] = []

    def start(config: Path, **options: Any) -> Served:
        log_path = tmp_path / f"serve-{len(started)}.log"
        server = start_server(Path(config), log_path, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class DistrictStore:
    """A OneRoster district refreshed into a file store (see the module docstring)."""

    def __init__(
        self,
        folder: Path,
        config: Path,
        source: Any,
        demo: Any,
        env: dict[str, str],
        dashboard_config: Path,
    ) -> None:
        self.folder = folder
        self.config = config
        self.dashboard_config = dashboard_config
        """One class's instructor dashboard (the ``instructor_dashboard`` export profile)."""
        self.source = source
        self.demo = demo
        self.env = env
        """What a server on this store needs in its environment (the source's secret)."""

    def project(self) -> Any:
        from snapkit.project import Project

        return Project.load(self.config)

    def copy(self, target: Path, *, fail_fast: bool = False) -> Path:
        """A copy of the config and store in ``target`` (for tests that refresh it); returns
        the copy's config path. It uses the same OneRoster server. ``fail_fast``: no retries
        (neither the client's nor the engine's), for tests of a failing source."""
        shutil.copytree(self.folder, target, ignore=shutil.ignore_patterns("*.log"))
        config = target / "snapkit.toml"
        if fail_fast:
            text = config.read_text(encoding="utf-8")
            text = text.replace(
                "page_size = 2000\n", "page_size = 2000\nretry = { attempts = 1 }\n"
            )
            config.write_text(text + "\n[refresh]\nattempts = 1\n", encoding="utf-8")
        return config


@pytest.fixture(scope="session")
def district_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistrictStore]:
    """Two snapshots of a small district, its OneRoster server kept running."""
    from snapkit.project import Project
    from snapkit_oneroster.demo import SECRET_ENV, OneRosterDemo

    folder = tmp_path_factory.mktemp("district")
    demo = OneRosterDemo({"size": USERS})
    config = folder / "snapkit.toml"
    config.write_text(demo.start(folder), encoding="utf-8")
    try:
        project = Project.load(config)
        first = project.refresh()
        assert first.status == "success", first.errors
        demo.advance()
        second = project.refresh()
        assert second.status == "success", second.errors
        env = {SECRET_ENV: os.environ[SECRET_ENV]}
        dashboard = _dashboard_store(folder / "dashboard", config, demo, project)
        yield DistrictStore(folder, config, demo.server, demo, env, dashboard)
    finally:
        demo.close()


def _dashboard_store(folder: Path, config: Path, demo: Any, project: Any) -> Path:
    """Refresh the demo's export scope (one class's dashboard) into ``folder``; its config."""
    import tomllib

    from snapkit.demo import export_config
    from snapkit.project import Project

    (example,) = demo.exports(project)
    base = tomllib.loads(config.read_text(encoding="utf-8"))
    folder.mkdir()
    target = folder / "snapkit.toml"
    target.write_text(_toml(export_config(base, example)), encoding="utf-8")
    outcome = Project.load(target).refresh()
    assert outcome.status == "success", outcome.errors
    return target


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Write a config mapping as TOML (the value types snapkit configs use)."""
    import json

    def value(item: Any) -> str:
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in item.items()) + " }"
        if isinstance(item, list | tuple):
            return "[" + ", ".join(value(v) for v in item) + "]"
        return json.dumps(item)

    plain = {k: v for k, v in data.items() if not isinstance(v, dict) or set(v) == {"env"}}
    tables = {k: v for k, v in data.items() if k not in plain}
    lines = [f"[{prefix}]"] if prefix and plain else []
    lines += [f"{key} = {value(item)}" for key, item in plain.items()]
    text = "\n".join(lines) + ("\n\n" if lines else "")
    for key, table in tables.items():
        text += _toml(table, f"{prefix}.{key}" if prefix else key)
    return text


@pytest.fixture
def empty_store(tmp_path: Path) -> Path:
    """A config whose store holds no snapshot yet (its oracle's source is unreachable)."""
    config = tmp_path / "empty" / "snapkit.toml"
    config.parent.mkdir()
    config.write_text('[store]\nkind = "file"\npath = "store"\n', encoding="utf-8")
    return config
