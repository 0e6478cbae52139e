"""The pytest plugin of the testing kit (entry point ``pytest11``: ``snapkit``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from snapkit.manager import PluginManager, PluginSelection
from snapkit.testing.recorder import HookRecorder


@pytest.fixture
def snapkit_manager() -> PluginManager:
    """A fresh plugin manager with entry-point autoload off: only what a test registers."""
    return PluginManager(PluginSelection(autoload=False))


@pytest.fixture
def register_plugin(snapkit_manager: PluginManager) -> Iterator[Callable[..., str]]:
    """Register a plugin object on ``snapkit_manager`` for this test only; returns its name."""
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        name = name or getattr(plugin, "__name__", None) or f"plugin-{len(names)}"
        if not snapkit_manager.register(plugin, name=name):
            record = next(r for r in snapkit_manager.records if r.name == name)
            raise AssertionError(f"plugin {name!r} did not register: {record.error}")
        names.append(name)
        return name

    yield register
    for name in names:
        snapkit_manager.unregister(name)


@pytest.fixture
def hook_recorder(snapkit_manager: PluginManager) -> Iterator[HookRecorder]:
    """Records every hook call made through ``snapkit_manager`` during the test."""
    recorder = HookRecorder(snapkit_manager)
    yield recorder
    recorder.close()
