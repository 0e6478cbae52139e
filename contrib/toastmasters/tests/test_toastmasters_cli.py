"""``snapkit toastmasters serve`` and ``snapkit demo --scenario toastmasters``, end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from snapkit_toastmasters.exportcsv import parse_export
from snapkit_toastmasters.server import Faults

SNAPKIT = [sys.executable, "-m", "snapkit"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}


def test_snapkit_toastmasters_serve_answers_exports_advances_and_injects_faults() -> None:
    command = [
        *SNAPKIT,
        "toastmasters",
        "serve",
        "--port",
        "0",
        "--districts",
        "61,F",
        "--clubs",
        "12",
        "--month",
        "Oct",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env()
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        url = info["base_url"] + "/export.aspx?type=CSV&report=clubperformance~F~~~2026-2027"
        export = parse_export(httpx.get(url).content)
        assert len(export.rows) == 12 and export.month == 10
        earlier = httpx.get(
            info["base_url"] + "/export.aspx?type=CSV&report=clubperformance"
            "~61~9/30/2026~~2026-2027"
        ).content
        assert parse_export(earlier).month == 9
        closed = parse_export(httpx.get(url.replace("2026-2027", "2025-2026")).content)
        assert "CSP" not in closed.headings and closed.month == 6
        assert httpx.post(info["advance"], json={"months": 1}).json()["month"] == 4
        assert parse_export(httpx.get(url).content).month == 11
        httpx.post(info["faults"], json={"server_errors": 1})
        assert httpx.get(url).status_code == 500
        assert httpx.get(url).status_code == 200
        bad = httpx.post(info["faults"], json={"flood": 1})
        assert bad.status_code == 400 and "unknown fault(s): flood" in bad.text
        assert (
            httpx.get(
                info["base_url"] + "/export.aspx?type=CSV&report=clubperformance~99~~~2026-2027"
            ).status_code
            == 404
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_faults_refuse_unknown_reports() -> None:
    with pytest.raises(ValueError, match="report must be one of"):
        Faults(report="clubs")


def test_demo_scenario_refreshes_two_months_diffs_searches_and_exports(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run(
        [
            *SNAPKIT,
            "demo",
            "--scenario",
            "toastmasters",
            "--users",
            "150",
            "--dir",
            str(folder),
            "--quiet",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "the dashboard moved to the month of Oct" in out
    assert "table clubs (changed)" in out
    assert re.search(r"active_members: \d+ -> \d+ \([+-]\d+\)", out)
    assert "snapkit search clubs 'status=low'" in out
    assert re.search(r"2 snapshots, \d+ parts: ok", out)
    (archive,) = (folder / "exports").glob("*.zip")
    with zipfile.ZipFile(archive) as z:
        assert {"club_health.csv", "district_ranking.csv", "manifest.json"} <= set(z.namelist())
    current = subprocess.run(
        [
            *SNAPKIT,
            "-c",
            str(folder / "snapkit.toml"),
            "search",
            "clubs",
            "status=suspended",
            "--json",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert current.returncode == 0, current.stderr
    assert all(r["status"] == "suspended" for r in json.loads(current.stdout)["rows"])


def test_serve_refuses_a_program_year_it_cannot_read() -> None:
    from click.testing import CliRunner

    from snapkit_toastmasters.cli import toastmasters

    result = CliRunner().invoke(toastmasters, ["serve", "--program-year", "2026"])
    assert result.exit_code == 2
    assert "write it as 2026-2027" in result.output
