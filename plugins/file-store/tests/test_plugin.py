"""The distribution registers the ``file`` store through its entry point."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest

from snapkit.descriptors import StoreDescriptor
from snapkit.store import SnapshotStore
from snapkit_file_store import FileStore, plugin


def _registered() -> list[StoreDescriptor]:
    found: list[StoreDescriptor] = []
    plugin.snapkit_register_stores(found.append)
    return found


def test_entry_point_in_the_snapkit_group_names_the_plugin_module() -> None:
    (ep,) = [ep for ep in entry_points(group="snapkit") if ep.name == "file-store"]
    assert ep.load() is plugin


def test_plugin_registers_the_file_store_descriptor() -> None:
    (descriptor,) = _registered()
    assert descriptor.kind == "store"
    assert descriptor.key == "file"
    jsonschema.Draft202012Validator.check_schema(descriptor.settings_schema)


def test_factory_builds_a_store_from_valid_settings(tmp_path: Path) -> None:
    (descriptor,) = _registered()
    settings = {"path": str(tmp_path / "s"), "compression_level": 9, "lock_timeout": 5}
    jsonschema.validate(settings, descriptor.settings_schema)
    store = descriptor.factory(settings)
    assert isinstance(store, FileStore)
    assert isinstance(store, SnapshotStore)
    assert store.compression_level == 9
    assert store.location == str(tmp_path / "s")
    assert not (tmp_path / "s").exists()  # created by the first write, not by opening


@pytest.mark.parametrize(
    "settings",
    [{}, {"path": ""}, {"path": "x", "compression_level": 0}, {"path": "x", "colour": "red"}],
)
def test_settings_schema_refuses_bad_settings(settings: dict[str, object]) -> None:
    (descriptor,) = _registered()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(settings, descriptor.settings_schema)
