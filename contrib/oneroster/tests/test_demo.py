"""``snapkit demo`` on the OneRoster scenario, and ``snapkit oneroster layout``, end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

SNAPKIT = [sys.executable, "-m", "snapkit"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    return subprocess.run(
        [*SNAPKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


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

    layout = run(
        "-c", str(config), "oneroster", "layout", "--out", str(tmp_path / "view"), cwd=tmp_path
    )
    assert layout.returncode == 0, layout.stderr
    (status_path,) = (tmp_path / "view" / "demo-district").glob("*/oneroster/status.json")
    status = json.loads(status_path.read_text())
    assert status["status"] == "complete"
    assert {"students.csv", "parents.csv", "classes.csv", "users.jsonl"} <= set(status["files"])

    search = run(
        "-c", str(config), "search", "guardians", "role=parent", "-n", "2", "--json", cwd=tmp_path
    )
    assert search.returncode == 0, search.stderr
    rows = json.loads(search.stdout)["rows"]
    assert len(rows) == 2 and all("children" in row for row in rows)


def test_demo_exports_one_class_dashboard_with_parity(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = run("demo", "--users", "300", "--dir", str(folder), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[7] Export" in out and "[8] Verify" in out
    (archive,) = (folder / "exports").glob("*.zip")
    assert f"instructor_dashboard -> {archive}: complete, 7 files" in out
    assert "parity ok" in out
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        manifest = json.loads(z.read("manifest.json"))
    assert "student_support_list.csv" in names and "manifest.json" in names
    assert manifest["profile"] == "instructor_dashboard"
    rows = {r["name"]: r for r in manifest["resources"]}
    assert re.search(
        rf"student_support_list\.csv +{rows['student_support_list']['rows']} rows", out
    )
    # the class's snapshot went to the exports' own store: the district stays current
    assert re.search(r"2 snapshots, \d+ parts: ok", out)
    assert (folder / "exports" / "store").is_dir()


def test_the_export_step_is_skipped_when_no_plugin_provides_the_profile(
    tmp_path: Path, capsys
) -> None:
    from snapkit.cli.demo_cmd import _run_export
    from snapkit.contracts import Scope
    from snapkit.demo import DemoExport

    config = tmp_path / "snapkit.toml"
    config.write_text('[store]\nkind = "file"\npath = "store"\n', encoding="utf-8")
    example = DemoExport(
        name="class-1",
        profile="instructor_dashboard",
        scope=Scope("demo", "class-1"),
        oracles=("dashboard_class", "dashboard_roster"),
        config={"plugins": {"blocked": ["instructor-dashboard"]}},
        plugin="snapkit-instructor-dashboard",
    )
    _run_export(config, tmp_path / "exports", example)
    out = capsys.readouterr().out
    assert (
        "skipped: no installed plugin provides export profile 'instructor_dashboard' or "
        "oracles 'dashboard_class', 'dashboard_roster' "
        "(install snapkit-instructor-dashboard)"
    ) in out
    assert not (tmp_path / "exports").exists()
