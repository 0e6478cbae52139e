"""``snapkit demo`` on the OneRoster scenario, and ``snapkit oneroster layout``, end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

SNAPKIT = [sys.executable, "-m", "snapkit"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    return subprocess.run([*SNAPKIT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_demo_refreshes_changes_diffs_and_searches_guardians(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = run("demo", "--users", "300", "--dir", str(folder), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "snapkit demo: a school district" in out
    assert "What changed" in out and "table users (changed)" in out
    assert "snapkit search guardians 'familyName=" in out
    assert "children.givenName=" in out
    assert re.search(r"2 snapshots, \d+ parts: ok", out)
    config = folder / "snapkit.toml"
    assert "client_secret = { env = " in config.read_text()

    layout = run("-c", str(config), "oneroster", "layout", "--out", str(tmp_path / "view"),
                 cwd=tmp_path)
    assert layout.returncode == 0, layout.stderr
    (status_path,) = (tmp_path / "view" / "demo-district").glob("*/oneroster/status.json")
    status = json.loads(status_path.read_text())
    assert status["status"] == "complete"
    assert {"students.csv", "parents.csv", "classes.csv", "users.jsonl"} <= set(status["files"])

    search = run("-c", str(config), "search", "guardians", "role=parent", "-n", "2", "--json",
                 cwd=tmp_path)
    assert search.returncode == 0, search.stderr
    rows = json.loads(search.stdout)["rows"]
    assert len(rows) == 2 and all("children" in row for row in rows)
