"""The refresh and snapshots commands as an operator uses them: exit codes, one-line errors,
JSON output, and bad input that never moves the pointer or loses data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CONFIG = """
[plugins]
enabled = ["file-store", "files"]

[store]
kind = "file"
path = "store"

[scope]
namespace = "shop"

[oracles.products]
kind = "files"
path = "products.csv"
key_column = "sku"
schema = { type = "object", required = ["sku", "price"] }
"""


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snapkit", "-c", str(folder / "snapkit.toml"), *args],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "snapkit.toml").write_text(CONFIG)
    (tmp_path / "products.csv").write_text("sku,price\nA1,3.50\nB2,7.25\n")
    return tmp_path


def only_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_reads_before_any_refresh_say_no_snapshot_yet_and_exit_3(folder: Path) -> None:
    done = run(folder, "snapshots", "current")
    assert done.returncode == 3
    assert only_line(done.stderr) == (
        f"Error: no snapshot yet in {folder / 'store'} (the store does not exist yet); "
        "run 'snapkit refresh' first"
    )


def test_refresh_success_then_failure_keeps_the_pointer(folder: Path) -> None:
    first = run(folder, "refresh", "--json")
    assert first.returncode == 0, first.stderr
    good = json.loads(first.stdout)
    assert good["status"] == "success" and good["pointer_moved"]
    (folder / "products.csv").write_text("sku,price\nA1,3.50\nC3\n")
    second = run(folder, "refresh")
    assert second.returncode == 1
    assert "failed" in second.stdout and "pointer unchanged" in second.stdout
    current = json.loads(run(folder, "snapshots", "current", "--json").stdout)
    assert current["id"] == good["snapshot_id"]
    assert current["age_seconds"] >= 0 and current["created_at"].endswith("Z")
    listed = json.loads(run(folder, "snapshots", "list", "--json").stdout)
    assert [s["status"] for s in listed] == ["failed", "success"]
    latest = json.loads(run(folder, "snapshots", "show", "latest", "--json").stdout)
    assert latest["errors"][0]["oracle"] == "products"


def test_snapshot_id_with_dot_dot_is_a_usage_error(folder: Path) -> None:
    run(folder, "refresh")
    done = run(folder, "snapshots", "show", "../../etc/passwd")
    assert done.returncode == 2
    assert "invalid snapshot id" in only_line(done.stderr)


def test_verify_names_a_corrupted_part_and_reads_still_serve_the_pointer(folder: Path) -> None:
    run(folder, "refresh")
    parts = [
        p
        for p in (folder / "store").rglob("*")
        if p.is_file() and "part" in str(p) and p.suffix == ".zst"
    ]
    assert parts, list((folder / "store").rglob("*"))
    data = bytearray(parts[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    parts[0].write_bytes(bytes(data))
    done = run(folder, "snapshots", "verify")
    assert done.returncode == 1
    assert "problem" in done.stdout
    verdict = json.loads(run(folder, "snapshots", "verify", "--json").stdout)
    assert not verdict["ok"] and verdict["problems"]


def test_corrupted_manifest_gives_one_line_error(folder: Path) -> None:
    run(folder, "refresh")
    manifests = [p for p in (folder / "store").rglob("*.json") if len(p.stem) == 64]
    assert manifests
    for manifest in manifests:
        manifest.write_text(manifest.read_text()[:-20])
    done = run(folder, "snapshots", "show", manifests[0].stem)
    assert done.returncode == 1
    line = only_line(done.stderr)
    assert line.startswith("Error: ")


def test_refresh_exit_code_says_a_refresh_is_running(folder: Path) -> None:
    from snapkit.project import Project

    project: Any = Project.load(folder / "snapkit.toml")
    with project.store.lock("test holder", 600):
        done = run(folder, "refresh")
    assert done.returncode == 5
    assert "test holder" in only_line(done.stderr) or "running" in done.stderr


def test_config_error_names_the_key_and_exits_2(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG + '\n[refresh]\ntimeout = "soon"\n')
    done = run(folder, "refresh")
    assert done.returncode == 2
    assert "refresh.timeout" in only_line(done.stderr)
