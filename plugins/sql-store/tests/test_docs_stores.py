"""docs/stores.md tells the truth: its Python examples run, its configs validate.

Every ```python block runs (in a fresh folder, with ``SNAPKIT_PG_DSN`` naming the test server)
unless its first line is ``# sketch``; every ```toml block with a ``[store]`` table validates
against the settings schema of the store it names.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from snapkit.descriptors import StoreDescriptor
from snapkit_sql_store import plugin
from snapkit_sql_store.testing import PostgresServer

PAGE = Path(__file__).resolve().parents[3] / "docs" / "stores.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def _blocks(language: str) -> list[str]:
    return [
        body for lang, body in _BLOCK.findall(PAGE.read_text(encoding="utf-8")) if lang == language
    ]


def _schemas() -> dict[str, Any]:
    found: list[StoreDescriptor] = []
    plugin.snapkit_register_stores(found.append)
    schemas = {d.key: d.settings_schema for d in found}
    from snapkit_file_store import plugin as file_plugin

    file_plugin.snapkit_register_stores(lambda d: schemas.__setitem__(d.key, d.settings_schema))
    from snapkit_object_store import plugin as object_plugin

    object_plugin.snapkit_register_stores(lambda d: schemas.__setitem__(d.key, d.settings_schema))
    return schemas


def _as_strings(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return "from-the-environment"
        return {k: _as_strings(v) for k, v in value.items()}
    return value


RUNNABLE = [b for b in _blocks("python") if not b.startswith("# sketch")]


def test_the_page_has_runnable_examples_and_store_configs() -> None:
    assert len(RUNNABLE) >= 2
    assert sum("[store]" in b for b in _blocks("toml")) >= 4


@pytest.mark.parametrize("index", range(len(RUNNABLE)))
def test_python_examples_run(
    index: int, tmp_path: Path, pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNAPKIT_PG_DSN", pg_server.socket_dsn())
    exec(compile(RUNNABLE[index], f"docs/stores.md python block {index}", "exec"), {})


def test_toml_examples_validate_against_the_store_schemas() -> None:
    schemas = _schemas()
    checked = 0
    for block in _blocks("toml"):
        store = tomllib.loads(block).get("store")
        if store is None:
            continue
        kind = store.pop("kind")
        jsonschema.validate(_as_strings(store), schemas[kind])
        checked += 1
    assert checked >= 4


def test_the_page_documents_every_sql_store_setting() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for key, schema in _schemas().items():
        if key in ("sqlite", "postgresql"):
            for name in schema["properties"]:
                assert f"`{name}`" in text, f"{key} setting {name} is not documented"
