"""Helpers for tests that drive ``snapkit`` (in process, through click's CliRunner) against a
real file store filled by real refreshes of the ``files`` oracle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attrs import frozen
from click.testing import CliRunner

from snapkit.cli.main import cli
from snapkit.errors import SnapkitError

CONFIG = """
[plugins]
enabled = ["file-store", "files"]

[store]
kind = "file"
path = "store"

[scope]
namespace = "school"

[oracles.users]
kind = "files"
path = "users.csv"
key_column = "id"
"""


@frozen
class Run:
    """What one ``snapkit`` command did: its exit code and output."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def users(tag: str, count: int = 40) -> list[dict[str, str]]:
    """``count`` user rows whose names carry ``tag`` (so each tag is different data)."""
    return [{"id": f"u{i}", "name": f"{tag} user {i}"} for i in range(count)]


def write_users(folder: Path, rows: list[dict[str, str]]) -> None:
    lines = ["id,name"] + [f"{row['id']},{row['name']}" for row in rows]
    (folder / "users.csv").write_text("\n".join(lines) + "\n")


def make_folder(folder: Path, *, chunk_size: int | None = None) -> Path:
    """A project folder with the config above (no users.csv yet); ``chunk_size`` sets the
    store's (the default otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = CONFIG
    if chunk_size is not None:
        config = config.replace('path = "store"\n', f'path = "store"\nchunk_size = {chunk_size}\n')
    (folder / "snapkit.toml").write_text(config)
    return folder


def snapkit(folder: Path, *args: str) -> Run:
    """Run ``snapkit -c folder/snapkit.toml ARGS`` in process; snapkit errors give their exit
    code and one ``Error:`` line, as ``snapkit.cli.main.main`` prints them."""
    result = CliRunner().invoke(cli, ["-c", str(folder / "snapkit.toml"), *args])
    code, stderr = result.exit_code, result.stderr
    if isinstance(result.exception, SnapkitError):
        code = result.exception.exit_code
        stderr += f"Error: {result.exception}\n"
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(code, result.stdout, stderr)


def refresh(folder: Path, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Write ``rows`` to users.csv and refresh; return the refresh's JSON answer."""
    write_users(folder, rows)
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 0, (done.stdout, done.stderr)
    answer: dict[str, Any] = done.json()
    return answer


def search_all(folder: Path, *extra: str) -> Run:
    """Every users row of a snapshot (``search users u``), as JSON."""
    return snapkit(folder, "search", "users", "u", "--limit", "1000", "--json", *extra)
