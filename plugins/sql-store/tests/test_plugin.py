"""The distribution registers ``sqlite`` and ``postgresql``; configs reach them as users write
them; an unreachable server, wrong credentials or a bad DSN give one clear line and the right
exit code, and write nothing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest

from snapkit.config import load_config
from snapkit.descriptors import StoreDescriptor
from snapkit.errors import ConfigError
from snapkit.project import Project
from snapkit.store import SnapshotStore, StoreLocation
from snapkit.testing.store_kit import commit
from snapkit_sql_store import plugin
from snapkit_sql_store.backend import StoreConnectionError
from snapkit_sql_store.store import SqlStore
from snapkit_sql_store.testing import TEST_PASSWORD, PostgresServer, free_port

SNAPKIT = Path(sys.executable).parent / "snapkit"


def _registered() -> dict[str, StoreDescriptor]:
    found: list[StoreDescriptor] = []
    plugin.snapkit_register_stores(found.append)
    return {d.key: d for d in found}


def test_entry_point_in_the_snapkit_group_names_the_plugin_module() -> None:
    (ep,) = [ep for ep in entry_points(group="snapkit") if ep.name == "sql-store"]
    assert ep.load() is plugin


def test_plugin_registers_sqlite_and_postgresql_with_settings_schemas() -> None:
    stores = _registered()
    assert set(stores) == {"sqlite", "postgresql"}
    for descriptor in stores.values():
        assert descriptor.kind == "store"
        jsonschema.Draft202012Validator.check_schema(descriptor.settings_schema)


def test_importing_the_plugin_loads_no_database_driver() -> None:
    code = (
        "import sys, snapkit_sql_store.plugin; "
        "print(any(m in sys.modules for m in ('psycopg', 'sqlite3', 'zstandard')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    ("key", "settings"),
    [
        ("sqlite", {}),
        ("sqlite", {"path": ""}),
        ("sqlite", {"path": "x", "compression_level": 23}),
        ("sqlite", {"path": "x", "dsn": "postgresql://h/db"}),
        ("postgresql", {"schema": "Bad-Name"}),
        ("postgresql", {"port": 0}),
        ("postgresql", {"path": "snapkit-data"}),
        ("postgresql", {"dsn": "postgresql://h/db", "colour": "red"}),
    ],
)
def test_settings_schemas_refuse_bad_settings(key: str, settings: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(settings, _registered()[key].settings_schema)


def test_factories_build_stores_without_touching_the_database(tmp_path: Path) -> None:
    stores = _registered()
    lite = stores["sqlite"].factory({"path": str(tmp_path / "s.sqlite3"), "busy_timeout": 5})
    assert isinstance(lite, SqlStore) and isinstance(lite, SnapshotStore)
    assert isinstance(lite, StoreLocation)
    assert lite.key == "sqlite" and lite.location == str(tmp_path / "s.sqlite3")
    assert not (tmp_path / "s.sqlite3").exists()
    pg = stores["postgresql"].factory(
        {"dsn": f"postgresql://u:{TEST_PASSWORD}@127.0.0.1:1/db", "schema": "north"}
    )
    assert pg.key == "postgresql"
    assert pg.location == "postgresql://u@127.0.0.1:1/db (schema north)"


def test_separate_connection_settings_override_the_dsn_and_never_show_the_password() -> None:
    pg = _registered()["postgresql"].factory(
        {
            "dsn": "postgresql://someone@db.example:5432/first",
            "user": "snapkit",
            "password": "s3cret",
            "dbname": "second",
            "port": 6543,
        }
    )
    assert pg.location == "postgresql://snapkit@db.example:6543/second (schema snapkit)"
    assert "s3cret" not in repr(pg)


def _write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "snapkit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sqlite_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    config = _write_config(
        tmp_path / "cfg", '[store]\nkind = "sqlite"\npath = "data/store.sqlite3"\n'
    )
    project = Project.load(config)
    store = project.store
    assert isinstance(store, SqlStore)
    assert store.location == str(tmp_path / "cfg" / "data" / "store.sqlite3")
    commit(store, payload=1)
    assert (tmp_path / "cfg" / "data" / "store.sqlite3").is_file()
    store.close()


def test_postgresql_config_with_the_dsn_from_the_environment_reaches_the_server(
    tmp_path: Path, pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPKIT_TEST_PG_DSN", pg_server.dsn())
    config = _write_config(
        tmp_path,
        '[store]\nkind = "postgresql"\n'
        'dsn = { env = "SNAPKIT_TEST_PG_DSN" }\nschema = "from_config"\n',
    )
    project = Project.load(load_config(config))
    store = project.store
    assert isinstance(store, SqlStore)
    assert TEST_PASSWORD not in store.location
    assert store.location.endswith("(schema from_config)")
    result = commit(store, payload="configured")
    assert project.current().id == result.snapshot_id
    store.close()


def test_a_dsn_that_does_not_parse_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"store\.dsn"):
        _registered()["postgresql"].factory({"dsn": "postgresql://h/db?nonsense=1"})


def test_wrong_credentials_raise_a_typed_one_line_error_without_the_password(
    pg_server: PostgresServer,
) -> None:
    store = _registered()["postgresql"].factory(
        {"dsn": pg_server.dsn(password="wrong-password"), "schema": "never"}
    )
    with pytest.raises(StoreConnectionError) as caught:
        store.read_pointer()
    text = str(caught.value)
    assert "password authentication failed" in text and "\n" not in text
    assert "wrong-password" not in text
    with pytest.raises(StoreConnectionError):
        store.begin()


def test_an_unreachable_server_raises_a_typed_one_line_error() -> None:
    store = _registered()["postgresql"].factory(
        {"dsn": f"postgresql://snapkit@127.0.0.1:{free_port()}/snapkit", "connect_timeout": 2}
    )
    with pytest.raises(StoreConnectionError) as caught:
        store.list()
    assert "cannot connect to PostgreSQL at postgresql://snapkit@127.0.0.1:" in str(caught.value)
    assert "\n" not in str(caught.value)


def _snapkit(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    environment.update(env or {})
    return subprocess.run(
        [str(SNAPKIT), *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=environment,
        timeout=60,
    )


def test_cli_says_one_line_and_exits_1_for_wrong_credentials_and_writes_nothing(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    _write_config(
        tmp_path, '[store]\nkind = "postgresql"\ndsn = { env = "PG_DSN" }\nschema = "cli_wrong"\n'
    )
    env = {"PG_DSN": pg_server.dsn(password="not-it")}
    for command in (["snapshots", "list"], ["snapshots", "prune", "--keep-last", "1"]):
        proc = _snapkit(tmp_path, *command, env=env)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "password authentication failed" in lines[0]
        assert "not-it" not in proc.stderr and "Traceback" not in proc.stderr
    good = _registered()["postgresql"].factory({"dsn": pg_server.dsn(), "schema": "cli_wrong"})
    assert not good.exists()
    good.close()


def test_cli_exits_2_for_a_bad_dsn_and_1_for_an_unreachable_server(tmp_path: Path) -> None:
    _write_config(tmp_path, '[store]\nkind = "postgresql"\ndsn = "postgresql://h/db?nonsense=1"\n')
    proc = _snapkit(tmp_path, "snapshots", "list")
    assert proc.returncode == 2, proc.stderr
    assert "store.dsn" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    _write_config(
        tmp_path,
        '[store]\nkind = "postgresql"\n'
        f'dsn = "postgresql://snapkit@127.0.0.1:{free_port()}/snapkit"\n'
        "connect_timeout = 2\n",
    )
    proc = _snapkit(tmp_path, "snapshots", "list")
    assert proc.returncode == 1, proc.stderr
    assert "cannot connect to PostgreSQL" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_exits_2_when_the_secret_variable_is_missing(tmp_path: Path) -> None:
    _write_config(tmp_path, '[store]\nkind = "postgresql"\ndsn = { env = "NOT_SET_PG" }\n')
    proc = _snapkit(tmp_path, "snapshots", "list")
    assert proc.returncode == 2
    assert "NOT_SET_PG" in proc.stderr
