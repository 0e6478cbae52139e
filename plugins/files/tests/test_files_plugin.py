"""The files plugin as the kernel sees it: its entry point, one oracle per files section."""

from __future__ import annotations

from pathlib import Path

from snapkit.config import config_from_data
from snapkit.manager import PluginManager, PluginSelection
from snapkit.testing import assert_plugin_installed


def manager_for(data: dict[str, object], root: Path) -> PluginManager:
    config = config_from_data(data, None, root)
    manager = PluginManager(PluginSelection(enabled=("files",)), config)
    manager.load_entry_points()
    return manager


def test_the_distribution_installs_its_plugin() -> None:
    assert_plugin_installed("files")


def test_each_files_section_registers_one_oracle(tmp_path: Path) -> None:
    manager = manager_for(
        {
            "oracles": {
                "users": {"kind": "files", "path": "users.jsonl", "key_column": "id"},
                "cfg": {"kind": "files", "path": "cfg.json"},
                "other": {"kind": "something-else"},
            }
        },
        tmp_path,
    )
    oracles = {d.key: d for d in manager.oracles}
    assert set(oracles) == {"users", "cfg"}
    assert oracles["users"].records and oracles["users"].key_column == "id"
    assert not oracles["cfg"].records


def test_a_schema_file_that_is_missing_is_reported_against_the_plugin(tmp_path: Path) -> None:
    manager = manager_for(
        {
            "oracles": {
                "cfg": {"kind": "files", "path": "cfg.json", "schema": "missing.schema.json"}
            }
        },
        tmp_path,
    )
    list(manager.oracles)
    messages = [p.message for p in manager.problems if p.plugin == "files"]
    assert any("oracles.cfg.schema" in m and "does not exist" in m for m in messages), messages
