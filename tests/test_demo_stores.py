"""``snapkit demo --store KIND --store-option KEY=VALUE``: the demo runs end to end on SQLite,
PostgreSQL and S3, and a bad store request stops it with exit 2 before anything is written
(issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapkit.demo import parse_store_options, with_store_section
from snapkit.errors import UsageError
from snapkit_object_store.testing import MotoServer
from snapkit_sql_store.testing import PostgresServer

SNAPKIT = [sys.executable, "-m", "snapkit"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    return subprocess.run(
        [*SNAPKIT, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def demo_on(tmp_path: Path, *store: str, env: dict[str, str] | None = None) -> Path:
    """Run the demo with ``store`` arguments; check it and its store; return its config."""
    folder = tmp_path / "demo"
    done = run(
        "demo", "--users", "100", "--dir", str(folder), "--quiet", *store, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "2 snapshots" in done.stdout and ": ok" in done.stdout
    config = folder / "snapkit.toml"
    listed = run("-c", str(config), "snapshots", "list", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2
    verified = run("-c", str(config), "snapshots", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return config


def store_section(config: Path) -> dict[str, object]:
    return dict(tomllib.loads(config.read_text(encoding="utf-8"))["store"])


def test_demo_on_sqlite_defaults_to_a_database_file_in_the_demo_folder(tmp_path: Path) -> None:
    config = demo_on(tmp_path, "--store", "sqlite", "--store-option", "busy_timeout=15")
    assert store_section(config) == {"kind": "sqlite", "busy_timeout": 15, "path": "store.sqlite"}
    assert (config.parent / "store.sqlite").is_file()
    assert not (config.parent / "store").exists()
    # the dashboard export refreshes its own scope into a file store, whatever the demo's is
    assert (config.parent / "exports" / "store" / "current.json").is_file()
    assert list((config.parent / "exports").glob("*.zip"))


def test_demo_on_postgresql_keeps_its_snapshots_in_the_database(
    tmp_path: Path, pg: PostgresServer
) -> None:
    schema = "demo_" + uuid.uuid4().hex[:12]
    config = demo_on(
        tmp_path,
        "--store",
        "postgresql",
        "--store-option",
        f"dsn={pg.socket_dsn()}",
        "--store-option",
        f"schema={schema}",
    )
    assert store_section(config) == {"kind": "postgresql", "dsn": pg.socket_dsn(), "schema": schema}
    assert not (config.parent / "store").exists()


def test_demo_on_s3_keeps_its_snapshots_in_the_bucket(tmp_path: Path, moto: MotoServer) -> None:
    bucket = moto.make_bucket()
    config = demo_on(
        tmp_path,
        "--store",
        "s3",
        "--store-option",
        f"endpoint_url={moto.endpoint_url}",
        "--store-option",
        f"bucket={bucket}",
        "--store-option",
        'prefix="demo/"',
        env=S3_CREDENTIALS,
    )
    assert store_section(config) == {
        "kind": "s3",
        "endpoint_url": moto.endpoint_url,
        "bucket": bucket,
        "prefix": "demo/",
    }
    assert not (config.parent / "store").exists()
    keys = moto.client().list_objects_v2(Bucket=bucket, Prefix="demo/")
    assert keys.get("KeyCount", 0) > 0


def refused(tmp_path: Path, *store: str) -> str:
    folder = tmp_path / "demo"
    done = run("demo", "--users", "100", "--dir", str(folder), "--quiet", *store, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert not folder.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_a_missing_required_option_is_named_before_anything_is_written(tmp_path: Path) -> None:
    message = refused(tmp_path, "--store", "s3", "--store-option", "endpoint_url=http://x:1")
    assert "--store s3 needs --store-option bucket=" in message


def test_an_unknown_store_kind_suggests_the_closest(tmp_path: Path) -> None:
    message = refused(tmp_path, "--store", "sqlight")
    assert "'sqlight'" in message and "did you mean 'sqlite'?" in message


def test_an_option_the_store_does_not_take_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "--store", "sqlite", "--store-option", "bucket=x")
    assert "store" in message and "bucket" in message


def test_an_option_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "--store", "sqlite", "--store-option", "busy_timeout=soon")
    assert "store.busy_timeout" in message


def test_a_secret_naming_an_unset_variable_is_refused(tmp_path: Path) -> None:
    message = refused(
        tmp_path,
        "--store",
        "postgresql",
        "--store-option",
        'password={env = "SNAPKIT_DEMO_TEST_UNSET"}',
    )
    assert "store.password names environment variable SNAPKIT_DEMO_TEST_UNSET" in message


def test_a_malformed_option_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "--store", "sqlite", "--store-option", "path")
    assert "--store-option 'path' is not KEY=VALUE" in message


def test_option_values_are_read_as_toml_values_else_as_strings() -> None:
    options = parse_store_options(
        [
            "a=15",
            "b=2.5",
            "c=true",
            "d=plain text",
            'e={env = "NAME"}',
            "f=postgresql://u@h:5/db",
            'g="7"',
        ]
    )
    assert options == {
        "a": 15,
        "b": 2.5,
        "c": True,
        "d": "plain text",
        "e": {"env": "NAME"},
        "f": "postgresql://u@h:5/db",
        "g": "7",
    }
    for bad in (["kind=s3"], ["x=1", "x=2"], ["=1"]):
        with pytest.raises(UsageError):
            parse_store_options(bad)


def test_the_store_section_is_replaced_and_the_rest_kept_byte_for_byte() -> None:
    text = '# head\n[store]\nkind = "file"\npath = "store"\n\n[scope]\nnamespace = "n"\n'
    table = {"kind": "s3", "bucket": 'q"u\\ote\x7f', "n": 3, "secret": {"env": "S"}}
    out = with_store_section(text, table)
    assert out.startswith("# head\n[store]\n")
    assert out.endswith('\n\n[scope]\nnamespace = "n"\n')
    assert tomllib.loads(out) == {"store": table, "scope": {"namespace": "n"}}
    appended = with_store_section('[scope]\nnamespace = "n"\n', {"kind": "sqlite"})
    assert tomllib.loads(appended)["store"] == {"kind": "sqlite"}
