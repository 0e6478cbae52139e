"""The oneroster click group: serve in the foreground, export CSV."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import httpx
from click.testing import CliRunner

from snapkit_oneroster.bulk_csv import BulkReader
from snapkit_oneroster.cli import oneroster


def test_group_is_a_click_group_named_oneroster() -> None:
    assert isinstance(oneroster, click.Group)
    assert oneroster.name == "oneroster"
    assert {"serve", "export-csv"} <= set(oneroster.commands)


def test_serve_runs_in_the_foreground_and_answers_with_its_credentials() -> None:
    command = [
        sys.executable, "-m", "snapkit_oneroster.cli", "serve",
        "--port", "0", "--users", "200", "--seed", "3", "--auth", "oauth2", "--rate-limit", "1",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        token = httpx.post(
            info["token_url"],
            data={"grant_type": "client_credentials"},
            auth=(info["client_id"], info["client_secret"]),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(info["base_url"] + "/users", headers=headers).status_code == 429
        users = httpx.get(info["base_url"] + "/users", headers=headers)
        assert users.headers["X-Total-Count"] == "200"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_export_csv_writes_a_readable_bulk_export(tmp_path: Path) -> None:
    target = tmp_path / "district.zip"
    result = CliRunner().invoke(
        oneroster, ["export-csv", str(target), "--users", "150", "--seed", "2", "--days", "1"]
    )
    assert result.exit_code == 0, result.output
    with BulkReader(target) as bulk:
        assert sum(1 for _ in bulk.iter_records("users")) > 140
