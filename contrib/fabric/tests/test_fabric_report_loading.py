"""Loading Fabric reports from files and from command output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from snapkit_fabric import (
    FabricExportError,
    FabricSnapshotError,
    load_report_from_command,
    load_report_from_file,
    parse_report,
)


def python_command(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_file_report_is_returned_as_written(data_dir: Path, report_from: dict[str, Any]) -> None:
    assert load_report_from_file(data_dir / "report_from.json") == report_from


def test_file_path_may_be_a_string(data_dir: Path) -> None:
    report = load_report_from_file(str(data_dir / "report_to.json"))

    assert report["determinism"]["non_deterministic_jobs"] == ["job-099"]


def test_missing_file_raises_snapshot_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"

    with pytest.raises(FabricSnapshotError, match=r"nope\.json.*does not exist"):
        load_report_from_file(missing)


def test_directory_instead_of_file_raises_snapshot_error(tmp_path: Path) -> None:
    with pytest.raises(FabricSnapshotError, match="is a directory"):
        load_report_from_file(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b"{not json", "not valid JSON: .* line 1 column 2"),
        (b"[1, 2]", "holds a JSON array"),
        (b'"report"', "holds a JSON string"),
        (b"null", "holds a JSON null"),
        (b'{"a": 1, "a": 2}', "'a' appears twice"),
        (b'{"engine_health": {"ffmpeg": {"failure_rate": NaN}}}', "NaN is not a JSON number"),
        (b'{"x": Infinity}', "Infinity is not a JSON number"),
        (b'{"x": "\xff"}', "not UTF-8"),
    ],
)
def test_malformed_file_raises_snapshot_error_saying_what_is_wrong(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)

    with pytest.raises(FabricSnapshotError, match=message):
        load_report_from_file(path)


def test_report_violating_the_schema_raises_snapshot_error_with_json_paths(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(
        json.dumps(
            {
                "execution_summary": {"completed": "ten"},
                "engine_health": {"ffmpeg": {"failure_rate": "high"}},
            }
        ),
        encoding="utf-8",
    )

    with pytest.raises(FabricSnapshotError) as caught:
        load_report_from_file(path)

    message = str(caught.value)
    assert "$.execution_summary.completed" in message
    assert "$.engine_health.ffmpeg.failure_rate" in message
    assert "FabricReportExporter.export_json()" in message


def test_utf8_report_text_is_accepted_with_non_ascii_names() -> None:
    report = parse_report('{"proxy_profile_stability": {"prorés": {"jobs": 1}}}'.encode())

    assert list(report["proxy_profile_stability"]) == ["prorés"]


def test_command_stdout_is_read_as_the_report(report_to: dict[str, Any]) -> None:
    code = f"import sys; sys.stdout.write({json.dumps(report_to)!r})"

    assert load_report_from_command(python_command(code)) == report_to


def test_command_runs_in_the_given_directory_and_environment(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"determinism": {"non_deterministic_jobs": ["j"]}}')
    code = "import os, sys; sys.stdout.write(open(os.environ['REPORT']).read())"

    report = load_report_from_command(
        python_command(code), cwd=tmp_path, env={"REPORT": "r.json", "PATH": ""}
    )

    assert report == {"determinism": {"non_deterministic_jobs": ["j"]}}


def test_command_exiting_non_zero_raises_snapshot_error_with_status_and_stderr() -> None:
    code = "import sys; print('{}'); sys.stderr.write('exporter crashed: db locked'); sys.exit(3)"

    with pytest.raises(FabricSnapshotError) as caught:
        load_report_from_command(python_command(code))

    message = str(caught.value)
    assert "exited with status 3" in message
    assert "exporter crashed: db locked" in message


def test_command_printing_non_json_raises_snapshot_error() -> None:
    with pytest.raises(FabricSnapshotError, match=r"output of Fabric report command .* not valid"):
        load_report_from_command(python_command("print('Report generated OK')"))


def test_command_printing_nothing_raises_snapshot_error() -> None:
    with pytest.raises(FabricSnapshotError, match="is empty"):
        load_report_from_command(python_command("pass"))


def test_command_exceeding_its_timeout_is_killed_with_snapshot_error() -> None:
    with pytest.raises(FabricSnapshotError, match=r"did not finish within 0\.2 s"):
        load_report_from_command(python_command("import time; time.sleep(60)"), timeout=0.2)


def test_unknown_program_raises_snapshot_error_naming_it() -> None:
    with pytest.raises(FabricSnapshotError, match="'no-such-fabric-exporter' was not found"):
        load_report_from_command(["no-such-fabric-exporter", "--json"])


@pytest.mark.parametrize("command", [[], "fabric report --json"])
def test_command_must_be_a_non_empty_argument_list(command: Any) -> None:
    with pytest.raises(FabricSnapshotError, match="non-empty list of arguments"):
        load_report_from_command(command)


def test_non_positive_timeout_is_refused() -> None:
    with pytest.raises(FabricSnapshotError, match="timeout must be positive"):
        load_report_from_command(python_command("print('{}')"), timeout=0)


def test_snapshot_error_is_a_fabric_export_error(tmp_path: Path) -> None:
    with pytest.raises(FabricExportError):
        load_report_from_file(tmp_path / "missing.json")
