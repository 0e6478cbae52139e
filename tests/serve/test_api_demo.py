"""``snapkit demo`` says how to open the pages on its store, and ``--serve`` serves them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

SNAPKIT = [sys.executable, "-m", "snapkit"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    return {**env, **extra}


def test_the_demo_prints_the_serve_command_for_its_store(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run(
        [*SNAPKIT, "demo", "--users", "200", "--dir", str(folder), "--quiet"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = folder.resolve() / "snapkit.toml"
    assert f"snapkit -c {config} serve --port 8750" in done.stdout
    assert "http://127.0.0.1:8750/" in done.stdout


def test_demo_serve_serves_the_demo_store_with_its_source_running(
    tmp_path: Path, admin_token: str
) -> None:
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *SNAPKIT,
                "demo",
                "--users",
                "200",
                "--dir",
                str(tmp_path / "demo"),
                "--quiet",
                "--serve",
                "--port",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(SNAPKIT_SERVE_TOKEN=admin_token),
        )
    try:
        url = None
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline and process.poll() is None:
            match = re.search(r"listening on (http://\S+?:\d+)", log_path.read_text())
            url = match.group(1) if match else None
            time.sleep(0.1)
        assert url is not None, log_path.read_text()
        with httpx.Client(base_url=url, timeout=60) as client:
            for _ in range(100):
                try:
                    current = client.get("/api/current")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert current.status_code == 200
            assert current.json()["scope"]["namespace"] == "demo-district"
            accepted = client.post(
                "/api/admin/refresh", headers={"Authorization": f"Bearer {admin_token}"}
            )
            assert accepted.status_code == 202
            run = accepted.json()
            for _ in range(600):
                state = client.get(run["status_url"]).json()
                if state["state"] != "running":
                    break
                time.sleep(0.1)
            assert state["state"] == "success", state["error"]
    finally:
        process.terminate()
        process.wait(timeout=30)
